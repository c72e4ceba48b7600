"""A user's own loss: an estimator's ``criterion`` (a torch loss class, instance or any
callable ``criterion(output, target) -> scalar``) as a loss function of the engine's
signature ``fn(output, y, w)`` (:class:`UserLoss`), fed the way each torch loss expects
(:func:`loss_family`). Nothing here reads an estimator: the fit plan passes the values.
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from sknn.training.losses import weighted_mean

__all__ = ["UserLoss", "callable_name", "loss_family"]


def callable_name(obj: Any) -> str:
    """How an error message names a user's class, instance or function.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.user_loss import callable_name
    >>> callable_name(torch.nn.MSELoss), callable_name(torch.nn.MSELoss())
    ('MSELoss', 'MSELoss')
    """
    return getattr(obj, "__name__", type(obj).__name__)


# ----------------------------------------------------------------------- the loss
# How each torch classification or regression loss is fed. Families:
#   "class": one class per row among the outputs (logits, class indices); binary
#            targets see the two logits [0, z] of the one logit z, exactly the
#            softmax of two outputs (cross-entropy on them is the logistic loss);
#   "label": each output is its own yes/no label (logits, 0/1 targets);
#   "value": regression (outputs against values).
# and the input a loss expects: raw logits, log-probabilities or probabilities;
# a target in {-1, 1} instead of {0, 1}.
_FAMILIES: dict[Any, tuple[str, str]] = {
    nn.CrossEntropyLoss: ("class", "logits"),
    F.cross_entropy: ("class", "logits"),
    nn.NLLLoss: ("class", "log_proba"),
    F.nll_loss: ("class", "log_proba"),
    nn.MultiMarginLoss: ("class", "logits"),
    F.multi_margin_loss: ("class", "logits"),
    nn.BCEWithLogitsLoss: ("label", "logits"),
    F.binary_cross_entropy_with_logits: ("label", "logits"),
    nn.BCELoss: ("label", "proba"),
    F.binary_cross_entropy: ("label", "proba"),
    nn.MultiLabelSoftMarginLoss: ("label", "logits"),
    F.multilabel_soft_margin_loss: ("label", "logits"),
    nn.SoftMarginLoss: ("label", "signs"),
    F.soft_margin_loss: ("label", "signs"),
    nn.MSELoss: ("value", "values"),
    F.mse_loss: ("value", "values"),
    nn.L1Loss: ("value", "values"),
    F.l1_loss: ("value", "values"),
    nn.SmoothL1Loss: ("value", "values"),
    F.smooth_l1_loss: ("value", "values"),
    nn.HuberLoss: ("value", "values"),
    F.huber_loss: ("value", "values"),
    nn.PoissonNLLLoss: ("value", "values"),
    F.poisson_nll_loss: ("value", "values"),
}
#: Which families serve which targets, and what to use instead.
_SERVES = {
    "class": ("binary", "multiclass"),
    "label": ("binary", "multilabel"),
    "value": ("values",),
}
_INSTEAD = {
    "binary": "torch.nn.CrossEntropyLoss or BCEWithLogitsLoss",
    "multiclass": "torch.nn.CrossEntropyLoss (or NLLLoss, MultiMarginLoss)",
    "multilabel": "torch.nn.BCEWithLogitsLoss (or MultiLabelSoftMarginLoss)",
    "values": "torch.nn.MSELoss, L1Loss or HuberLoss",
}
_WHY = {
    "class": "picks one class per row among the outputs",
    "label": "treats each output as its own yes/no label",
    "value": "is a regression loss (the outputs are compared with values)",
}


#: What a loss of the user's own receives (the custom-training page says the same).
_RECEIVES = {
    "binary": "one logit per row, (n, 1), and 0/1 float targets of that shape",
    "multiclass": "one logit per class, (n, n_classes), and class indices (long)",
    "multilabel": "one logit per label and 0/1 float targets of that shape",
    "values": "the outputs and the targets, (n, n_outputs)",
}


def loss_family(criterion: Any) -> tuple[str, str] | None:
    """How sknn feeds a torch loss: ``(family, input)``, or ``None`` for a loss of
    the user's own (called as it is).

    ``family`` is ``"class"`` (logits and class indices), ``"label"`` (one logit
    per label and 0/1 targets), ``"value"`` (regression) or ``"unsupported"`` (a
    torch loss of another kind: embeddings, rankings, sequences); ``input`` says
    what the loss reads: ``"logits"``, ``"log_proba"``, ``"proba"``, ``"signs"``
    (logits and -1/1 targets) or ``"values"``.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.user_loss import loss_family
    >>> loss_family(torch.nn.NLLLoss), loss_family(torch.nn.BCELoss())
    (('class', 'log_proba'), ('label', 'proba'))
    >>> loss_family(torch.nn.CosineEmbeddingLoss), loss_family(lambda out, y: 0)
    (('unsupported', ''), None)
    """
    if not isinstance(criterion, type):
        if not isinstance(criterion, nn.Module):
            try:
                return _FAMILIES.get(criterion)
            except TypeError:  # an unhashable callable
                return None
        criterion = type(criterion)
    for cls in criterion.__mro__:
        if cls in _FAMILIES:
            return _FAMILIES[cls]
    if issubclass(criterion, nn.modules.loss._Loss) and (
        criterion.__module__.startswith("torch.")
    ):
        return ("unsupported", "")
    return None


def _check_family(name: str, family: tuple[str, str] | None, target: str) -> None:
    """Refuse a torch loss that cannot learn ``target`` with a message saying what
    to use."""
    if family is None or target in _SERVES.get(family[0], ()):
        return
    kind = "regressor" if target == "values" else f"{target} classifier"
    if family[0] == "unsupported":
        raise ValueError(
            f"criterion={name} does not compare a network's outputs with targets "
            f"in a way sknn can feed a {kind}: use {_INSTEAD[target]}, or pass a "
            "callable criterion(output, target) that calls it as you intend."
        )
    raise ValueError(
        f"criterion={name} {_WHY[family[0]]}, which cannot learn the targets of a "
        f"{kind}: use {_INSTEAD[target]}."
    )


class UserLoss:
    """The engine's loss ``fn(output, y, w)`` around a user's criterion.

    torch's own losses are fed the way each expects (see :func:`loss_family`):
    ``CrossEntropyLoss``, ``NLLLoss`` (given log-probabilities) and
    ``MultiMarginLoss`` learn binary targets through the two logits ``[0, z]`` of
    the network's one logit ``z`` (their softmax is its logistic function);
    ``BCELoss`` is given probabilities, ``SoftMarginLoss`` -1/1 targets. A torch
    loss that cannot learn the targets is refused with a message saying what to
    use; a callable or loss class of the user's own receives the raw output and the
    targets as the network sees them.

    Parameters
    ----------
    criterion : torch loss class, instance or callable
        A class is instantiated with ``kwargs``; an instance is copied; a callable is
        called as ``criterion(output, target, **kwargs)``.
    kwargs : dict
        The ``criterion__*`` options.
    target : {"binary", "multiclass", "multilabel", "values"}
        What the network's targets are: 0/1 labels against one logit (binary),
        class indices against one logit per class (multiclass), 0/1 labels against
        one logit per label (multilabel), or values (regression).
    device : torch.device
        Where a loss module's buffers (e.g. class weights) go.
    dtype : torch.dtype
        The network's floating dtype.

    Raises
    ------
    ValueError
        If ``criterion`` is a torch loss that cannot learn ``target``, or cannot be
        built with ``kwargs``.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.user_loss import UserLoss
    >>> loss = UserLoss(torch.nn.L1Loss, {}, target="values",
    ...                 device=torch.device("cpu"), dtype=torch.float32)
    >>> loss(torch.zeros(2, 1), torch.ones(2, 1), None).item()
    1.0
    >>> ce = UserLoss(torch.nn.CrossEntropyLoss, {}, target="binary",
    ...               device=torch.device("cpu"), dtype=torch.float32)
    >>> round(ce(torch.tensor([[2.0]]), torch.tensor([1.0]), None).item(), 4)
    0.1269
    """

    custom = True

    def __init__(
        self,
        criterion: Any,
        kwargs: dict,
        *,
        target: str,
        device: torch.device,
        dtype: torch.dtype,
    ) -> None:
        self.target = target
        self.name = callable_name(criterion)
        family = loss_family(criterion)
        _check_family(self.name, family, target)
        self.family, self.input = family or ("own", "logits")
        self.per_sample: Callable | None = None
        if isinstance(criterion, type):
            try:
                self.mean = criterion(**kwargs)
                if "reduction" not in kwargs and _takes(criterion, "reduction"):
                    self.per_sample = criterion(**kwargs, reduction="none")
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"criterion={self.name} could not be built with {kwargs}: {exc}"
                ) from None
        elif isinstance(criterion, nn.Module):
            if kwargs:
                raise ValueError(
                    "criterion__ options need a loss class, not an instance: pass "
                    f"criterion={self.name} (the class)."
                )
            self.mean = copy.deepcopy(criterion)
            if getattr(criterion, "reduction", None) == "mean":
                self.per_sample = copy.deepcopy(criterion)
                self.per_sample.reduction = "none"
        elif callable(criterion):
            self.mean = (
                (lambda out, y: criterion(out, y, **kwargs)) if kwargs else criterion
            )
            if family is not None and "reduction" not in kwargs:  # torch's function
                self.per_sample = lambda out, y: criterion(
                    out, y, **kwargs, reduction="none"
                )
        else:
            raise TypeError(
                f"criterion must be a torch loss class, a loss instance or a callable "
                f"(output, target) -> scalar; got {type(criterion).__name__}."
            )
        for fn in (self.mean, self.per_sample):
            if isinstance(fn, nn.Module):
                fn.to(device=device, dtype=dtype)

    @property
    def weighted(self) -> bool:
        """Whether per-sample weights (``sample_weight``, ``class_weight``) apply."""
        return self.per_sample is not None

    def _feed(
        self, out: torch.Tensor, y: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The loss's input and target from the network's output and targets."""
        if self.family == "class":
            if self.target == "binary":  # the two logits whose softmax is sigmoid(z)
                out = torch.cat([torch.zeros_like(out), out], dim=1)
            y = y.reshape(-1).long()
            if self.input == "log_proba":
                out = torch.log_softmax(out, dim=1)
            return out, y
        if self.target in ("binary", "multilabel"):
            y = y.to(out.dtype).reshape(out.shape)
            if self.input == "proba":
                out = torch.sigmoid(out)
            elif self.input == "signs":
                y = 2 * y - 1
        return out, y

    def __call__(
        self, out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None
    ) -> torch.Tensor:
        """The (weighted) loss of a batch."""
        out, target = self._feed(out, y)
        try:
            per = self.mean(out, target) if w is None else self.per_sample(out, target)
        except torch.OutOfMemoryError:
            raise
        except (RuntimeError, ValueError, TypeError, IndexError) as exc:
            raise ValueError(
                f"criterion={self.name} failed on an output of shape "
                f"{tuple(out.shape)} and targets of shape {tuple(target.shape)}: "
                f"{exc} (for {self.target} targets it receives "
                f"{_RECEIVES[self.target]})."
            ) from exc
        if w is None:
            loss = per
        else:
            if per.ndim > 1:
                per = per.reshape(per.shape[0], -1).mean(dim=1)
            if per.ndim != 1 or per.shape[0] != out.shape[0]:
                raise ValueError(
                    f"criterion={self.name} with reduction='none' returned shape "
                    f"{tuple(per.shape)}; sample weights need one loss per row."
                )
            loss = weighted_mean(per, w)
        if not isinstance(loss, torch.Tensor) or loss.ndim != 0:
            raise ValueError(
                f"criterion={self.name} must return a scalar tensor; got "
                f"{getattr(loss, 'shape', type(loss).__name__)}."
            )
        return loss


def _takes(cls: type, name: str) -> bool:
    try:
        return name in inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return False
