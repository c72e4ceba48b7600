"""Fit the same MLP with sknn, scikit-learn, skorch and a hand-written torch loop.

The network: 2 hidden layers of 128 ReLU units, Adam (lr 1e-3), batch 64, 10 epochs
(convergence checks off so that every library runs all 10), on Fashion-MNIST (a
``--n-train`` subset of the official training set, scored on the official test set)
or, when its files are absent, on scikit-learn's digits.

The hand-written loop runs twice: with ``torch.optim.Adam``'s defaults (what a user
writes) and with ``Adam(fused=True)`` (the kernel sknn picks), so that the cost of
sknn's engine over a minimal loop shows apart from the optimiser step.

Every library is fitted once per round, in turn (interleaved, so that a busy machine
slows all alike). Prints a table of median fit times over ``--repeats`` rounds, each
library's ratio to scikit-learn and to sknn, and test accuracy; writes the same as
JSON.

Run::

    python benchmarks/bench_mlp.py --repeats 5
    python benchmarks/bench_mlp.py --repeats 3 --threads 1   # on a busy machine
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
import warnings

import numpy as np
import torch
from _report import write_report
from sklearn.exceptions import ConvergenceWarning

HIDDEN = (128, 128)
EPOCHS = 10
BATCH = 64
LR = 1e-3


def load_data(n_train: int, seed: int = 0):
    """Fashion-MNIST subset (scaled to [0, 1]) when installed, else digits."""
    try:
        from sknn.datasets import load_fashion_mnist

        X_tr, X_te, y_tr, y_te = load_fashion_mnist(return_X_y=True)
        name = "Fashion-MNIST"
    except (ImportError, OSError, FileNotFoundError):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        X, y = load_digits(return_X_y=True)
        X_tr, X_te, y_tr, y_te = train_test_split(X, y, random_state=seed)
        name = "digits"
    rng = np.random.RandomState(seed)
    idx = rng.permutation(len(X_tr))[:n_train]
    flat = lambda a: np.asarray(a, dtype=np.float32).reshape(len(a), -1) / a.max()  # noqa: E731
    return name, flat(X_tr[idx]), y_tr[idx], flat(X_te), y_te


DEVICE = "cpu"


def _sync() -> None:
    if DEVICE.startswith("cuda"):
        torch.cuda.synchronize()


def fit_sklearn(X, y, seed):
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        HIDDEN, batch_size=BATCH, learning_rate_init=LR, max_iter=EPOCHS,
        n_iter_no_change=EPOCHS + 1, tol=0.0, random_state=seed,
    ).fit(X, y)  # fmt: skip


def fit_sknn(X, y, seed):
    from sknn import MLPClassifier

    return MLPClassifier(
        HIDDEN, batch_size=BATCH, learning_rate_init=LR, max_iter=EPOCHS,
        n_iter_no_change=EPOCHS + 1, tol=0.0, random_state=seed, device=DEVICE,
    ).fit(X, y)  # fmt: skip


def fit_skorch(X, y, seed):
    from skorch import NeuralNetClassifier

    from sknn.modules import MLP

    torch.manual_seed(seed)
    net = NeuralNetClassifier(
        MLP,
        module__n_features_in=X.shape[1],
        module__n_outputs=int(y.max()) + 1,
        module__hidden_layer_sizes=HIDDEN,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=LR,
        max_epochs=EPOCHS,
        batch_size=BATCH,
        iterator_train__shuffle=True,
        train_split=None,
        verbose=0,
        device=DEVICE,
    )
    return net.fit(X, y.astype(np.int64))


class _TorchNet:
    """The network of :func:`fit_torch_loop`, with a ``predict`` for the table."""

    def __init__(self, net, classes, device):
        self.net, self.classes, self.device = net, classes, device

    @torch.inference_mode()
    def predict(self, X):
        out = self.net(torch.as_tensor(X, dtype=torch.float32, device=self.device))
        return self.classes[out.argmax(1).cpu().numpy()]


def fit_torch_loop(X, y, seed, fused=False):
    """A hand-written PyTorch loop, as a user writes it without a framework: the
    same module, ``torch.optim.Adam`` with its defaults (``fused=True``: its fused
    kernel), the data converted to tensors on the device once, shuffled index slices
    as batches (no DataLoader)."""
    from sknn.modules import MLP

    torch.manual_seed(seed)
    device = torch.device(DEVICE)
    classes = np.unique(y)
    Xt = torch.as_tensor(X, dtype=torch.float32, device=device)
    yt = torch.as_tensor(np.searchsorted(classes, y), device=device)
    net = MLP(X.shape[1], len(classes), hidden_layer_sizes=HIDDEN).to(device)
    opt = torch.optim.Adam(
        net.parameters(), lr=LR, **({"fused": True} if fused else {})
    )
    loss_fn = torch.nn.CrossEntropyLoss()
    n = len(Xt)
    for _ in range(EPOCHS):
        perm = torch.randperm(n, device=device)
        for start in range(0, n, BATCH):
            idx = perm[start : start + BATCH]
            opt.zero_grad(set_to_none=True)
            loss_fn(net(Xt[idx]), yt[idx]).backward()
            opt.step()
    return _TorchNet(net.eval(), classes, device)


def fit_torch_loop_fused(X, y, seed):
    """:func:`fit_torch_loop` with ``Adam(fused=True)``."""
    return fit_torch_loop(X, y, seed, fused=True)


def time_fits(contenders, X, y, X_te, y_te, repeats):
    """Fit every contender once per round (seed = round), ``repeats`` rounds."""
    times = {lib: [] for lib in contenders}
    accs = {lib: [] for lib in contenders}
    for r in range(repeats):
        for lib, fit in contenders.items():
            tic = time.perf_counter()
            model = fit(X, y, r)
            _sync()
            times[lib].append(time.perf_counter() - tic)
            accs[lib].append(float(np.mean(model.predict(X_te) == y_te)))
    return times, accs


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--out", default="benchmarks/results/bench_mlp.json")
    parser.add_argument(
        "--device", default="cpu", help='sknn and skorch on "cpu" or "cuda"'
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="pin torch and BLAS threads for every library (default: their own)",
    )
    args = parser.parse_args(argv)
    global DEVICE
    DEVICE = args.device
    if args.threads is not None:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)

    name, X, y, X_te, y_te = load_data(args.n_train)
    contenders = {
        "sklearn": fit_sklearn,
        "sknn": fit_sknn,
        "torch loop": fit_torch_loop,
        "torch fused": fit_torch_loop_fused,
    }
    try:
        import skorch  # noqa: F401

        contenders["skorch"] = fit_skorch
    except ImportError:
        print("skorch is not installed: skipping it (pip install skorch)")

    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fit_sknn(X[:256], y[:256], 0)  # warm-up: torch's first-call costs
        times, accs = time_fits(contenders, X, y, X_te, y_te, args.repeats)
    for lib in contenders:
        results[lib] = {
            "median_s": statistics.median(times[lib]),
            "times_s": times[lib],
            "accuracy": statistics.median(accs[lib]),
        }
    base = results["sklearn"]["median_s"]
    for r in results.values():
        r["ratio_to_sklearn"] = r["median_s"] / base
        r["ratio_to_sknn"] = r["median_s"] / results["sknn"]["median_s"]
    if "skorch" in results:
        results["sknn"]["speedup_vs_skorch"] = (
            results["skorch"]["median_s"] / results["sknn"]["median_s"]
        )

    print(
        f"\n{name}: {len(X)} training rows x {X.shape[1]} features, "
        f"MLP {HIDDEN} relu, adam, batch {BATCH}, {EPOCHS} epochs, "
        f"torch threads {torch.get_num_threads()}, device {DEVICE} (sklearn: CPU), "
        f"median of {args.repeats} interleaved rounds"
    )
    print(
        f"{'library':<12}{'median fit (s)':>16}{'vs sklearn':>12}{'vs sknn':>10}"
        f"{'test acc':>10}"
    )
    for lib, r in results.items():
        print(
            f"{lib:<12}{r['median_s']:>16.2f}{r['ratio_to_sklearn']:>12.2f}"
            f"{r['ratio_to_sknn']:>10.2f}{r['accuracy']:>10.3f}"
        )
    if "skorch" in results:
        print(f"sknn is {results['sknn']['speedup_vs_skorch']:.2f}x faster than skorch")
    report = {
        "data": name,
        "n_train": len(X),
        "network": {"hidden": HIDDEN, "batch_size": BATCH, "epochs": EPOCHS, "lr": LR},
        "torch_threads": torch.get_num_threads(),
        "pinned_threads": args.threads,
        "load_average": os.getloadavg(),
        "device": DEVICE,
        "repeats": args.repeats,
        "results": results,
    }
    return write_report(report, args.out)


if __name__ == "__main__":
    main()
