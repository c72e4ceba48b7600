"""In-memory training data as device tensors, batched by index slices."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import scipy.sparse as sp
import torch

Batch = tuple[tuple[torch.Tensor, ...], torch.Tensor | None, torch.Tensor | None]


def _to_tensor(
    a, device: torch.device, dtype: torch.dtype | None = None
) -> torch.Tensor:
    if isinstance(a, np.ndarray):
        a = np.ascontiguousarray(a)
        if not a.flags.writeable:  # read-only memmaps: torch needs writable memory
            a = a.copy()
    t = torch.as_tensor(a)
    if dtype is not None:
        t = t.to(dtype)
    return t.to(device)


class TensorData:
    """Inputs, targets and sample weights moved to the device once per fit.

    Batches are index slices: each epoch gathers the rows in shuffled order once and
    yields views, so there is no per-sample ``Dataset`` and no host round trip per batch.
    A SciPy sparse matrix stays on the host and is densified one batch at a time.

    Parameters
    ----------
    inputs : array-like, sparse matrix, or sequence of them
        The module's positional inputs; each has the samples on its first axis.
    y : array-like or None
        Targets (any shape with samples first).
    sample_weight : array-like or None
        Per-sample weights.
    device : torch.device
        Where the tensors live.
    y_dtype : torch.dtype, optional
        Target dtype (``torch.long`` for class indices, float otherwise).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData
    >>> data = TensorData(np.arange(10.0).reshape(5, 2), np.arange(5), None, torch.device("cpu"))
    >>> [len(b[1]) for b in data.batches(2)]
    [2, 2, 1]
    """

    def __init__(
        self,
        inputs,
        y,
        sample_weight,
        device: torch.device,
        *,
        y_dtype: torch.dtype | None = None,
        x_dtype: torch.dtype = torch.float32,
    ) -> None:
        if not isinstance(inputs, (tuple, list)):
            inputs = (inputs,)
        self.device = device
        self.sparse = [sp.issparse(x) for x in inputs]
        self.inputs: list = []
        for x, is_sparse in zip(inputs, self.sparse):
            if is_sparse:
                self.inputs.append(
                    sp.csr_matrix(x, dtype=torch.empty(0, dtype=x_dtype).numpy().dtype)
                )
            elif isinstance(x, torch.Tensor) and not torch.is_floating_point(x):
                self.inputs.append(x.to(device))
            else:
                self.inputs.append(_to_tensor(x, device, x_dtype))
        self.n_samples = self.inputs[0].shape[0]
        self.y = None if y is None else _to_tensor(y, device, y_dtype)
        self.w = (
            None
            if sample_weight is None
            else _to_tensor(sample_weight, device, x_dtype)
        )

    def __len__(self) -> int:
        return self.n_samples

    def subset(self, index: np.ndarray) -> TensorData:
        """Return the rows in ``index`` as a new :class:`TensorData` on the same device."""
        new = object.__new__(TensorData)
        new.device = self.device
        new.sparse = self.sparse
        idx_t = torch.as_tensor(index, dtype=torch.long, device=self.device)
        new.inputs = [
            x[index] if s else x.index_select(0, idx_t)
            for x, s in zip(self.inputs, self.sparse)
        ]
        new.n_samples = len(index)
        new.y = None if self.y is None else self.y.index_select(0, idx_t)
        new.w = None if self.w is None else self.w.index_select(0, idx_t)
        return new

    def _dense(self, x, rows: slice) -> torch.Tensor:
        block = x[rows].toarray()
        return torch.from_numpy(block).to(self.device, non_blocking=True)

    def batches(
        self, batch_size: int, generator: torch.Generator | None = None
    ) -> Iterator[Batch]:
        """Yield ``(inputs, y, w)`` batches, shuffled when a generator is given."""
        n = self.n_samples
        if generator is not None:
            perm = torch.randperm(n, generator=generator)
            perm_dev = perm.to(self.device, non_blocking=True)
            perm_np = perm.numpy()
            # Sparse matrices are permuted once per epoch on the host, so that each
            # batch is a cheap contiguous row slice densified on its own.
            xs = [
                x[perm_np] if s else x.index_select(0, perm_dev)
                for x, s in zip(self.inputs, self.sparse)
            ]
            y = None if self.y is None else self.y.index_select(0, perm_dev)
            w = None if self.w is None else self.w.index_select(0, perm_dev)
        else:
            xs, y, w = self.inputs, self.y, self.w
        for start in range(0, n, batch_size):
            stop = min(start + batch_size, n)
            xb = tuple(
                self._dense(x, slice(start, stop)) if s else x[start:stop]
                for x, s in zip(xs, self.sparse)
            )
            yield (
                xb,
                None if y is None else y[start:stop],
                None if w is None else w[start:stop],
            )
