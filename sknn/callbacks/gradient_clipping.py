"""Gradient clipping between the backward pass and the optimiser step."""

from __future__ import annotations

import torch

from sknn.callbacks.base import Callback


class GradientClipping(Callback):
    """Clip the gradients before every optimiser step.

    Parameters
    ----------
    max_norm : float or None, default=1.0
        Rescale the gradients so that their total norm is at most ``max_norm``
        (:func:`torch.nn.utils.clip_grad_norm_`); ``None`` skips it.
    norm_type : float, default=2.0
        Order of the norm (``float("inf")`` for the largest absolute value).
    clip_value : float or None, default=None
        Also clamp every gradient entry to ``[-clip_value, clip_value]``
        (:func:`torch.nn.utils.clip_grad_value_`).

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sknn import MLPRegressor
    >>> from sknn.callbacks import GradientClipping
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = MLPRegressor((8,), max_iter=5, random_state=0,
    ...                    callbacks=[GradientClipping(max_norm=0.5)]).fit(X, y)
    >>> reg.n_iter_
    5
    """

    def __init__(
        self,
        max_norm: float | None = 1.0,
        *,
        norm_type: float = 2.0,
        clip_value: float | None = None,
    ) -> None:
        self.max_norm = max_norm
        self.norm_type = norm_type
        self.clip_value = clip_value

    def on_train_begin(self, trainer) -> None:
        for name in ("max_norm", "clip_value"):
            value = getattr(self, name)
            if value is not None and not value > 0:
                raise ValueError(f"{name} must be positive or None; got {value!r}.")
        self._params = [p for p in trainer.module.parameters() if p.requires_grad]

    def on_backward_end(self, trainer) -> None:
        params = [p for p in self._params if p.grad is not None]
        if self.clip_value is not None:
            torch.nn.utils.clip_grad_value_(params, self.clip_value)
        if self.max_norm is not None:
            torch.nn.utils.clip_grad_norm_(params, self.max_norm, self.norm_type)

    def on_train_end(self, trainer) -> None:
        self._params = []
