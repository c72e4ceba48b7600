"""Training-time augmentation on Fashion-MNIST: the default CNN with and without it.

Official test set (10,000 images); the training set is the official 60,000 or a
stratified, seeded subset of it. Both networks get the same epoch budget
(``max_iter``) and seed; the augmented one sees each training batch randomly
cropped after a padding of 2 pixels (a shift of up to 2) and flipped left-right
with probability 0.5. Prints a table and writes ``benchmarks/results/augment.json``.

Usage::

    python benchmarks/bench_augment.py                                 # 60,000, 10 epochs
    python benchmarks/bench_augment.py --train-size 10000 --epochs 10  # a few minutes
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import torch
from sklearn.model_selection import train_test_split

from sknn import CNNClassifier
from sknn.data import Compose, RandomCrop, RandomFlip
from sknn.datasets import load_fashion_mnist

RESULTS = Path(__file__).parent / "results"


def configs(padding: int) -> dict:
    return {
        "none": None,
        f"crop (padding {padding}) + horizontal flip": Compose(
            [RandomCrop(padding=padding), RandomFlip(axis=-1, p=0.5)]
        ),
    }


def bench(
    train_size: int | None, epochs: int, padding: int, device: str, seeds: list[int]
) -> list[dict]:
    Xtr, Xte, ytr, yte = load_fashion_mnist(return_X_y=True)
    if train_size:
        Xtr, _, ytr, _ = train_test_split(
            Xtr, ytr, train_size=train_size, stratify=ytr, random_state=0
        )
    rows = []
    for name, augment in configs(padding).items():
        for seed in seeds:
            cnn = CNNClassifier(
                max_iter=epochs, random_state=seed, device=device, augment=augment
            )
            start = time.perf_counter()
            cnn.fit(Xtr, ytr)  # uint8 images, scaled to [0, 1] by the estimator
            fit_s = time.perf_counter() - start
            rows.append(
                dict(
                    data=f"Fashion-MNIST ({len(Xtr)} train, {len(Xte)} test)",
                    augment=name,
                    seed=seed,
                    epochs=cnn.n_iter_,
                    train_accuracy=cnn.score(Xtr, ytr),
                    accuracy=cnn.score(Xte, yte),
                    fit_s=fit_s,
                    params=repr(augment),
                )
            )
            r = rows[-1]
            print(
                f"  {name:36s} seed {seed}: test {r['accuracy']:.4f}, "
                f"train {r['train_accuracy']:.4f}, {fit_s:.1f} s",
                flush=True,
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
    parser.add_argument("--padding", type=int, default=2)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu", help='"cpu", "cuda", "cuda:N"')
    parser.add_argument("--out", default="augment.json", help="file in results/")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    rows = bench(args.train_size, args.epochs, args.padding, args.device, args.seeds)
    print(
        f"{'data':38s} {'augment':36s} {'seed':>4s} {'epochs':>6s} {'train':>7s} "
        f"{'test':>7s} {'fit (s)':>8s}"
    )
    for r in rows:
        print(
            f"{r['data']:38s} {r['augment']:36s} {r['seed']:4d} {r['epochs']:6d} "
            f"{r['train_accuracy']:7.4f} {r['accuracy']:7.4f} {r['fit_s']:8.1f}"
        )
    RESULTS.mkdir(exist_ok=True)
    out = dict(
        rows=rows,
        torch=torch.__version__,
        threads=args.threads,
        device=args.device,
        machine=platform.machine(),
        processor=platform.processor(),
        command="python benchmarks/bench_augment.py "
        + " ".join(
            f"--{k.replace('_', '-')} {' '.join(map(str, v)) if isinstance(v, list) else v}"
            for k, v in vars(args).items()
            if v is not None
        ),
    )
    (RESULTS / args.out).write_text(json.dumps(out, indent=2, default=float))
    print(f"wrote {RESULTS / args.out}")


if __name__ == "__main__":
    main()
