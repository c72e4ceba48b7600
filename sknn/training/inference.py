"""Inference in large chunks: host arrays are converted one chunk at a time and the
outputs written into one preallocated tensor.

Peak extra memory of a prediction is the output plus one chunk (its converted input
and the network's activations), whatever the number of rows: the whole input is
never copied (to the device or to the network's dtype) and no list of per-chunk
outputs is concatenated.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import scipy.sparse as sp
import torch
from torch import nn

from sknn.training.data import StreamData, TensorData, cast_checked
from sknn.training.sources import Batch, Capabilities, SourceWrapper, batch_bounds

#: Rows per inference chunk.
CHUNK_SIZE = 4096

# Tiny inputs take other BLAS kernels (GEMV) that round differently, and so do the
# rows of a last, partial block of a matrix product: chunks are padded to a multiple
# of 8 rows by repeating their last row, so that a row's prediction never depends on
# how many rows are predicted with it (tested in tests/test_rnn.py and
# tests/test_mlp.py).
_MIN_ROWS = 8


def as_inputs(X) -> tuple:
    """The module's positional inputs as a tuple (``X`` itself unless it is one)."""
    return tuple(X) if isinstance(X, (tuple, list)) else (X,)


def n_rows(X) -> int:
    """Number of rows (samples) of validated inputs."""
    return as_inputs(X)[0].shape[0]


def to_device_chunk(
    x, start: int, stop: int, device: torch.device, dtype: torch.dtype
) -> torch.Tensor:
    """Rows ``start:stop`` of one input as a ``dtype`` tensor on ``device``.

    NumPy arrays and SciPy sparse matrices (densified here) are converted to the
    network's floating ``dtype``; tensors that are not floating (lengths, indices)
    keep theirs. A float64 chunk narrowed to float32 is checked for overflow.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training.inference import to_device_chunk
    >>> to_device_chunk(np.ones((5, 2)), 1, 3, torch.device("cpu"), torch.float32).dtype
    torch.float32
    """
    if sp.issparse(x):
        block = (x if x.format in ("csr", "csc") else x.tocsr())[start:stop]
        t = torch.from_numpy(np.asarray(block.toarray()))
    elif isinstance(x, torch.Tensor):
        t = x[start:stop]
        if not t.is_floating_point():
            return t.to(device)
    else:
        a = np.ascontiguousarray(x[start:stop])
        if not a.flags.writeable:  # read-only memmaps: torch needs writable memory
            a = a.copy()
        t = torch.from_numpy(a)
    return cast_checked(t, dtype).to(device)


class HostInputs:
    """Validated host inputs read in order, one chunk at a time: the batch source of
    predictions on arrays.

    Each chunk of each input is converted on its own (:func:`to_device_chunk`), so a
    prediction never copies its whole input (to the device or to the network's
    dtype). Its capabilities say it keeps its rows on the host and has no rows by
    index (nothing but predictions reads it).

    Parameters
    ----------
    inputs : array-like, sparse matrix or tensor, or a tuple of them
        Validated inputs (samples first).
    device : torch.device
        Where chunks go.
    dtype : torch.dtype
        Floating dtype of the chunks (tensors that are not floating keep theirs).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training.inference import HostInputs
    >>> source = HostInputs(np.ones((5, 2)), torch.device("cpu"), torch.float32)
    >>> [b.inputs[0].shape[0] for b in source.batches(2)]
    [2, 2, 1]
    """

    capabilities = Capabilities(rows=False, streamed=True)
    #: Predictions read no targets or weights.
    y = w = None

    def __init__(self, inputs, device: torch.device, dtype: torch.dtype) -> None:
        self.inputs = [x.tocsr() if sp.issparse(x) else x for x in as_inputs(inputs)]
        self.sparse = [sp.issparse(x) for x in self.inputs]
        self.device, self.x_dtype = device, dtype
        self.n_samples = self.inputs[0].shape[0]

    def __len__(self) -> int:
        return self.n_samples

    def batches(
        self,
        batch_size: int,
        generator: torch.Generator | None = None,
        *,
        merge_last: bool = False,
    ) -> Iterator[Batch]:
        """The rows in order, ``batch_size`` at a time, on the device (``generator``
        and ``merge_last`` do not apply: predictions read every row once)."""
        for start, stop in batch_bounds(self.n_samples, batch_size):
            yield Batch(
                tuple(
                    to_device_chunk(x, start, stop, self.device, self.x_dtype)
                    for x in self.inputs
                ),
                None,
                None,
            )


#: The batch sources; other ``data`` given to :func:`predict_batched` are validated
#: host inputs, read through a :class:`HostInputs`.
SOURCES = (TensorData, StreamData, SourceWrapper, HostInputs)


def _pad(xb: Sequence[torch.Tensor]) -> tuple:
    n = xb[0].shape[0]
    extra = -n % _MIN_ROWS
    if not extra:
        return tuple(xb)
    return tuple(torch.cat([x, x[-1:].expand(extra, *x.shape[1:])]) for x in xb)


@torch.inference_mode()
def predict_batched(
    module: nn.Module,
    data,
    chunk_size: int = CHUNK_SIZE,
    *,
    device: torch.device | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Run ``module`` in eval mode over ``data`` in chunks; returns a device tensor.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    data : BatchSource, or array-like, sparse matrix or tuple of them
        A batch source (:mod:`sknn.training.sources`), read in order; or validated
        host inputs (samples first), read through a :class:`HostInputs` that
        converts them to ``dtype`` on ``device`` one chunk at a time.
    chunk_size : int, default=4096
        Rows per forward pass.
    device : torch.device, optional
        Where host inputs go (the module's device); a source has its own.
    dtype : torch.dtype, default=torch.float32
        Floating dtype the network computes in, for host inputs.

    Returns
    -------
    torch.Tensor
        The outputs of all rows, in one tensor allocated once.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training import TensorData, predict_batched
    >>> data = TensorData(np.ones((5, 3)), None, None, torch.device("cpu"))
    >>> predict_batched(torch.nn.Linear(3, 2), data).shape
    torch.Size([5, 2])
    >>> predict_batched(torch.nn.Linear(3, 2), np.ones((10, 3)), chunk_size=4).shape
    torch.Size([10, 2])
    """
    if device is None:
        device = torch.device("cpu")
    source = data if isinstance(data, SOURCES) else HostInputs(data, device, dtype)
    n = source.n_samples
    # A fitted network is in eval mode already; switching (every submodule) only when
    # it is not keeps the cost of a one-row prediction down.
    was_training = module.training
    if was_training:
        module.eval()
    out = None
    try:
        start = 0
        for batch in source.batches(chunk_size):
            xb = batch.inputs
            rows = xb[0].shape[0]
            res = module(*_pad(xb))[:rows]
            if rows == n:  # one chunk: no copy
                return res
            if out is None:
                out = torch.empty(
                    (n, *res.shape[1:]), dtype=res.dtype, device=res.device
                )
            out[start : start + rows] = res
            start += rows
    finally:
        if was_training:
            module.train()
    return out if out is not None else torch.empty(0)
