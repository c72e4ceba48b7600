"""Plot a ``bench_tables.py`` result, and print it as the docs' reStructuredText table.

The plot has two panels, one row per table: each model's median score (R2 or
accuracy) minus HistGradientBoosting's, and its median fit time divided by
HistGradientBoosting's on the same splits (log scale; ``--cpu``: CPU seconds, the
fairer figure on a machine that other work keeps busy). ``--rst`` prints the median
scores (tables by models; ``--transpose``: models by tables) and the suite's
summary rows.

Usage::

    python benchmarks/plot_tables.py benchmarks/results/tables.json tables.png --rst
    python benchmarks/plot_tables.py tables.json tables.png --cpu --models tabular hgb
    python benchmarks/plot_tables.py ablation.json ablation.png --cpu --rst --transpose
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def plot(
    summary: dict, path: Path, time: str = "fit", models: list[str] | None = None
) -> None:
    """Two panels: each model's median score minus HistGradientBoosting's per table,
    and its median ``time`` (``"fit"`` or ``"fit_cpu"``) over HistGradientBoosting's;
    ``models``: these models, in this order (default: all)."""
    names = list(summary["tables"])
    keys = models or list(summary["models"])
    fig, (left, right) = plt.subplots(
        1, 2, figsize=(11, 0.45 * len(names) + 1.8), sharey=True
    )
    for i, key in enumerate(keys):
        ys, gaps, fits = [], [], []
        for j, name in enumerate(names):
            t = summary["tables"][name]
            if key not in t["models"] or "hgb" not in t["models"]:
                continue
            m, base = t["models"][key], t["models"]["hgb"]
            ys.append(j + (i - (len(keys) - 1) / 2) * 0.1)
            gaps.append(m[t["primary"]]["median"] - base[t["primary"]]["median"])
            ratio = m[f"{time}_vs_hgb"]
            fits.append(ratio["median"] if ratio else np.nan)
        left.plot(gaps, ys, "o", label=key)
        right.plot(fits, ys, "o", label=key)
    labels = [f"{n} ({summary['tables'][n]['primary']})" for n in names]
    left.set_yticks(range(len(names)), labels)
    left.axvline(0, color="grey", lw=0.8)
    left.set_xlabel("median score - HistGradientBoosting's")
    right.axvline(1, color="grey", lw=0.8)
    right.set_xscale("log")
    kind = "CPU time" if time == "fit_cpu" else "time"
    right.set_xlabel(f"median fit {kind} / HistGradientBoosting's")
    left.invert_yaxis()
    fig.legend(
        *left.get_legend_handles_labels(),
        loc="lower center",
        ncol=len(keys),
        fontsize="small",
        frameon=False,
    )
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    fig.savefig(path, dpi=110)
    plt.close(fig)


def rst(
    summary: dict,
    time: str = "fit",
    models: list[str] | None = None,
    transpose: bool = False,
) -> str:
    """Median scores, tables by models, then the suite's rows, as a simple RST table;
    ``models``: these columns, in this order (default: all); ``transpose``: one row
    per model instead, without the best-on and sknn-mlp counts (for an ablation).
    The sknn-mlp count is left out where it did not run, and a model's mean score
    where it ran on fewer tables than the others (its mean would not compare)."""
    keys = models or list(summary["models"])
    rows = [["table (score)", *keys]]
    for name, t in summary["tables"].items():
        cells = [t["models"].get(k, {}).get(t["primary"]) for k in keys]
        rows.append(
            [f"{name} ({t['primary']})"]
            + ["" if c is None else f"{c['median']:.4f}" for c in cells]
        )
    suite = [summary["models"][k] for k in keys]
    everywhere = max(s["tables"] for s in suite)
    rows += [
        [
            "mean score",
            *(f"{s['mean_score']:.4f}" * (s["tables"] == everywhere) for s in suite),
        ],
        ["best on (tables)", *(str(len(s["best_on"])) for s in suite)],
        ["beats hgb on", *(str(len(s["beats_baseline_on"])) for s in suite)],
        ["below sknn-mlp on", *(str(len(s["below_floor_on"])) for s in suite)],
    ]
    if transpose:  # an ablation: which variant is best, and the floor, say little
        del rows[-3], rows[-1]
    elif "sknn-mlp" not in summary["models"]:
        del rows[-1]
    fits = [s[f"median_{time}_vs_baseline"] for s in suite]
    rows.append([f"median {time} / hgb", *(f"{f:.2g}" for f in fits)])
    if transpose:
        rows = [["model", *(r[0] for r in rows[1:])]] + [
            [k, *(r[i] for r in rows[1:])] for i, k in enumerate(keys, 1)
        ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    rule = "  ".join("=" * w for w in widths)
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows]
    return "\n".join([rule, lines[0], rule, *lines[1:], rule])


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="a bench_tables.py result")
    parser.add_argument("png", type=Path)
    parser.add_argument("--cpu", action="store_true", help="CPU, not wall, seconds")
    parser.add_argument("--rst", action="store_true", help="print the RST table")
    parser.add_argument("--models", nargs="+", help="these models, in this order")
    parser.add_argument("--transpose", action="store_true", help="a row per model")
    args = parser.parse_args()
    summary = json.loads(args.json.read_text())["summary"]
    time = "fit_cpu" if args.cpu else "fit"
    plot(summary, args.png, time, args.models)
    print(f"wrote {args.png}")
    if args.rst:
        print(rst(summary, time, args.models, args.transpose))
