"""Version shims: the one place that knows which library version does what."""

from __future__ import annotations

import torch

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
