"""Losses of an ensemble trained in one pass, and label smoothing.

A :class:`~sknn.modules.TabularNet` in training returns every member's output,
``(n, k, n_outputs)``; :func:`member_loss` trains each member on its own loss (the
mean of the ``k`` losses, as TabM does), and reads a plain ``(n, n_outputs)`` output
(the members' average in evaluation) as the wrapped loss does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

import torch
import torch.nn.functional as F

from sknn.training.losses import weighted_mean

LossFn = Callable[[torch.Tensor, torch.Tensor, torch.Tensor | None], torch.Tensor]


def _members(fn: LossFn, out, y, w):
    if out.ndim == 3:
        k = out.shape[1]
        out = out.reshape(-1, out.shape[2])
        y = y.repeat_interleave(k, dim=0)
        w = None if w is None else w.repeat_interleave(k)
    return fn(out, y, w)


def member_loss(fn: LossFn) -> LossFn:
    """``fn`` averaged over the members of an ``(n, k, c)`` output.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.losses import half_squared_error
    >>> from sknn.training.ensemble_loss import member_loss
    >>> out = torch.tensor([[[1.0], [3.0]]])  # one row, two members
    >>> member_loss(half_squared_error)(out, torch.tensor([[1.0]]), None).item()
    1.0
    """
    return functools.partial(_members, fn)


def _smoothed_ce(eps: float, out, y, w):
    return weighted_mean(
        F.cross_entropy(out, y, reduction="none", label_smoothing=eps), w
    )


def _smoothed_bce(eps: float, out, y, w):
    target = y.to(out.dtype).reshape(out.shape) * (1.0 - eps) + 0.5 * eps
    per = F.binary_cross_entropy_with_logits(out, target, reduction="none")
    return weighted_mean(per.sum(dim=1), w)


def smoothed_cross_entropy(eps: float) -> LossFn:
    """Multiclass log-loss against ``(1 - eps) * one_hot + eps / n_classes``.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.ensemble_loss import smoothed_cross_entropy
    >>> out, y = torch.tensor([[2.0, 0.0]]), torch.tensor([0])
    >>> smoothed_cross_entropy(0.0)(out, y, None) < smoothed_cross_entropy(0.2)(out, y, None)
    tensor(True)
    """
    return functools.partial(_smoothed_ce, float(eps))


def smoothed_binary_cross_entropy(eps: float) -> LossFn:
    """Binary (or multilabel) log-loss against ``(1 - eps) * y + eps / 2``."""
    return functools.partial(_smoothed_bce, float(eps))


def _negated(fn: LossFn, out, y, w):
    return -fn(out, y, w)


def negated(fn: LossFn) -> LossFn:
    """``-fn``: a loss as a score (higher is better), e.g. the negative log-loss."""
    return functools.partial(_negated, fn)
