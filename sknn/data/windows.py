"""Turn a time series into (windows, next values): forecasting as regression."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def make_windows(
    series,
    window: int,
    *,
    horizon: int = 1,
    step: int = 1,
    targets: int | Sequence[int] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Cut a series into input windows and the values that follow them.

    Window ``i`` holds ``series[s : s + window]`` with ``s = i * step``; its target is
    ``series[s + window + horizon - 1]``, the value ``horizon`` steps after the
    window's last step. Fitting a regressor on ``(X, y)`` is then a forecaster.

    Parameters
    ----------
    series : array-like of shape (n_steps,) or (n_steps, n_features)
        A univariate or multivariate series, oldest step first.
    window : int
        Steps per input window.
    horizon : int, default=1
        How far ahead the target lies (1: the next value).
    step : int, default=1
        Stride between the starts of consecutive windows.
    targets : int, sequence of int or None, default=None
        Columns of a multivariate series to predict; ``None`` predicts all of them
        (the single column of a univariate series).

    Returns
    -------
    X : ndarray of shape (n_windows, window) or (n_windows, window, n_features)
        Windows: 2-D (univariate sequences) for a 1-D series, 3-D ``(n, T, F)`` for a
        2-D one; both are inputs of :class:`~sknn.RNNRegressor`.
    y : ndarray of shape (n_windows,) or (n_windows, n_targets)
        The value(s) ``horizon`` steps after each window; 1-D for one target.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.data import make_windows
    >>> X, y = make_windows(np.arange(6.0), window=3)
    >>> X.tolist(), y.tolist()
    ([[0.0, 1.0, 2.0], [1.0, 2.0, 3.0], [2.0, 3.0, 4.0]], [3.0, 4.0, 5.0])
    >>> X, y = make_windows(np.ones((10, 2)), window=4, horizon=2, targets=0)
    >>> X.shape, y.shape
    ((5, 4, 2), (5,))
    """
    arr = np.asarray(series)
    if arr.ndim not in (1, 2):
        raise ValueError(
            f"series must be of shape (n_steps,) or (n_steps, n_features); got "
            f"{arr.ndim} dimensions."
        )
    for name, value in (("window", window), ("horizon", horizon), ("step", step)):
        if not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    n_windows = (len(arr) - window - horizon) // step + 1
    if n_windows < 1:
        raise ValueError(
            f"A series of {len(arr)} steps is too short for window={window} and "
            f"horizon={horizon}; it needs at least {window + horizon} steps."
        )
    starts = np.arange(n_windows) * step
    if arr.ndim == 1:
        X = sliding_window_view(arr, window)[starts]
        y = arr[starts + window + horizon - 1]
        return np.ascontiguousarray(X), y
    X = sliding_window_view(arr, window, axis=0)[starts].transpose(0, 2, 1)
    y = arr[starts + window + horizon - 1]
    if targets is not None:
        y = y[:, targets]
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    return np.ascontiguousarray(X), y
