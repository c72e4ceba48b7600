"""The fit plan's loss step: the loss, the validation score and the metrics ``scoring``
asks for, the L2 term."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from sknn.scoring import (
    ValidationPredictions,
    check_scoring,
    validation_metrics,
)
from sknn.targets import TargetHandler
from sknn.training.user_loss import UserLoss

__all__ = ["Losses", "l2_penalty", "losses", "user_loss", "validation_scoring"]


@dataclass(frozen=True)
class Losses:
    """What training minimises and how the validation rows are scored.

    Attributes
    ----------
    loss : callable
        ``loss(output, y, w)``: the targets' loss, or the user's ``criterion``.
    score : callable or None
        The device-side validation score (``None`` where a scorer replaces it).
    view : callable
        ``view(output)``: the callbacks' view of the validation predictions.
    metrics : callable or None
        Host-side ``valid_*`` metrics, when ``scoring`` asks for some.
    """

    loss: Any
    score: Any
    view: Any
    metrics: Any


def losses(
    est,
    targets: TargetHandler,
    *,
    device: torch.device,
    dtype: torch.dtype,
    weighted: bool,
    y_true=None,
    w_valid=None,
    x_valid=None,
) -> Losses:
    """The loss (the targets', or the estimator's ``criterion``) and the validation
    scoring (:func:`validation_scoring`)."""
    loss_fn, score_fn = targets.losses()
    if est.criterion is not None:
        loss_fn = user_loss(
            est.criterion,
            est._nested("criterion"),
            targets,
            device=device,
            dtype=dtype,
            weighted=weighted,
        )
    score_fn, view, metrics = validation_scoring(
        est, est.scoring, loss_fn, score_fn, y_true, w_valid, x_valid
    )
    return Losses(loss_fn, score_fn, view, metrics)


def user_loss(
    criterion: Any,
    options: dict,
    targets: TargetHandler,
    *,
    device: torch.device,
    dtype: torch.dtype,
    weighted: bool,
) -> UserLoss:
    """The engine's loss around a user's ``criterion``.

    Raises
    ------
    ValueError
        When per-row weights are asked of a criterion that gives one loss per batch.
    """
    loss = UserLoss(
        criterion,
        options,
        target=targets.criterion_target,
        device=device,
        dtype=dtype,
    )
    if weighted and not loss.weighted:
        raise ValueError(
            f"sample_weight (or class_weight) needs a criterion that gives one loss "
            f"per row: a torch loss class or instance with reduction='mean'; "
            f"criterion={loss.name} cannot be weighted."
        )
    return loss


def validation_scoring(est, scoring, loss_fn, score_fn, y_true, w_valid, x_valid=None):
    """What ``scoring`` makes of the validation rows: ``(score_fn, view, metrics)``.

    The device score (``None`` where a scikit-learn scorer replaces it; minus the
    loss for ``"loss"``), the callbacks' view of each epoch's predictions
    (:class:`~sknn.scoring.ValidationPredictions`), and the host-side
    metrics (``None`` when none are asked, so that the default epoch reads nothing
    more).
    """
    scorers = check_scoring(scoring)
    if isinstance(scoring, str) and scoring == "loss":
        score_fn = _negated(loss_fn)
    elif "valid_score" in scorers:
        score_fn = None

    def view(out):
        return ValidationPredictions(est, out, y_true, w_valid, x_valid)

    return score_fn, view, validation_metrics(scorers) if scorers else None


def _negated(loss_fn):
    """The validation score of ``scoring="loss"``: minus the loss (greater is
    better, as in scikit-learn's HistGradientBoosting)."""

    def score(out, y, w):
        return -loss_fn(out, y, w)

    return score


def l2_penalty(module: torch.nn.Module, alpha: float):
    """``penalty(n) = 0.5 * alpha * ||W||^2 / n`` over the weight tensors (more than
    one dimension) of ``module``.

    Examples
    --------
    >>> import torch
    >>> from sknn.plan.loss import l2_penalty
    >>> net = torch.nn.Linear(2, 1, bias=True)
    >>> _ = torch.nn.init.ones_(net.weight)
    >>> l2_penalty(net, 1.0)(1).item()
    1.0
    """
    weights = [p for p in module.parameters() if p.ndim > 1]

    def penalty(n):
        return 0.5 * alpha * sum((p * p).sum() for p in weights) / n

    return penalty
