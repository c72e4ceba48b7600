"""The learning-rate range test: train briefly with a growing rate, plot the loss.

:func:`find_lr` trains a clone of an estimator for ``num_steps`` mini-batches while the
learning rate grows exponentially from ``min_lr`` to ``max_lr``, records the loss of
each batch, and suggests the rate where the (smoothed) loss falls fastest (Smith,
"Cyclical Learning Rates for Training Neural Networks", 2017). The estimator passed in
is never changed. The result is a Display in scikit-learn's style; matplotlib is
needed only to draw it.
"""

from __future__ import annotations

import math
import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state

from sknn.callbacks.base import Callback
from sknn.training.optim import LRSchedule
from sknn.utils._compat import _safe_indexing

__all__ = ["LRFinderDisplay", "find_lr"]


class _RangeTest(Callback):
    """Grow the rate after every batch, record the batch losses, stop when done."""

    def __init__(self, min_lr, max_lr, num_steps, smoothing, diverge_factor):
        self.min_lr = min_lr
        self.max_lr = max_lr
        self.num_steps = num_steps
        self.smoothing = smoothing
        self.diverge_factor = diverge_factor

    def on_train_begin(self, trainer) -> None:
        self.lrs_, self.losses_ = [], []
        self.diverged_ = False
        self._avg, self._best, self._done = 0.0, math.inf, False
        self._setter = LRSchedule("constant", self.min_lr)
        self._setter.set_lr(trainer.optimizer, self.min_lr)

    def _lr(self, step: int) -> float:
        frac = step / (self.num_steps - 1)
        return self.min_lr * (self.max_lr / self.min_lr) ** frac

    def on_batch_end(self, trainer, loss) -> None:
        if self._done:
            return
        step = len(self.lrs_)
        value = float(loss)
        self.lrs_.append(self._lr(step))
        self.losses_.append(value)
        beta = self.smoothing
        self._avg = beta * self._avg + (1 - beta) * value
        smooth = self._avg / (1 - beta ** (step + 1))
        if math.isfinite(smooth):
            self._best = min(self._best, smooth)
        diverged = (
            not math.isfinite(smooth) or smooth > self.diverge_factor * self._best
        )
        if diverged or step + 1 >= self.num_steps:
            self._done, self.diverged_ = True, diverged
            trainer.stop_training = True
            # The rest of this epoch changes nothing.
            self._setter.set_lr(trainer.optimizer, 0.0)
        else:
            self._setter.set_lr(trainer.optimizer, self._lr(step + 1))


def _ema(values: np.ndarray, beta: float) -> np.ndarray:
    """Exponential moving average with bias correction."""
    out, avg = np.empty_like(values), 0.0
    for i, v in enumerate(values):
        avg = beta * avg + (1 - beta) * v
        out[i] = avg / (1 - beta ** (i + 1))
    return out


