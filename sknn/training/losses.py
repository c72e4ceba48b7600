"""Loss and score functions on device tensors, with optional sample weights.

Every function has the signature ``fn(output, y, w) -> scalar tensor`` where ``output`` is
the raw network output and ``w`` is ``None`` or a per-sample weight vector; the result is
the (weighted) mean over samples. Losses follow scikit-learn's MLP conventions (the
squared error is halved) so that ``loss_`` values are comparable.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def weighted_mean(per_sample: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``per_sample`` (shape ``(n,)``), weighted by ``w`` when given.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.losses import weighted_mean
    >>> weighted_mean(torch.tensor([1.0, 3.0]), torch.tensor([1.0, 3.0])).item()
    2.5
    """
    if w is None:
        return per_sample.mean()
    return (per_sample * w).sum() / w.sum()


def softmax_cross_entropy(out, y, w):
    """Multiclass log-loss; ``y`` holds class indices."""
    if w is None:
        return F.cross_entropy(out, y)
    return weighted_mean(F.cross_entropy(out, y, reduction="none"), w)


def binary_cross_entropy(out, y, w):
    """Binary (one logit) or multilabel log-loss; ``y`` is 0/1 (indices or floats).

    Summed over the labels of a multilabel target and averaged over samples, as in
    scikit-learn's MLP (its ``loss_`` and its gradient scale).
    """
    target = y.to(out.dtype).reshape(out.shape)
    per = F.binary_cross_entropy_with_logits(out, target, reduction="none")
    return weighted_mean(per.sum(dim=1), w)


def half_squared_error(out, y, w):
    """Half the mean squared error, averaged over outputs (scikit-learn's MLP loss)."""
    return weighted_mean(0.5 * ((out - y) ** 2).mean(dim=1), w)


def absolute_error(out, y, w):
    """Mean absolute error."""
    return weighted_mean((out - y).abs().mean(dim=1), w)


def huber(out, y, w):
    """Huber loss with ``delta=1`` (on standardised targets)."""
    return weighted_mean(F.huber_loss(out, y, reduction="none").mean(dim=1), w)


def half_poisson_deviance(out, y, w):
    """Poisson loss with a log link: ``out`` is the log of the predicted mean."""
    return weighted_mean((torch.exp(out) - y * out).mean(dim=1), w)


def accuracy_indices(out, y, w):
    """Accuracy for multiclass logits against class indices."""
    return weighted_mean((out.argmax(dim=1) == y).to(out.dtype), w)


def accuracy_logits(out, y, w):
    """Accuracy (exact match for multilabel) for binary / multilabel logits."""
    pred = out > 0
    exact = (pred == (y.reshape(out.shape) > 0.5)).all(dim=1)
    return weighted_mean(exact.to(out.dtype), w)


def r2(out, y, w):
    """Coefficient of determination, uniformly averaged over outputs."""
    ww = torch.ones(y.shape[0], 1, device=y.device) if w is None else w[:, None]
    mean = (y * ww).sum(0) / ww.sum()
    sse = (ww * (y - out) ** 2).sum(0)
    sst = (ww * (y - mean) ** 2).sum(0)
    score = torch.where(
        sst > 0, 1 - sse / sst.clamp_min(1e-30), (sse == 0).to(out.dtype)
    )
    return score.mean()


def poisson_r2(out, y, w):
    """R2 of the predicted mean ``exp(out)``."""
    return r2(torch.exp(out), y, w)


REGRESSION_LOSSES = {
    "squared_error": (half_squared_error, r2),
    "absolute_error": (absolute_error, r2),
    "huber": (huber, r2),
    "poisson": (half_poisson_deviance, poisson_r2),
}
