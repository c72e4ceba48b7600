"""Where a fit's rows go: the memory budget, the one estimate of the rows' bytes, and
the one decision between device memory and streaming from the host.

Arrays are placed when their batch source is made
(:func:`~sknn.training.host.choose_source`); a map-style Dataset when it is first read
(:mod:`sknn.data.streams`), which must decide before reading it all. Both estimate with
:func:`rows_bytes` and decide with :func:`choose_placement`; the stacked engine splits
its passes within the same :func:`memory_budget`.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import torch

#: Values of ``data_placement``.
PLACEMENTS = ("auto", "device", "stream")


def rows_bytes(n_rows: int, row_shapes: Sequence[Sequence[int]], itemsize: int) -> int:
    """Bytes ``n_rows`` rows take on the device: one value of ``itemsize`` bytes per
    element of each input's row shape.

    Examples
    --------
    >>> from sknn.training.placement import rows_bytes
    >>> rows_bytes(10, [(3,)], itemsize=4)
    120
    >>> rows_bytes(10, [(2, 2), ()], itemsize=8)
    400
    """
    return n_rows * sum(math.prod(shape) for shape in row_shapes) * itemsize


def input_bytes(X, x_dtype: torch.dtype) -> int:
    """Bytes the inputs ``X`` (one or several, samples first) take as ``x_dtype``
    tensors (:func:`rows_bytes`).

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.training.placement import input_bytes
    >>> input_bytes(np.zeros((10, 3)), torch.float32)
    120
    """
    xs = X if isinstance(X, (tuple, list)) else (X,)
    return rows_bytes(
        xs[0].shape[0], [tuple(x.shape[1:]) for x in xs], x_dtype.itemsize
    )


def choose_placement(placement: str, n_bytes: int, budget: int) -> str:
    """``"device"`` or ``"stream"``: where training inputs of ``n_bytes`` go.

    ``"device"`` and ``"stream"`` are kept; ``"auto"`` streams only when the inputs
    (in the fit dtype) take more than ``budget`` bytes.

    Examples
    --------
    >>> from sknn.training.placement import choose_placement
    >>> choose_placement("auto", n_bytes=100, budget=1000)
    'device'
    >>> choose_placement("auto", n_bytes=1001, budget=1000)
    'stream'
    >>> choose_placement("stream", n_bytes=1, budget=1000)
    'stream'
    """
    if placement not in PLACEMENTS:
        raise ValueError(
            f"data_placement must be one of {PLACEMENTS}; got {placement!r}."
        )
    if placement != "auto":
        return placement
    return "stream" if n_bytes > budget else "device"


def memory_budget(device: torch.device, fraction: float = 0.5) -> int:
    """Bytes a stacked pass may use: a share of free GPU memory, or of available RAM.

    Examples
    --------
    >>> import torch
    >>> from sknn.training.placement import memory_budget
    >>> memory_budget(torch.device("cpu")) > 0
    True
    """
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free * fraction)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(int(line.split()[1]) * 1024 * fraction)
    except OSError:
        pass
    try:
        pages = os.sysconf("SC_AVPHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # no sysconf (Windows)
        pages = 2**18
    return int(pages * 4096 * fraction)
