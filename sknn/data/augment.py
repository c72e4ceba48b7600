"""Training-time augmentation for images and signals: transforms as parameters.

Pass one of these (or a list, or :class:`Compose`, or your own callable) as the
``augment`` parameter of :class:`~sknn.CNNClassifier` / :class:`~sknn.CNNRegressor`.
Each training batch is transformed on the device by vectorised kernels
(:mod:`sknn.training.augment`), with one random draw per sample from a generator
seeded by the fit's seed; validation rows, ``predict`` and ``score`` never are.

The transforms are small objects with parameters: ``get_params`` / ``set_params``,
:func:`sklearn.base.clone`, pickle and :func:`sknn.save` work, and
``GridSearchCV`` searches ``augment__std`` or ``augment__randomcrop__padding`` like
any other parameter.

Axes count within one sample, ``(C, H, W)`` for images and ``(C, T)`` for signals:
``-1`` is the width (or time), ``-2`` the height; axis 0 (channels) is never moved.
"""

from __future__ import annotations

import inspect
import numbers
from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import torch
from sklearn.base import BaseEstimator

from sknn._codec import declare
from sknn.training.augment import (
    BatchTransform,
    gaussian_noise,
    random_flip,
    random_window,
)

PAD_MODES = ("constant", "reflect", "replicate", "circular")


