"""Validation of layer-size parameters shared by the estimators."""

from __future__ import annotations

from numbers import Integral


def as_sizes(sizes, name: str) -> list[int]:
    """Layer sizes as a list of ints.

    ``TypeError`` for a size that is not an integer (as scikit-learn's MLP), and
    ``ValueError`` for a size below 1, both naming the parameter.

    Examples
    --------
    >>> from sknn.estimators._sizes import as_sizes
    >>> as_sizes((32, 16), "hidden_layer_sizes"), as_sizes(8, "channels")
    ([32, 16], [8])
    >>> as_sizes((2.5,), "hidden_layer_sizes")
    Traceback (most recent call last):
    ...
    TypeError: hidden_layer_sizes must hold integers; got 2.5 in [2.5].
    """
    sizes = [sizes] if isinstance(sizes, Integral) else list(sizes)
    for s in sizes:
        if isinstance(s, bool) or not isinstance(s, Integral):
            raise TypeError(f"{name} must hold integers; got {s!r} in {sizes}.")
    if any(s < 1 for s in sizes):
        raise ValueError(f"{name} must be > 0, got {sizes}.")
    return [int(s) for s in sizes]
