"""One divergence guard for the single and the stacked engine: finite checks read
with the epoch's one host sync, and the snapshots a diverged run falls back to.

The rules (:mod:`sknn.training.engine`): a non-finite loss or non-finite weights end a
run with the newest finite weights whose outputs on the training rows are finite
(``stop_reason="diverged"``), or with ``stop_reason="non-finite"`` where a fresh fit
has no such weights; the records of the epochs passed over are forgotten
(:meth:`~sknn.training.book.EpochBook.forget`).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import torch


def finite_flag(
    tensors: Sequence[torch.Tensor], device: torch.device | None = None
) -> torch.Tensor:
    """A 0-d device tensor, true when every floating tensor is finite.

    The minimum and maximum of each tensor (exact: no sum that could overflow; a NaN
    propagates), and no host sync: the caller reads it with the epoch's loss.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.divergence import finite_flag
    >>> bool(finite_flag([torch.ones(3), torch.tensor([1.0, float("nan")])]))
    False
    """
    tensors = [t for t in tensors if t.is_floating_point() and t.numel()]
    if not tensors:
        return torch.ones((), dtype=torch.bool, device=device)
    dtype = widest_dtype(tensors)
    ends = [torch.stack(torch.aminmax(t.reshape(-1))).to(dtype) for t in tensors]
    return torch.isfinite(torch.cat(ends)).all()


def widest_dtype(tensors: Sequence[torch.Tensor]) -> torch.dtype:
    """float64 when one of ``tensors`` is float64, else float32.

    Values gathered into one tensor (one host sync) keep their range: a float64 loss
    of 1e58 is finite, and float32 would read it as infinite.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.divergence import widest_dtype
    >>> widest_dtype([torch.ones(1), torch.ones(1, dtype=torch.float64)])
    torch.float64
    """
    wide = any(t.dtype == torch.float64 for t in tensors)
    return torch.float64 if wide else torch.float32


def read_values(values: Sequence[torch.Tensor]) -> list:
    """Scalars (0-d device tensors) read on the host in one sync, in
    :func:`widest_dtype`.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.divergence import read_values
    >>> read_values([torch.tensor(1e58, dtype=torch.float64), torch.tensor(True)])
    [1e+58, 1.0]
    """
    dtype = widest_dtype(values)
    return torch.stack([v.to(dtype) for v in values]).tolist()


def warn_non_finite(out: torch.Tensor) -> torch.Tensor:
    """Warn when a network's outputs are not all finite; return ``out`` unchanged.

    Inputs are validated finite and the weights are finite after every fit, so this
    means values too large for the network (an input far outside the training range).

    Examples
    --------
    >>> import torch, warnings
    >>> from sknn.training.divergence import warn_non_finite
    >>> with warnings.catch_warnings(record=True) as w:
    ...     warnings.simplefilter("always")
    ...     _ = warn_non_finite(torch.tensor([[1.0], [float("inf")]]))
    >>> str(w[0].message)[:49]
    'The network produced non-finite outputs for 1 of '
    """
    if out.is_floating_point() and out.numel():
        bad = ~torch.isfinite(out.reshape(out.shape[0], -1)).all(1)
        n_bad = int(bad.sum())
        if n_bad:
            warnings.warn(
                f"The network produced non-finite outputs for {n_bad} of "
                f"{out.shape[0]} rows: their input values are too large for the "
                'network. Scale the input (or fit with dtype="float64").',
                RuntimeWarning,
                stacklevel=3,
            )
    return out


class DivergenceGuard:
    """The two newest snapshots of finite weights, swapped (not copied) each epoch.

    The newest may be finite and still give non-finite outputs; then the one before it
    is tried. A fresh fit's initial weights are no fallback (nothing was learnt):
    ``kept`` counts the snapshots worth trying. The stacked engine keeps one guard
    over its stacked tensors, one row (and one ``kept``) per network.

    Parameters
    ----------
    state : mapping of str to torch.Tensor
        The weights and buffers to snapshot (a state dict; stacked along a first
        "model" axis in the stacked engine).
    kept : sequence of int
        Snapshots worth trying so far, per network (one entry when not stacked): 1
        for a run that continues earlier epochs, else 0.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.divergence import DivergenceGuard
    >>> w = {"w": torch.zeros(2)}
    >>> guard = DivergenceGuard(w, kept=[0])
    >>> w["w"] += 1; guard.commit(w)
    >>> w["w"] += 1; guard.commit(w)
    >>> [s["w"].tolist() for s in guard.snapshots()]
    [[2.0, 2.0], [1.0, 1.0]]
    """

    def __init__(self, state: Mapping[str, torch.Tensor], kept: Sequence[int]) -> None:
        self.last = {k: v.detach().clone() for k, v in state.items()}
        self.prev = {k: v.detach().clone() for k, v in state.items()}
        self.kept = list(kept)

    def commit(self, state: Mapping[str, torch.Tensor]) -> None:
        """After a finite epoch: ``state`` becomes the newest snapshot."""
        self.prev, self.last = self.last, self.prev
        with torch.no_grad():
            for k, v in state.items():
                self.last[k].copy_(v)
        self.kept = [n + 1 for n in self.kept]

    def reset(self, state: Mapping[str, torch.Tensor]) -> None:
        """``state`` becomes the newest snapshot (a resumed run's weights)."""
        with torch.no_grad():
            for k, v in state.items():
                self.last[k].copy_(v)

    def latest(self, row: int | None = None) -> dict[str, torch.Tensor]:
        """The newest snapshot (of network ``row`` when stacked), tried or not."""
        return self.last if row is None else {k: v[row] for k, v in self.last.items()}

    def snapshots(self, row: int | None = None) -> list[dict[str, torch.Tensor]]:
        """The snapshots worth trying, newest first (of network ``row`` when
        stacked)."""
        snaps = [self.last, self.prev][: self.kept[0 if row is None else row]]
        if row is None:
            return snaps
        return [{k: v[row] for k, v in snap.items()} for snap in snaps]

    def select(self, rows: Sequence[int]) -> None:
        """Keep the networks ``rows`` of a stacked guard (the others stopped)."""
        idx = torch.tensor(list(rows), device=next(iter(self.last.values())).device)
        self.last = {k: v.index_select(0, idx) for k, v in self.last.items()}
        self.prev = {k: v.index_select(0, idx) for k, v in self.prev.items()}
        self.kept = [self.kept[i] for i in rows]
