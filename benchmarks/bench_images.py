"""CNN accuracy and training time on real images: digits (8x8) and Fashion-MNIST.

Official splits: Fashion-MNIST's 60,000 / 10,000; digits uses a stratified, seeded
75 / 25 split. Prints a table and writes ``benchmarks/results/images.json``.

Usage::

    python benchmarks/bench_images.py                  # digits + full Fashion-MNIST
    python benchmarks/bench_images.py --train-size 10000 --epochs 5   # quicker
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SkMLP

from sknn import CNNClassifier
from sknn.callbacks import LRScheduler
from sknn.datasets import load_fashion_mnist

RESULTS = Path(__file__).parent / "results"


def timed_fit(est, X, y):
    start = time.perf_counter()
    est.fit(X, y)
    return time.perf_counter() - start


def bench_digits(device: str) -> list[dict]:
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).reshape(-1, 8, 8)
    Xtr, Xte, ytr, yte = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    rows = []
    cnn = CNNClassifier(random_state=0, device=device)
    fit_s = timed_fit(cnn, Xtr, ytr)
    rows.append(
        dict(
            data="digits 8x8",
            model="sknn CNNClassifier (defaults)",
            epochs=cnn.n_iter_,
            accuracy=cnn.score(Xte, yte),
            fit_s=fit_s,
        )
    )
    mlp = SkMLP(max_iter=300, random_state=0)
    fit_s = timed_fit(mlp, Xtr.reshape(len(Xtr), -1), ytr)
    rows.append(
        dict(
            data="digits 8x8",
            model="sklearn MLPClassifier (defaults)",
            epochs=mlp.n_iter_,
            accuracy=mlp.score(Xte.reshape(len(Xte), -1), yte),
            fit_s=fit_s,
        )
    )
    return rows


def bench_fashion(
    train_size: int | None, epochs: int, configs: list[str], device: str
) -> list[dict]:
    Xtr, Xte, ytr, yte = load_fashion_mnist(return_X_y=True)
    if train_size:
        Xtr, _, ytr, _ = train_test_split(
            Xtr, ytr, train_size=train_size, stratify=ytr, random_state=0
        )
    presets = {
        "defaults": {},
        # The defaults plus a cosine learning-rate decay over the epochs of the fit.
        "cosine": dict(callbacks=[LRScheduler("CosineAnnealingLR")]),
    }
    rows = []
    for name in configs:
        cnn = CNNClassifier(
            max_iter=epochs, random_state=0, device=device, **presets[name]
        )
        fit_s = timed_fit(
            cnn, Xtr, ytr
        )  # uint8 images, scaled to [0, 1] by the estimator
        rows.append(
            dict(
                data=f"Fashion-MNIST ({len(Xtr)} train, 10000 test)",
                model=f"sknn CNNClassifier ({name}, {epochs} epochs)",
                epochs=cnn.n_iter_,
                accuracy=cnn.score(Xte, yte),
                fit_s=fit_s,
                params={k: repr(v) for k, v in presets[name].items()},
            )
        )
    # Published baselines (Fashion-MNIST benchmark, official split), not re-run here.
    rows.append(
        dict(
            data="Fashion-MNIST (60000 train, 10000 test)",
            model="sklearn MLPClassifier (published)",
            accuracy=0.870,
        )
    )
    rows.append(
        dict(
            data="Fashion-MNIST (60000 train, 10000 test)",
            model="sklearn SVC (published)",
            accuracy=0.897,
        )
    )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--train-size",
        type=int,
        default=None,
        help="stratified subset of the Fashion-MNIST training set",
    )
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--configs", nargs="+", default=["defaults", "cosine"])
    parser.add_argument("--skip-digits", action="store_true")
    parser.add_argument("--device", default="cpu", help='"cpu", "cuda", "cuda:N"')
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = [] if args.skip_digits else bench_digits(args.device)
    rows += bench_fashion(args.train_size, args.epochs, args.configs, args.device)
    print(f"{'data':42s} {'model':48s} {'epochs':>6s} {'accuracy':>8s} {'fit (s)':>8s}")
    for r in rows:
        fit = f"{r['fit_s']:8.1f}" if "fit_s" in r else f"{'-':>8s}"
        print(
            f"{r['data']:42s} {r['model']:48s} {r.get('epochs', '-')!s:>6s} "
            f"{r['accuracy']:8.4f} {fit}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = dict(
        rows=rows,
        torch=torch.__version__,
        threads=args.threads,
        device=args.device,
        machine=platform.machine(),
        processor=platform.processor(),
    )
    (RESULTS / "images.json").write_text(json.dumps(out, indent=2, default=float))
    print(f"wrote {RESULTS / 'images.json'}")


if __name__ == "__main__":
    main()
