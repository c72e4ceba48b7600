"""Plot a ``bench_tables.py`` result: scores and fit times relative to boosting.

Two panels, one row per table: each model's median score (R2 or accuracy) minus
HistGradientBoosting's, and its median fit time divided by HistGradientBoosting's on
the same splits (log scale).

Usage::

    python benchmarks/plot_tables.py benchmarks/results/tables.json tables.png
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np


def plot(summary: dict, path: Path) -> None:
    """Two panels: each model's median score minus HistGradientBoosting's per table,
    and its median fit time over HistGradientBoosting's (log scale)."""
    names = list(summary["tables"])
    keys = list(summary["models"])
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
            fits.append(m["fit_vs_hgb"]["median"] if m["fit_vs_hgb"] else np.nan)
        left.plot(gaps, ys, "o", label=key)
        right.plot(fits, ys, "o", label=key)
    labels = [f"{n} ({summary['tables'][n]['primary']})" for n in names]
    left.set_yticks(range(len(names)), labels)
    left.axvline(0, color="grey", lw=0.8)
    left.set_xlabel("median score - HistGradientBoosting's")
    right.axvline(1, color="grey", lw=0.8)
    right.set_xscale("log")
    right.set_xlabel("median fit time / HistGradientBoosting's")
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


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("json", type=Path, help="a bench_tables.py result")
    parser.add_argument("png", type=Path)
    args = parser.parse_args()
    plot(json.loads(args.json.read_text())["summary"], args.png)
    print(f"wrote {args.png}")
