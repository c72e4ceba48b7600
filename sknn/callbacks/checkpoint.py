"""Checkpoints written atomically, and fits resumed from them."""

from __future__ import annotations

import hashlib
import io
import math
import os

import torch

from sknn._archive import (
    check_optimizer_state,
    load_optimizer_into,
    torch_load_bytes,
)
from sknn.callbacks.base import Callback
from sknn.utils._files import atomic_write
from sknn.utils.ranks import is_main_process

_FORMAT = "sknn-checkpoint"
_VERSION = 2
# A checkpoint file: this magic, the SHA-256 of the rest, then a torch zip.
_MAGIC = b"SKNNCKPT\x02"
_DIGEST = hashlib.sha256


def _to_cpu(obj):
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu").clone()
    if isinstance(obj, dict):
        return {k: _to_cpu(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_to_cpu(v) for v in obj)
    return obj


def atomic_torch_save(obj, path: str | os.PathLike) -> None:
    """Write ``obj`` with :func:`torch.save`, prefixed by its SHA-256, atomically.

    The bytes go to a temporary file in the destination's directory that is then
    renamed, so a crash leaves either the previous file or the new one, never half of
    one; temporaries left by writers that were killed are removed first. The digest
    lets :func:`load_checkpoint` refuse a file whose bytes changed after writing.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from sknn.callbacks.checkpoint import atomic_torch_save, read_torch_file
    >>> path = os.path.join(tempfile.mkdtemp(), "x.pt")
    >>> atomic_torch_save({"w": torch.ones(2)}, path)
    >>> read_torch_file(path)["w"].tolist()
    [1.0, 1.0]
    """
    buf = io.BytesIO()
    torch.save(obj, buf)
    body = buf.getvalue()

    def write(fh) -> None:
        fh.write(_MAGIC)
        fh.write(_DIGEST(body).digest())
        fh.write(body)

    atomic_write(path, write)


def read_torch_file(path: str | os.PathLike):
    """Read a file written by :func:`atomic_torch_save`, checking its digest.

    Files of older sknn versions (a plain :func:`torch.save` file, no digest) are
    read too. Only tensors and plain values are unpickled.

    Raises
    ------
    ValueError
        If the digest does not match (the file was corrupted or altered) or the file
        holds anything but tensors and plain values.
    """
    name = os.fspath(path)
    with open(path, "rb") as fh:
        data = fh.read()
    if data.startswith(_MAGIC):
        size = _DIGEST().digest_size
        digest, body = (
            data[len(_MAGIC) : len(_MAGIC) + size],
            data[len(_MAGIC) + size :],
        )
        if len(digest) != size or _DIGEST(body).digest() != digest:
            raise ValueError(
                f"{name!r} is corrupt: its content does not match the digest written "
                "with it. Nothing was resumed."
            )
    else:
        body = data
    return torch_load_bytes(body, repr(name))


# What each checkpoint entry must hold.
def _is_state_dict(v) -> bool:
    return isinstance(v, dict) and all(
        isinstance(k, str) and isinstance(t, torch.Tensor) for k, t in v.items()
    )


#: The entries of a checkpoint that :meth:`sknn.training.Trainer.load_state_dict`
#: resumes.
_TRAINER_KEYS = ("module", "state", "history", "generator", "best_state")

_FIELDS = {
    "epoch": lambda v: isinstance(v, int) and v >= 0,
    "module": _is_state_dict,
    "optimizer": lambda v: isinstance(v, dict),
    "state": lambda v: isinstance(v, dict) and all(isinstance(k, str) for k in v),
    "history": lambda v: isinstance(v, list) and all(isinstance(r, dict) for r in v),
    "generator": lambda v: (
        v is None or (isinstance(v, torch.Tensor) and v.dtype == torch.uint8)
    ),
    "rng": lambda v: isinstance(v, torch.Tensor) and v.dtype == torch.uint8,
    "best_state": lambda v: v is None or _is_state_dict(v),
    "best_value": lambda v: isinstance(v, (int, float)),
    "callbacks": lambda v: isinstance(v, list),
}


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint written by :class:`Checkpoint` (tensors and numbers only).

    Parameters
    ----------
    path : str or path-like
        The checkpoint file.

    Returns
    -------
    dict
        ``epoch``, ``module`` (a state dict), ``optimizer``, ``state``, ``history``
        and the random-stream states.

    Raises
    ------
    ValueError
        If the file is not an sknn checkpoint, is corrupt (its SHA-256 digest does
        not match), lacks an entry or holds one of the wrong type, holds non-finite
        weights, or holds anything but tensors and plain values (it is read with
        ``torch.load(weights_only=True)``, which never runs code from the file).

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.callbacks import Checkpoint, load_checkpoint
    >>> X, y = load_iris(return_X_y=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.ckpt")
    >>> _ = MLPClassifier((8,), max_iter=3, callbacks=[Checkpoint(path)]).fit(X, y)
    >>> load_checkpoint(path)["epoch"]
    3
    """
    name = os.fspath(path)
    ckpt = read_torch_file(path)
    if not isinstance(ckpt, dict) or ckpt.get("format") != _FORMAT:
        raise ValueError(f"{name!r} is not an sknn checkpoint.")
    version = ckpt.get("version")
    if not isinstance(version, int) or version > _VERSION:
        raise ValueError(
            f"{name!r} was written by a newer sknn (checkpoint format "
            f"{version!r}); this sknn reads up to {_VERSION}."
        )
    missing = sorted(set(_FIELDS) - set(ckpt))
    if missing:
        raise ValueError(f"{name!r} is not a complete checkpoint: it lacks {missing}.")
    wrong = sorted(k for k, check in _FIELDS.items() if not check(ckpt[k]))
    if wrong:
        raise ValueError(f"{name!r} holds malformed checkpoint entries {wrong}.")
    for key in ("module", "best_state"):
        for tensor_name, t in (ckpt[key] or {}).items():
            if t.is_floating_point() and not bool(torch.isfinite(t).all()):
                raise ValueError(
                    f"{name!r} holds non-finite weights ({key} {tensor_name!r}); "
                    "refusing to resume from it."
                )
    check_optimizer_state(ckpt["optimizer"], repr(name))
    return ckpt


def _apply(path, what: str, setter, value) -> None:
    """Restore one piece of state; torch's errors become a ValueError naming it."""
    try:
        setter(value)
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(
            f"The checkpoint {os.fspath(path)!r} holds a {what} that does not fit this "
            f"fit ({type(exc).__name__}: {exc})."
        ) from exc


class Checkpoint(Callback):
    """Save the training state every few epochs and / or when a metric improves.

    Each checkpoint holds the weights, the optimiser state, the engine's counters,
    the history, the state of the shuffling generator and of the dropout random
    stream, and the state of callbacks that have one (early stopping, learning-rate
    schedulers). It is written to a temporary file that is then renamed, so a crash
    never leaves a half-written checkpoint. With ``resume=True``, a ``fit`` that finds
    the file continues from it and, on CPU with the same ``random_state``, reaches the
    same model as a fit that was never interrupted.

    Parameters
    ----------
    path : str or path-like, default="checkpoint.pt"
        File to write (and to resume from).
    every : int or None, default=1
        Save every ``every`` epochs; ``None`` saves only on improvement.
    monitor : str or None, default=None
        A recorded metric (``"valid_loss"``, ``"valid_score"``, ``"train_loss"``...);
        when set, also save whenever it improves.
    mode : {"auto", "min", "max"}, default="auto"
        Whether lower or higher is better for ``monitor``; ``"auto"`` means lower for
        names containing ``loss``.
    resume : bool, default=False
        At the start of ``fit``, continue from ``path`` when it exists.

    Attributes
    ----------
    saved_epochs_ : list of int
        Epochs at which a checkpoint was written.
    resumed_from_ : int or None
        Epoch of the checkpoint training resumed from.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.callbacks import Checkpoint
    >>> X, y = load_iris(return_X_y=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "iris.ckpt")
    >>> clf = MLPClassifier((8,), max_iter=6, random_state=0,
    ...                     callbacks=[Checkpoint(path, every=2)]).fit(X, y)
    >>> clf.callbacks_[0].saved_epochs_
    [2, 4, 6]
    >>> resumed = MLPClassifier((8,), max_iter=10, random_state=0,
    ...                         callbacks=[Checkpoint(path, resume=True)]).fit(X, y)
    >>> resumed.callbacks_[0].resumed_from_, resumed.n_iter_
    (6, 10)
    """

    def __init__(
        self,
        path: str | os.PathLike = "checkpoint.pt",
        *,
        every: int | None = 1,
        monitor: str | None = None,
        mode: str = "auto",
        resume: bool = False,
    ) -> None:
        self.path = path
        self.every = every
        self.monitor = monitor
        self.mode = mode
        self.resume = resume

    @property
    def requires_validation(self) -> bool:  # type: ignore[override]
        """True when the monitored metric is computed on the validation set."""
        return bool(self.monitor) and self.monitor.startswith("valid_")

    def _sign(self) -> float:
        if self.mode not in ("auto", "min", "max"):
            raise ValueError(f"mode must be 'auto', 'min' or 'max', got {self.mode!r}.")
        if self.mode == "auto":
            return -1.0 if "loss" in (self.monitor or "loss") else 1.0
        return 1.0 if self.mode == "max" else -1.0

    # -- resume -----------------------------------------------------------------------
    def on_train_begin(self, trainer) -> None:
        if self.every is not None and (int(self.every) != self.every or self.every < 1):
            raise ValueError(
                f"every must be a positive int or None; got {self.every!r}."
            )
        self._sign_ = self._sign()
        self.best_value_ = -math.inf * self._sign_
        self.saved_epochs_: list[int] = []
        self.resumed_from_ = None
        self._pending = None
        if not (self.resume and os.path.exists(self.path)):
            return
        ckpt = load_checkpoint(self.path)
        try:
            trainer.load_state_dict({key: ckpt[key] for key in _TRAINER_KEYS})
        except ValueError as exc:
            raise ValueError(
                f"Cannot resume from the checkpoint {os.fspath(self.path)!r}: {exc}"
            ) from exc
        self.best_value_ = ckpt["best_value"]
        self.resumed_from_ = ckpt["epoch"]
        self._pending = ckpt

    def on_epoch_begin(self, trainer) -> None:
        # Applied here, once every callback has begun and inside the estimator's
        # random stream: the optimiser (after schedulers set their initial rate),
        # the callbacks' states and the dropout stream.
        ckpt, self._pending = self._pending, None
        if ckpt is None:
            return
        where = f"The checkpoint {os.fspath(self.path)!r}"
        load_optimizer_into(trainer.optimizer, ckpt["optimizer"], where)
        for cb, saved in zip(trainer.callbacks, ckpt["callbacks"]):
            # Checkpoints of older versions hold None for callbacks without state.
            if (
                isinstance(saved, (list, tuple))
                and len(saved) == 2
                and type(cb).__name__ == saved[0]
            ):
                current = cb.state_dict()
                if not isinstance(saved[1], dict) or (
                    isinstance(current, dict) and not set(saved[1]) <= set(current)
                ):
                    raise ValueError(
                        f"The checkpoint {os.fspath(self.path)!r} holds a malformed "
                        f"state for callback {saved[0]}."
                    )
                _apply(self.path, f"{saved[0]} state", cb.load_state_dict, saved[1])
        _apply(self.path, "random stream", torch.random.set_rng_state, ckpt["rng"])

    # -- save -------------------------------------------------------------------------
    def on_epoch_end(self, trainer, record: dict) -> None:
        epoch = record["epoch"]
        save = self.every is not None and epoch % self.every == 0
        if self.monitor is not None:
            if self.monitor not in record:
                raise ValueError(
                    f"Checkpoint monitors {self.monitor!r}, which is not recorded; "
                    f"recorded metrics are {sorted(record)}."
                )
            value = record[self.monitor]
            if value is not None and self._sign_ * (value - self.best_value_) > 0:
                self.best_value_ = value
                save = True
        if save and is_main_process():  # one writer in a data-parallel fit
            atomic_torch_save(self._payload(trainer), self.path)
            self.saved_epochs_.append(epoch)

    def _payload(self, trainer) -> dict:
        return {
            "format": _FORMAT,
            "version": _VERSION,
            "epoch": trainer.state.epoch,
            **_to_cpu(trainer.state_dict()),
            "optimizer": _to_cpu(trainer.optimizer.state_dict()),
            "rng": torch.random.get_rng_state(),
            "best_value": self.best_value_,
            "callbacks": [
                (type(cb).__name__, _to_cpu(cb.state_dict()))
                for cb in trainer.callbacks
            ],
        }

    def on_train_end(self, trainer) -> None:
        self._pending = None
