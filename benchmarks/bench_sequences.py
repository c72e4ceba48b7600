"""RNN and CNN accuracy and training time on UCR / UEA time series (official splits).

JapaneseVowels (ragged: 7-26 steps in training, 7-29 in test, 12 channels, 9 classes)
is fed as a list of ``(T_i, 12)`` arrays; GunPoint and ItalyPowerDemand as
``(n, T, 1)`` arrays for the RNN and ``(n, 1, T)`` signals for the CNN. Data come
from sktime's bundled copies (nothing is downloaded). Each model runs with several
seeds; the table shows the median accuracy and median fit time. Writes
``benchmarks/results/sequences.json``.

Usage::

    python benchmarks/bench_sequences.py [--seeds 0 1 2] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from sktime.datasets import load_UCR_UEA_dataset

from sknn import CNNClassifier, RNNClassifier

RESULTS = Path(__file__).parent / "results"
PUBLISHED = {  # test accuracy reported for the UCR / UEA archives' reference models
    "JapaneseVowels": "FCN 0.993, MLP 0.976",
}


def load(name: str, split: str, ragged: bool):
    if ragged:
        X, y = load_UCR_UEA_dataset(
            name, split=split, return_X_y=True, return_type="nested_univ"
        )
        return [np.stack([c.to_numpy() for c in row], axis=1) for row in X.values], y
    X, y = load_UCR_UEA_dataset(
        name, split=split, return_X_y=True, return_type="numpy3D"
    )
    return X, y  # (n, channels, time)


def models(name: str):
    """(label, factory(seed), layout) for each model run on ``name``."""
    if name == "JapaneseVowels":
        return [
            (
                "RNNClassifier (defaults)",
                lambda s: RNNClassifier(random_state=s),
                "ragged",
            ),
            (
                "RNNClassifier (pooling=max)",
                lambda s: RNNClassifier(pooling="max", random_state=s),
                "ragged",
            ),
        ]
    return [
        ("RNNClassifier (defaults)", lambda s: RNNClassifier(random_state=s), "ntf"),
        (
            "RNNClassifier (lr=0.001)",
            lambda s: RNNClassifier(learning_rate_init=0.001, random_state=s),
            "ntf",
        ),
        (
            "RNNClassifier (pooling=max)",
            lambda s: RNNClassifier(pooling="max", random_state=s),
            "ntf",
        ),
        ("CNNClassifier (defaults)", lambda s: CNNClassifier(random_state=s), "nct"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument(
        "--datasets",
        nargs="+",
        default=["JapaneseVowels", "GunPoint", "ItalyPowerDemand"],
    )
    parser.add_argument("--out", default="sequences.json", help="file in results/")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = []
    for name in args.datasets:
        ragged = name == "JapaneseVowels"
        Xtr, ytr = load(name, "train", ragged)
        Xte, yte = load(name, "test", ragged)
        for label, make, layout in models(name):
            if layout == "ntf":  # sktime's (n, C, T) -> batch-first (n, T, C)
                tr, te = Xtr.transpose(0, 2, 1), Xte.transpose(0, 2, 1)
            else:
                tr, te = Xtr, Xte
            accs, times = [], []
            for seed in args.seeds:
                est = make(seed)
                if layout == "nct":
                    est.set_params(input_shape=tr.shape[1:])
                est.set_params(device="cpu")
                start = time.perf_counter()
                est.fit(tr, ytr)
                times.append(time.perf_counter() - start)
                accs.append(float(est.score(te, yte)))
            rows.append(
                dict(
                    data=name,
                    n_train=len(ytr),
                    n_test=len(yte),
                    model=label,
                    accuracy_median=statistics.median(accs),
                    accuracies=accs,
                    fit_s_median=statistics.median(times),
                    fit_s=times,
                    published=PUBLISHED.get(name, ""),
                )
            )
    print(f"{'data':18s} {'model':28s} {'accuracy':>8s} {'fit (s)':>8s}  published")
    for r in rows:
        print(
            f"{r['data']:18s} {r['model']:28s} {r['accuracy_median']:8.4f} "
            f"{r['fit_s_median']:8.1f}  {r['published']}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = dict(
        rows=rows,
        seeds=args.seeds,
        threads=args.threads,
        torch=torch.__version__,
        machine=platform.machine(),
    )
    (RESULTS / args.out).write_text(json.dumps(out, indent=2))
    print(f"wrote {RESULTS / args.out}")


if __name__ == "__main__":
    main()
