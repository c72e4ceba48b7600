"""The fit plan's data step: the batch sources of the training and validation rows.

One function, :func:`fit_sources`, is where the estimator layer meets the engine's
readers: it asks for the source of the fit's rows (:func:`sknn.training.host.
choose_source`, or the streamed input's own), splits off the validation rows (or
reads ``eval_set``), lets the estimator wrap the training rows (augmentation) and
shards them over data-parallel processes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from sklearn.model_selection import train_test_split
from sklearn.utils.validation import check_random_state

from sknn.data.adapters import StreamInput
from sknn.data.split import validation_split
from sknn.scoring import wants_rows
from sknn.targets import TargetHandler
from sknn.training import TensorData, distributed
from sknn.training.data import require_rows
from sknn.training.host import choose_source
from sknn.utils._compat import _safe_indexing

__all__ = [
    "NO_ROWS",
    "Validation",
    "check_early_stopping_split",
    "fit_sources",
    "validation",
]

#: A validation split of a source without rows by index (a loader's own batches).
NO_ROWS = (
    "A validation split (early_stopping=True or callbacks that monitor valid_*) needs "
    "the rows in memory; a streamed DataLoader or IterableDataset has none. Pass a "
    "map-style Dataset (read into memory) or set early_stopping=False."
)


@dataclass(frozen=True)
class Validation:
    """How a fit is validated after each epoch.

    Parameters
    ----------
    eval_set : tuple or None
        ``(X_val, y_val)`` scored instead of a split of the rows.
    split : bool
        Hold out ``fraction`` of the rows (early stopping, validation callbacks).
    early_stopping : bool
        The split serves early stopping (scikit-learn's checks on its size apply).
    fraction : float
        ``validation_fraction``.
    random_state : int, RandomState instance or None
        Seeds the split.
    scoring : str, callable, list, tuple, dict or None
        The estimator's ``scoring``: a callable receives the validation rows.
    rows : array-like, StreamInput or None
        The rows as given to ``fit`` (after adapting), from which a callable
        scorer's validation rows are taken.
    """

    eval_set: tuple | None = None
    split: bool = False
    early_stopping: bool = False
    fraction: float = 0.1
    random_state: object = None
    scoring: object = None
    rows: object = None


def validation(
    est, callbacks, *, eval_set=None, incremental=False, rows=None
) -> Validation:
    """How the fit is validated: ``eval_set``, or a split of the rows for early
    stopping (not with L-BFGS, as in scikit-learn) or callbacks that monitor
    ``valid_*``; never for ``partial_fit``. ``rows`` are the inputs as given to
    ``fit``, for a callable scorer."""
    # scikit-learn ignores early_stopping with L-BFGS (no validation split).
    early_stopping = est.early_stopping and est.solver != "lbfgs"
    return Validation(
        eval_set=eval_set,
        split=not incremental
        and (early_stopping or any(cb.requires_validation for cb in callbacks)),
        early_stopping=early_stopping,
        fraction=est.validation_fraction,
        random_state=est.random_state,
        scoring=est.scoring,
        rows=rows,
    )


def fit_sources(
    X,
    y,
    y_enc: np.ndarray,
    sample_weight,
    *,
    device: torch.device,
    x_dtype: torch.dtype,
    targets: TargetHandler,
    validation: Validation,
    validate_inputs: Callable,
    train_data: Callable,
    seed: int,
    placement: str = "device",
    budget: int | None = None,
    parallel: bool = False,
) -> tuple[TensorData, TensorData | None]:
    """The training and validation batch sources of a fit.

    Parameters
    ----------
    X : array-like or StreamInput
        The validated inputs (a :class:`~sknn.data.adapters.StreamInput` streams).
    y : ndarray
        The targets as ``targets.prepare`` left them (the validation rows' true
        targets, for scorers).
    y_enc : ndarray
        The encoded targets.
    sample_weight : ndarray or None
        The loss's per-row weights.
    device, x_dtype : torch.device, torch.dtype
        Where the rows go and the inputs' floating dtype.
    targets : TargetHandler
        Encodes ``eval_set``'s targets and gives the targets' dtype and the labels a
        split is stratified on.
    validation : Validation
        Whether and how to validate.
    validate_inputs : callable
        The estimator's ``_validate_inputs`` (for ``eval_set``).
    train_data : callable
        ``train_data(data, seed, device)``: the estimator's wrapper of the training
        rows (augmentation), after the split.
    seed : int
        The fit's seed (the augmentation stream; the split's with data-parallel
        training and no ``random_state``).
    placement, budget : str, int or None
        ``data_placement`` and ``memory_budget``.
    parallel : bool
        Shard the training rows over the ``torch.distributed`` processes.

    Returns
    -------
    train, valid : TensorData, TensorData or None
        The batch sources.
    y_true, w_valid : ndarray or None
        The validation rows' targets (as prepared) and weights.
    x_valid : array-like or None
        The validation rows as given to ``fit``, when a callable scorer wants them.
    """
    y_dtype = targets.dtype or x_dtype
    if isinstance(X, StreamInput):
        data = X.source(
            X, y_enc, sample_weight, device, y_dtype=y_dtype, x_dtype=x_dtype
        )
    else:
        data = choose_source(
            X,
            y_enc,
            sample_weight,
            device,
            y_dtype=y_dtype,
            x_dtype=x_dtype,
            placement=placement,
            budget=budget,
        )
    valid = y_true = w_valid = None  # the held-out rows, their targets and weights
    x_valid = None  # the rows a callable scorer gets
    if validation.eval_set is not None:
        if wants_rows(validation.scoring):
            x_valid = validation.eval_set[0]
        X_val, y_val = validate_inputs(
            validation.eval_set[0], y=validation.eval_set[1], reset=False
        )
        y_true = targets.prepare(y_val)
        valid = TensorData(
            X_val,
            targets.transform(y_true),
            None,
            device,
            y_dtype=y_dtype,
            x_dtype=x_dtype,
        )
    elif validation.split:
        stratify = targets.stratify(y_enc)
        if validation.early_stopping:
            check_early_stopping_split(X.shape[0], validation.fraction, stratify)
        tr_idx, va_idx = validation_split(
            X.shape[0],
            validation.fraction,
            stratify=stratify,
            random_state=check_random_state(
                seed
                if parallel and validation.random_state is None
                else validation.random_state
            ),
        )
        require_rows(data, NO_ROWS)
        held = not isinstance(validation.rows, StreamInput)
        if wants_rows(validation.scoring, held=held):
            x_valid = _safe_indexing(validation.rows, va_idx)
        data, valid = data.subset(tr_idx), data.subset(va_idx)
        y_true = y[va_idx]
        w_valid = None if sample_weight is None else sample_weight[va_idx]
    data = train_data(data, seed, device)
    if parallel:
        data = distributed.ShardedData(data, *distributed.rank_and_world())
    return data, valid, y_true, w_valid, x_valid


def check_early_stopping_split(n_samples: int, fraction: float, stratify) -> None:
    """scikit-learn's MLP checks on the early-stopping split, with its messages.

    A class with one member cannot be stratified, and fewer than 2 validation rows
    cannot score (scikit-learn raises for both; a silent unstratified split or a
    one-row score would hide it).

    Examples
    --------
    >>> from sknn.plan.sources import check_early_stopping_split
    >>> try:
    ...     check_early_stopping_split(10, 0.1, None)
    ... except ValueError as exc:
    ...     print(exc)
    The validation set is too small. Increase 'validation_fraction' or the size of your dataset.
    """
    if stratify is not None:
        counts = np.bincount(np.asarray(stratify, dtype=np.int64))
        counts = counts[counts > 0]
        n_valid = int(np.ceil(fraction * n_samples))
        if counts.min() < 2 or min(n_valid, n_samples - n_valid) < len(counts):
            # scikit-learn splits its binarised targets (True / False columns):
            # its own split raises the error, so the message is the one its users
            # know.
            k = len(counts)
            codes = np.unique(stratify, return_inverse=True)[1]
            indicator = (
                (codes == 1)[:, None] if k <= 2 else codes[:, None] == np.arange(k)
            )
            train_test_split(
                np.arange(n_samples),
                test_size=fraction,
                stratify=indicator,
                random_state=0,
            )
    if int(np.ceil(fraction * n_samples)) < 2:
        raise ValueError(
            "The validation set is too small. Increase 'validation_fraction' or the "
            "size of your dataset."
        )