class Transform(BaseEstimator):
    """Base class of sknn's batch transforms.

    A transform maps a device batch ``X`` of shape ``(n, C, ...)`` and a
    ``torch.Generator`` to a batch of the same shape, dtype and device. Subclasses
    implement :meth:`transform` and :meth:`check`; their constructors only store
    their arguments (scikit-learn's rule), so ``get_params`` / ``clone`` work.

    Examples
    --------
    >>> import torch
    >>> from sknn.data.augment import Transform
    >>> class Negate(Transform):
    ...     def transform(self, X, generator):
    ...         return -X
    >>> Negate()(torch.ones(2, 1, 3), torch.Generator()).sum().item()
    -6.0
    """

    def __call__(self, X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return self.transform(X, generator)

    def transform(self, X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """Return the transformed batch."""
        raise NotImplementedError

    def check(self, sample_shape: tuple[int, ...]) -> None:
        """Raise ``ValueError`` when the parameters do not fit samples of this shape."""


def _name(obj: Any) -> str:
    return type(obj).__name__


def _flip_dims(axis, sample_shape: tuple[int, ...], owner: str) -> list[int]:
    axes = [axis] if isinstance(axis, numbers.Integral) else list(axis)
    ndim = len(sample_shape)
    dims = []
    for a in axes:
        if not isinstance(a, numbers.Integral) or isinstance(a, bool):
            raise ValueError(
                f"{owner}.axis must be an int or a tuple of ints; got {a!r}."
            )
        if not -ndim <= a < ndim or a % ndim == 0:
            raise ValueError(
                f"{owner}.axis={a} is not a spatial axis of samples of shape "
                f"{sample_shape} (axis 0 is the channels; use -1 .. -{ndim - 1})."
            )
        dims.append(int(a) % ndim + 1)  # + 1: the batch axis
    return dims


class RandomFlip(Transform):
    """Reverse a spatial axis of each sample with probability ``p``.

    Parameters
    ----------
    axis : int or tuple of int, default=-1
        Sample axis to flip: ``-1`` is the width of an image (a horizontal flip) or
        the time of a signal, ``-2`` the height. Several axes flip independently.
    p : float, default=0.5
        Probability that a sample is flipped (one draw per sample and axis).

    Examples
    --------
    >>> import torch
    >>> from sknn.data import RandomFlip
    >>> X = torch.arange(3.0).view(1, 1, 3)
    >>> RandomFlip(p=1.0)(X, torch.Generator()).tolist()
    [[[2.0, 1.0, 0.0]]]
    """

    def __init__(self, axis: int | Sequence[int] = -1, p: float = 0.5) -> None:
        self.axis = axis
        self.p = p

    def check(self, sample_shape: tuple[int, ...]) -> None:
        _flip_dims(self.axis, sample_shape, "RandomFlip")
        _check_real(self.p, "RandomFlip.p", 0.0, 1.0)

    def transform(self, X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for dim in _flip_dims(self.axis, tuple(X.shape[1:]), "RandomFlip"):
            X = random_flip(X, dim, float(self.p), generator)
        return X


class RandomCrop(Transform):
    """Pad each sample and crop a random window of its original size.

    The window moves each sample by ``-padding .. padding`` positions along every
    spatial axis (one offset per sample and axis); what comes in from outside is
    filled as ``mode`` says.

    Parameters
    ----------
    padding : int or tuple of int, default=4
        Padding on both sides of each spatial axis (one int for all, or one per
        axis; 0 leaves an axis alone).
    mode : {"constant", "reflect", "replicate", "circular"}, default="constant"
        :func:`torch.nn.functional.pad`'s mode; ``"constant"`` fills with zeros.

    Examples
    --------
    >>> import torch
    >>> from sknn.data import RandomCrop
    >>> X = torch.ones(8, 1, 28, 28)
    >>> RandomCrop(padding=2)(X, torch.Generator().manual_seed(0)).shape
    torch.Size([8, 1, 28, 28])
    """

    def __init__(
        self, padding: int | Sequence[int] = 4, mode: str = "constant"
    ) -> None:
        self.padding = padding
        self.mode = mode

    _pad_param = "padding"  # the parameter holding the padding (RandomShift: shift)

    def _pads(self, sample_shape: tuple[int, ...]) -> list[int]:
        owner, label = _name(self), self._pad_param
        pad = getattr(self, label)
        spatial = sample_shape[1:]
        pads = [pad] * len(spatial) if isinstance(pad, numbers.Integral) else list(pad)
        if len(pads) != len(spatial) or not all(
            isinstance(p, numbers.Integral) and not isinstance(p, bool) and p >= 0
            for p in pads
        ):
            raise ValueError(
                f"{owner}.{label} must be a non-negative int or one per spatial axis "
                f"({len(spatial)} for samples of shape {sample_shape}); got {pad!r}."
            )
        if self.mode not in PAD_MODES:
            raise ValueError(
                f"{owner}.mode must be one of {list(PAD_MODES)}; got {self.mode!r}."
            )
        for p, size in zip(pads, spatial):
            if (self.mode == "reflect" and p >= size) or p > size:
                raise ValueError(
                    f"{owner}.{label}={p} is too large for an axis of {size} "
                    f"positions with mode={self.mode!r}."
                )
        return [int(p) for p in pads]

    def check(self, sample_shape: tuple[int, ...]) -> None:
        self._pads(sample_shape)

    def transform(self, X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return random_window(X, self._pads(tuple(X.shape[1:])), self.mode, generator)


class RandomShift(RandomCrop):
    """Move each sample by a random offset along each axis, up to ``shift`` steps.

    The offset is drawn uniformly from ``-shift`` to ``shift``. By default
    circular: what leaves one side comes back on the other (a random roll, for
    periodic signals); ``mode="constant"`` fills with zeros and is
    :class:`RandomCrop` with ``padding=shift``.

    Parameters
    ----------
    shift : int or tuple of int, default=2
        Largest shift of each spatial axis (one int for all, or one per axis).
    mode : {"circular", "constant", "reflect", "replicate"}, default="circular"
        What fills the positions moved in.

    Examples
    --------
    >>> import torch
    >>> from sknn.data import RandomShift
    >>> X = torch.arange(5.0).view(1, 1, 5)
    >>> out = RandomShift(shift=2)(X, torch.Generator().manual_seed(0))
    >>> sorted(out.ravel().tolist())  # a roll keeps every value
    [0.0, 1.0, 2.0, 3.0, 4.0]
    """

    _pad_param = "shift"

    def __init__(self, shift: int | Sequence[int] = 2, mode: str = "circular") -> None:
        self.shift = shift
        self.mode = mode


class GaussianNoise(Transform):
    """Add independent normal noise of standard deviation ``std`` to every value.

    Parameters
    ----------
    std : float, default=0.1
        Standard deviation of the noise, in the units of the input.

    Examples
    --------
    >>> import torch
    >>> from sknn.data import GaussianNoise
    >>> X = torch.zeros(1000, 1, 50)
    >>> round(GaussianNoise(0.2)(X, torch.Generator().manual_seed(0)).std().item(), 2)
    0.2
    """

    def __init__(self, std: float = 0.1) -> None:
        self.std = std

    def check(self, sample_shape: tuple[int, ...]) -> None:
        _check_real(self.std, "GaussianNoise.std", 0.0, float("inf"))

    def transform(self, X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return gaussian_noise(X, float(self.std), generator) if self.std else X


class Compose(Transform):
    """Apply several transforms in order.

    Parameters
    ----------
    transforms : list
        Transforms or callables, or ``(name, transform)`` pairs. Each is reachable
        by its name in nested parameters: the given name, else its class name in
        lower case (numbered ``-1``, ``-2`` when repeated), as in
        :func:`sklearn.pipeline.make_pipeline`.

    Examples
    --------
    >>> from sknn.data import Compose, RandomCrop, RandomFlip
    >>> aug = Compose([RandomCrop(2), RandomFlip()])
    >>> aug.set_params(randomcrop__padding=3).get_params()["randomcrop__padding"]
    3
    """

    def __init__(self, transforms: Sequence = ()) -> None:
        self.transforms = transforms

    def _named(self) -> list[tuple[str, Any]]:
        entries = list(self.transforms or ())
        pairs = [
            e if isinstance(e, tuple) and len(e) == 2 else (None, e) for e in entries
        ]
        auto = [
            _name(t).lower()
            if isinstance(t, Transform)
            else getattr(t, "__name__", "callable").lower()
            for _, t in pairs
        ]
        counts: dict[str, int] = defaultdict(int)
        out = []
        for (name, t), base in zip(pairs, auto):
            if name is None and auto.count(base) > 1:
                counts[base] += 1
                name = f"{base}-{counts[base]}"
            out.append((str(name or base), t))
        return out

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The transforms, and with ``deep`` each one's parameters by its name.

        Parameters
        ----------
        deep : bool, default=True
            Also return the transforms by name and their parameters.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        out: dict[str, Any] = {"transforms": self.transforms}
        if deep:
            for name, t in self._named():
                out[name] = t
                if hasattr(t, "get_params") and not isinstance(t, type):
                    for key, value in t.get_params(deep=True).items():
                        out[f"{name}__{key}"] = value
        return out

    def set_params(self, **params) -> Compose:
        """Set ``transforms``, a transform by name, or ``name__param``.

        Parameters
        ----------
        **params : dict
            ``transforms``, ``<name>`` or ``<name>__<param>``.

        Returns
        -------
        self : Compose
        """
        if "transforms" in params:
            self.transforms = params.pop("transforms")
        named = self._named()
        names = [n for n, _ in named]
        items = list(self.transforms or ())
        nested: dict[str, dict] = defaultdict(dict)
        replaced = False
        for key, value in params.items():
            head, sep, rest = key.partition("__")
            if head not in names:
                raise ValueError(
                    f"Invalid parameter {head!r} for Compose. Valid parameters are: "
                    f"{['transforms', *names]!r}."
                )
            if sep:
                nested[head][rest] = value
            else:
                i = names.index(head)
                items[i] = (head, value) if isinstance(items[i], tuple) else value
                replaced = True
        if replaced:
            self.transforms = (
                tuple(items) if isinstance(self.transforms, tuple) else items
            )
        lookup = dict(self._named())
        for head, sub in nested.items():
            lookup[head].set_params(**sub)
        return self

    def check(self, sample_shape: tuple[int, ...]) -> None:
        for _, t in self._named():
            if isinstance(t, Transform):
                t.check(sample_shape)
            else:
                _user_transform(t)

    def transform(self, X: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for _, t in self._named():
            X = (t if isinstance(t, Transform) else _user_transform(t))(X, generator)
        return X


def _check_real(value, name: str, low: float, high: float) -> None:
    if (
        not isinstance(value, numbers.Real)
        or isinstance(value, bool)
        or not low <= float(value) <= high
    ):
        raise ValueError(
            f"{name} must be a real number in [{low}, {high}]; got {value!r}."
        )


def _takes_generator(f: Callable) -> bool:
    target = f.forward if isinstance(f, torch.nn.Module) else f
    try:
        sig = inspect.signature(target)
    except (TypeError, ValueError):
        return False
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    return sum(p.kind in kinds for p in sig.parameters.values()) >= 2


def _user_transform(f: Any) -> BatchTransform:
    if isinstance(f, type):
        raise ValueError(
            f"augment must hold transform instances or callables; got the class "
            f"{f.__name__}. Pass {f.__name__}() instead."
        )
    if not callable(f):
        raise ValueError(
            "augment must be None, a transform (RandomCrop, RandomFlip, RandomShift, "
            f"GaussianNoise, Compose), a list of them, or a callable; got {f!r}."
        )
    if _takes_generator(f):
        return f
    return lambda X, generator: f(X)


def batch_transform(augment: Any, sample_shape: tuple[int, ...]) -> BatchTransform:
    """The function that a fit applies to its training batches, checked for samples
    of ``sample_shape`` (``(C, H, W)`` or ``(C, T)``).

    ``augment`` is a :class:`Transform`, a list of transforms and callables (applied
    in order), or a callable ``f(X, generator)`` / ``f(X)`` on a device batch.

    Examples
    --------
    >>> from sknn.data.augment import RandomFlip, batch_transform
    >>> batch_transform([RandomFlip()], (1, 8, 8))
    Compose(transforms=[RandomFlip()])
    >>> batch_transform(RandomFlip(axis=0), (1, 8, 8))
    Traceback (most recent call last):
    ...
    ValueError: RandomFlip.axis=0 is not a spatial axis of samples of shape (1, 8, 8) ...
    """
    if isinstance(augment, (list, tuple)):
        augment = Compose(list(augment))
    if isinstance(augment, Transform):
        augment.check(tuple(sample_shape))
        return augment
    return _user_transform(augment)


def builtin_transforms() -> dict[str, type]:
    """sknn's transform classes by name (what :func:`sknn.save` may store).

    Examples
    --------
    >>> from sknn.data.augment import builtin_transforms
    >>> sorted(builtin_transforms())
    ['Compose', 'GaussianNoise', 'RandomCrop', 'RandomFlip', 'RandomShift']
    """
    return {
        cls.__name__: cls
        for cls in (Compose, GaussianNoise, RandomCrop, RandomFlip, RandomShift)
    }


declare("transform", builtin_transforms().values())

__all__ = [
    "Compose",
    "GaussianNoise",
    "RandomCrop",
    "RandomFlip",
    "RandomShift",
    "Transform",
    "batch_transform",
    "builtin_transforms",
]
