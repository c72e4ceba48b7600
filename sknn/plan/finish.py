"""The end of a fit: scikit-learn's fitted attributes and its end-of-fit warnings."""

from __future__ import annotations

import warnings
from typing import Any

from sklearn.exceptions import ConvergenceWarning

from sknn.training.engine import Trainer

__all__ = ["fitted_attributes", "warn_on_stop"]


def fitted_attributes(
    trainer: Trainer, *, early_stopping: bool, epoch0: int = 0
) -> dict[str, Any]:
    """scikit-learn's fitted attributes of a finished run, by name.

    ``n_iter_`` counts the epochs since ``epoch0``; with ``early_stopping`` the
    validation scores are kept (a diverged epoch scores NaN, as in scikit-learn) and
    ``best_loss_`` is ``None``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData, TrainConfig, Trainer
    >>> from sknn.plan import fitted_attributes
    >>> data = TensorData(np.ones((4, 1)), np.ones((4, 1)), None, torch.device("cpu"))
    >>> net = torch.nn.Linear(1, 1)
    >>> trainer = Trainer(net, lambda o, y, w: ((o - y) ** 2).mean(),
    ...                   torch.optim.SGD(net.parameters(), lr=0.1),
    ...                   TrainConfig(max_epochs=3, batch_size=2)).fit(data)
    >>> attrs = fitted_attributes(trainer, early_stopping=False)
    >>> attrs["n_iter_"], len(attrs["loss_curve_"])
    (3, 3)
    """
    st = trainer.state
    out: dict[str, Any] = {
        "n_iter_": st.epoch - epoch0,
        "t_": st.t,
        "loss_curve_": st.loss_curve,
        "loss_": st.loss_curve[-1] if st.loss_curve else None,
    }
    if early_stopping:
        if trainer.stop_reason in ("diverged", "non-finite"):
            # scikit-learn scores the diverged epoch: NaN.
            st.validation_scores.append(float("nan"))
        out.update(
            validation_scores_=st.validation_scores,
            best_validation_score_=st.best_score,
            best_loss_=None,
        )
    else:
        out.update(
            validation_scores_=None,
            best_validation_score_=None,
            best_loss_=st.best_loss if st.loss_curve else None,
        )
    out["stop_reason_"] = trainer.stop_reason
    return out


def warn_on_stop(
    trainer: Trainer,
    *,
    incremental: bool,
    n_iter: int,
    max_iter: int,
    max_fun: int,
    float32: bool = False,
) -> None:
    """scikit-learn's end-of-fit warnings (and error) for how ``trainer`` stopped.

    ``float32``: the network trains in float32 (the error then suggests float64).

    Raises
    ------
    ValueError
        When no finite weights were reached (scikit-learn's message).
    """
    result = getattr(trainer, "lbfgs_result", None)
    if result is not None and result.status != 0 and trainer.converged is False:
        if trainer.stop_reason not in ("interrupted", "diverged", "non-finite"):
            warnings.warn(
                f"lbfgs failed to converge after {result.nit} iteration(s) "
                f"(status={result.status}):\n{result.message}.\n\nIncrease the "
                f"number of iterations to improve the convergence "
                f"(max_iter={max_iter}) or max_fun (max_fun={max_fun}).",
                ConvergenceWarning,
                stacklevel=4,
            )
            return
    if trainer.stop_reason == "interrupted":
        warnings.warn(
            f"Training interrupted by the user after {n_iter} epochs; the "
            "estimator keeps the weights of the last completed (or best) epoch.",
            UserWarning,
            stacklevel=3,
        )
    elif trainer.stop_reason == "diverged":
        warnings.warn(
            f"Training diverged: the loss or the weights became NaN or infinite "
            f"in epoch {n_iter + 1}; the last finite weights whose outputs "
            "are finite were kept. Lower learning_rate_init or scale the inputs.",
            ConvergenceWarning,
            stacklevel=3,
        )
    elif trainer.stop_reason == "non-finite":  # no finite epoch to fall back on
        hint = (
            ' Fitting in float64 (dtype="float64") widens the range of the loss '
            "and gradients."
            if float32
            else ""
        )
        raise ValueError(
            "Solver produced non-finite parameter weights. The input data may "
            "contain large values and need to be preprocessed." + hint
        )
    elif not incremental and not trainer.stop_training:
        warnings.warn(
            f"Stochastic Optimizer: Maximum iterations ({max_iter}) reached "
            "and the optimization hasn't converged yet.",
            ConvergenceWarning,
            stacklevel=3,
        )
