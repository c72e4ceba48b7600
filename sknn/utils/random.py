"""One seed for everything: initialisation, shuffling, dropout, validation split."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from sklearn.utils import check_random_state


def draw_seed(random_state) -> int:
    """Draw a 63-bit torch seed from a sklearn ``random_state``.

    Parameters
    ----------
    random_state : int, RandomState instance or None
        As in scikit-learn. ``None`` gives a fresh seed each call.

    Returns
    -------
    int
        A seed for :func:`torch.manual_seed` or a :class:`torch.Generator`.

    Examples
    --------
    >>> from sknn.utils.random import draw_seed
    >>> draw_seed(0) == draw_seed(0)
    True
    """
    rng = check_random_state(random_state)
    return int(rng.randint(0, np.iinfo(np.int32).max)) * 2**31 + int(
        rng.randint(0, np.iinfo(np.int32).max)
    )


class RNGScope:
    """A private stream for torch's global generator (dropout, random init).

    Entering the scope swaps in this stream's state and leaving it swaps the caller's
    back, so a fit that is run epoch by epoch (interleaved with other fits) draws the
    same numbers as one run in a single go.

    Examples
    --------
    >>> import torch
    >>> from sknn.utils.random import RNGScope
    >>> a, b = RNGScope(0), RNGScope(0)
    >>> with a:
    ...     x = torch.rand(1)
    >>> with b:
    ...     y = torch.rand(1)
    >>> bool(x == y)
    True
    """

    def __init__(self, seed: int) -> None:
        gen = torch.Generator().manual_seed(seed)
        self._state = gen.get_state()
        self._cuda_state = None
        self._seed = seed

    def __enter__(self) -> RNGScope:
        self._saved = torch.random.get_rng_state()
        torch.random.set_rng_state(self._state)
        if torch.cuda.is_available():
            self._saved_cuda = torch.cuda.get_rng_state()
            if self._cuda_state is None:
                torch.cuda.manual_seed(self._seed)
            else:
                torch.cuda.set_rng_state(self._cuda_state)
        return self

    def __exit__(self, *exc) -> None:
        self._state = torch.random.get_rng_state()
        torch.random.set_rng_state(self._saved)
        if torch.cuda.is_available():
            self._cuda_state = torch.cuda.get_rng_state()
            torch.cuda.set_rng_state(self._saved_cuda)


@contextlib.contextmanager
def torch_seed(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's global generators inside the block, restoring them afterwards.

    The global generator drives parameter initialisation and dropout; forking it keeps
    sknn from disturbing a user's own random stream.
    """
    devices = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(seed)
        yield
