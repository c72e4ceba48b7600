"""Version shims: the one place that knows which library version does what.

Every private scikit-learn name sknn uses (a leading underscore, or a private module)
is imported here and only here (a test checks it), so that a scikit-learn release that
moves one is met in one file.
"""

from __future__ import annotations

import torch
from sklearn.base import _fit_context
from sklearn.metrics._scorer import _MultimetricScorer
from sklearn.model_selection._search import BaseSearchCV
from sklearn.model_selection._validation import (
    _aggregate_score_dicts,
    _fit_and_score,
    _insert_error_scores,
    _normalize_score_results,
    _score,
    _warn_or_raise_about_fit_failures,
)
from sklearn.utils import _safe_indexing
from sklearn.utils._metadata_requests import _routing_enabled
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    InvalidParameterError,
    Options,
    StrOptions,
)
from sklearn.utils.metaestimators import _safe_split
from sklearn.utils.validation import (
    _check_method_params,
    _check_sample_weight,
    _num_samples,
)

#: ``torch.optim`` optimizers that accept ``fused=True`` on CPU tensors.
_FUSED_CPU = ("Adam", "AdamW", "SGD", "Adagrad")


def optimizer_speed_kwargs(name: str, device: torch.device) -> dict:
    """Return the fastest kernel option torch offers for an optimizer on a device.

    Fused kernels exist for CUDA (and for a few optimizers on CPU since torch 2.4);
    ``foreach`` is the fallback that batches the per-parameter updates.
    """
    if device.type == "cuda" and name in ("Adam", "AdamW", "SGD", "Adagrad", "RMSprop"):
        return {"fused": True} if name != "RMSprop" else {"foreach": True}
    if device.type == "cpu" and name in _FUSED_CPU:
        return {"fused": True}
    return {"foreach": True}


def joblib_uses_local_processes() -> bool:
    """Whether joblib's active backend runs tasks in processes of this machine.

    True for joblib's default (loky) and for ``multiprocessing``; False under
    ``parallel_config(backend="threading")`` and for cluster backends (Dask, Ray).
    """
    from joblib._parallel_backends import LokyBackend, MultiprocessingBackend
    from joblib.parallel import get_active_backend

    backend, _ = get_active_backend()
    return isinstance(backend, (LokyBackend, MultiprocessingBackend))


__all__ = [
    "BaseSearchCV",
    "HasMethods",
    "Interval",
    "InvalidParameterError",
    "Options",
    "StrOptions",
    "_MultimetricScorer",
    "_aggregate_score_dicts",
    "_check_method_params",
    "_check_sample_weight",
    "_fit_and_score",
    "_fit_context",
    "_insert_error_scores",
    "_normalize_score_results",
    "_num_samples",
    "_routing_enabled",
    "_safe_indexing",
    "_safe_split",
    "_score",
    "_warn_or_raise_about_fit_failures",
    "joblib_uses_local_processes",
    "optimizer_speed_kwargs",
]