def _smooth(losses: np.ndarray, beta: float) -> np.ndarray:
    """Zero-phase smoothing: the moving average run forwards and backwards, then
    averaged, so the curve's features sit at the rates that caused them (a one-way
    average lags behind). Losses above the starting level are clipped to it first,
    so a blow-up at the end cannot leak backwards into the valley before it."""
    head = losses[: max(1, len(losses) // 10)]
    clipped = np.minimum(losses, np.median(head))
    # A running median first: one lucky batch amid unstable ones is no valley.
    k = max(2, len(losses) // 25)
    padded = np.pad(clipped, k, mode="edge")
    windows = np.lib.stride_tricks.sliding_window_view(padded, 2 * k + 1)
    median = np.median(windows, axis=1)
    return (_ema(median, beta) + _ema(median[::-1], beta)[::-1]) / 2


def _steepest(lrs: np.ndarray, smoothed: np.ndarray) -> float:
    """The rate where the smoothed loss falls fastest per decade of rate, after the
    first tenth of the range and before the loss's minimum; a tenth of the rate at
    the minimum when the loss never falls."""
    if len(lrs) == 0:
        raise ValueError("The range test recorded no finite loss.")
    stop, skip = int(np.argmin(smoothed)), len(lrs) // 10
    if stop <= skip + 1:
        return float(lrs[stop] / 10)
    slope = np.gradient(smoothed[: stop + 1], np.log10(lrs[: stop + 1]))
    return float(lrs[skip + int(np.argmin(slope[skip:]))])


def _check(name, value, kind, low, high=None) -> None:
    ok = isinstance(value, kind) and not isinstance(value, bool)
    if ok:
        ok = value > low and (high is None or value < high)
    if not ok:
        bound = f"> {low}" + ("" if high is None else f" and < {high}")
        raise ValueError(f"{name} must be a number {bound}; got {value!r}.")


def find_lr(
    estimator,
    X,
    y,
    *,
    min_lr: float = 1e-7,
    max_lr: float = 10.0,
    num_steps: int = 100,
    smoothing: float = 0.9,
    diverge_factor: float = 4.0,
) -> LRFinderDisplay:
    """Run a learning-rate range test on a clone of ``estimator``.

    The clone trains from scratch on ``X, y`` (a random subset of
    ``num_steps * batch_size`` rows when there are more) for ``num_steps``
    mini-batches, with the learning rate growing exponentially from ``min_lr`` to
    ``max_lr``, and stops early once the smoothed loss exceeds ``diverge_factor``
    times its minimum. ``estimator`` itself is not changed, fitted or not; its other
    parameters (solver, batch size, architecture, ``random_state``) are used as they
    are, and its callbacks and early stopping are left out.

    Parameters
    ----------
    estimator : sknn estimator
        The configuration to test; any solver but ``"lbfgs"``.
    X, y : array-like
        Training data, as ``fit`` takes it.
    min_lr, max_lr : float, default=1e-7, 10.0
        The range of rates tested.
    num_steps : int, default=100
        Mini-batches (rates) tested.
    smoothing : float, default=0.9
        Factor of the exponential moving average of the batch losses (with bias
        correction), in ``[0, 1)``; ``0`` is no smoothing. The divergence test uses
        the one-way average; the curve drawn and the suggestion use it forwards and
        backwards (no lag), with losses above the starting level clipped to it.
    diverge_factor : float, default=4.0
        Stop when the smoothed loss exceeds this multiple of its minimum.

    Returns
    -------
    LRFinderDisplay
        The rates, losses and suggestion; call :meth:`~LRFinderDisplay.plot` to draw.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sknn import MLPClassifier
    >>> from sknn.lr_finder import find_lr
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = MLPClassifier((64,), batch_size=32, random_state=0)
    >>> finder = find_lr(clf, X / 16, y, num_steps=60)
    >>> len(finder.lrs_) == len(finder.losses_) <= 60
    True
    >>> 1e-5 < finder.suggestion_ < 1.0
    True
    >>> hasattr(clf, "module_")  # the estimator itself is untouched
    False
    """
    from sknn.base import BaseNeuralNet

    if not isinstance(estimator, BaseNeuralNet):
        raise TypeError(
            f"find_lr tests sknn estimators; got {type(estimator).__name__}."
        )
    if estimator.solver == "lbfgs":
        raise ValueError(
            "find_lr needs a stochastic solver (mini-batches with a learning rate); "
            "solver='lbfgs' has neither."
        )
    _check("min_lr", min_lr, Real, 0)
    _check("max_lr", max_lr, Real, min_lr)
    _check("num_steps", num_steps, Integral, 1)
    _check("diverge_factor", diverge_factor, Real, 1)
    if not (isinstance(smoothing, Real) and 0 <= smoothing < 1):
        raise ValueError(f"smoothing must be in [0, 1); got {smoothing!r}.")

    n = len(X) if not hasattr(X, "shape") else X.shape[0]
    est = clone(estimator)
    batch = min(200 if est.batch_size == "auto" else int(est.batch_size), n)
    needed = num_steps * batch
    if n > needed:
        rng = check_random_state(estimator.random_state)
        rows = np.sort(rng.choice(n, needed, replace=False))
        X, y = _safe_indexing(X, rows), _safe_indexing(y, rows)
        n = needed
    per_epoch = max(1, n // batch)
    max_iter = math.ceil(num_steps / per_epoch) + 1
    test = _RangeTest(min_lr, max_lr, num_steps, smoothing, diverge_factor)
    est.set_params(
        learning_rate="constant",
        learning_rate_init=min_lr,
        max_iter=max_iter,
        tol=0.0,
        n_iter_no_change=max_iter + 1,
        early_stopping=False,
        warm_start=False,
        verbose=False,
        callbacks=[test],
    )
    with warnings.catch_warnings():
        # Divergence at the top of the range is the point of the test.
        warnings.simplefilter("ignore")
        est.fit(X, y)
    ran = est.callbacks_[0]
    lrs, losses = np.asarray(ran.lrs_), np.asarray(ran.losses_)
    # The step that diverged (and anything non-finite) is shown but not smoothed.
    keep = len(lrs) - 1 if ran.diverged_ else len(lrs)
    bad = np.flatnonzero(~np.isfinite(losses))
    keep = min(keep, int(bad[0])) if len(bad) else keep
    smoothed = np.full_like(losses, np.nan)
    smoothed[:keep] = _smooth(losses[:keep], smoothing)
    return LRFinderDisplay(
        lrs,
        losses,
        smoothed_losses=smoothed,
        suggestion=_steepest(lrs[:keep], smoothed[:keep]),
        estimator_name=type(estimator).__name__,
    )


class LRFinderDisplay:
    """Loss against learning rate from a range test, with a suggested rate.

    Build it with :func:`find_lr` (or :meth:`from_estimator`, which also draws it).

    Parameters
    ----------
    lrs : ndarray
        The learning rate of each tested mini-batch.
    losses : ndarray
        The loss of each tested mini-batch.
    smoothed_losses : ndarray, default=None
        Their exponential moving average; ``losses`` when ``None``.
    suggestion : float, default=None
        The suggested rate.
    estimator_name : str, default=None
        Shown in the title.

    Attributes
    ----------
    lrs_, losses_, smoothed_losses_ : ndarray
        The rates and (smoothed) losses.
    suggestion_ : float
        Where the smoothed loss falls fastest per decade of rate, after the first
        tenth of the range and before the loss's minimum: a ``learning_rate_init``
        to start from (on digits it trained as well as or better than the
        defaults, see ``tests/test_lr_finder.py``).
    ax_, figure_ : matplotlib Axes and Figure
        Set by :meth:`plot`.
    line_ : matplotlib Line2D
        The smoothed curve, set by :meth:`plot`.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sknn.lr_finder import LRFinderDisplay
    >>> lrs = np.logspace(-5, 0, 50)
    >>> losses = 2 - np.tanh(np.log10(lrs) + 3) + (lrs > 0.3) * 5
    >>> disp = LRFinderDisplay(lrs, losses, suggestion=1e-3).plot()
    >>> disp.ax_.get_xscale()
    'log'
    """

    def __init__(
        self,
        lrs,
        losses,
        *,
        smoothed_losses=None,
        suggestion: float | None = None,
        estimator_name: str | None = None,
    ) -> None:
        self.lrs_ = np.asarray(lrs, dtype=float)
        self.losses_ = np.asarray(losses, dtype=float)
        self.smoothed_losses_ = (
            self.losses_
            if smoothed_losses is None
            else np.asarray(smoothed_losses, dtype=float)
        )
        self.suggestion_ = suggestion
        self.estimator_name = estimator_name

    def plot(self, *, ax=None, raw: bool = True) -> LRFinderDisplay:
        """Draw the smoothed loss against the rate (log scale), and the suggestion.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure is made when ``None``.
        raw : bool, default=True
            Also draw the unsmoothed batch losses, faintly.

        Returns
        -------
        display : LRFinderDisplay
            ``self``, with ``ax_``, ``figure_`` and ``line_`` set.
        """
        from sknn.plotting import _pyplot

        plt = _pyplot()
        if ax is None:
            _, ax = plt.subplots()
        if raw and self.smoothed_losses_ is not self.losses_:
            ax.plot(self.lrs_, self.losses_, alpha=0.3, label="batch loss")
        (self.line_,) = ax.plot(self.lrs_, self.smoothed_losses_, label="smoothed loss")
        if self.suggestion_ is not None:
            ax.axvline(
                self.suggestion_,
                linestyle="--",
                color="k",
                label=f"suggestion {self.suggestion_:.2g}",
            )
        finite = self.smoothed_losses_[np.isfinite(self.smoothed_losses_)]
        if len(finite):  # the divergence at the end would flatten the curve
            low, start = finite.min(), finite[0]
            ax.set_ylim(low - 0.05 * abs(start - low), start + 0.5 * abs(start - low))
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.legend(loc="best")
        if self.estimator_name:
            ax.set_title(f"Learning-rate range test: {self.estimator_name}")
        self.ax_, self.figure_ = ax, ax.figure
        return self

    @classmethod
    def from_estimator(cls, estimator, X, y, *, ax=None, **kwargs) -> LRFinderDisplay:
        """Run :func:`find_lr` and draw the result.

        Parameters
        ----------
        estimator : sknn estimator
            The configuration to test (not changed).
        X, y : array-like
            Training data.
        ax : matplotlib Axes, default=None
            Axes to draw on.
        **kwargs : dict
            Passed to :func:`find_lr` (``min_lr``, ``max_lr``, ``num_steps``, ...).

        Returns
        -------
        display : LRFinderDisplay
        """
        return find_lr(estimator, X, y, **kwargs).plot(ax=ax)
