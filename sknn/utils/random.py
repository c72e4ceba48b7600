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


def is_generator_state(state) -> bool:
    """Whether ``state`` is a CPU ``torch.Generator`` state stored as a uint8 array.

    Model files are untrusted: the random streams that ``partial_fit`` continues are
    checked when a file is loaded, not when they are first used.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.utils.random import is_generator_state
    >>> is_generator_state(torch.Generator().get_state().numpy())
    True
    >>> is_generator_state(np.zeros(3, dtype=np.uint8))
    False
    """
    if not (
        isinstance(state, np.ndarray) and state.ndim == 1 and state.dtype == np.uint8
    ):
        return False
    try:
        torch.Generator().set_state(torch.from_numpy(state.copy()))
    except (RuntimeError, ValueError):
        return False
    return True


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

    def get_state(self) -> tuple[np.ndarray, np.ndarray | None]:
        """The stream's position: the CPU state and the CUDA one (``None`` until the
        stream has drawn on a GPU), as arrays that :func:`sknn.save` can store.

        Examples
        --------
        >>> import torch
        >>> from sknn.utils.random import RNGScope
        >>> a = RNGScope(0)
        >>> with a:
        ...     _ = torch.rand(1)
        >>> b = RNGScope(1)
        >>> b.set_state(a.get_state())
        >>> with a:
        ...     x = torch.rand(1)
        >>> with b:
        ...     y = torch.rand(1)
        >>> bool(x == y)
        True
        """
        cuda = None if self._cuda_state is None else self._cuda_state.numpy().copy()
        return self._state.numpy().copy(), cuda

    def set_state(self, state: tuple) -> None:
        """Continue from a position returned by :meth:`get_state`.

        Raises
        ------
        ValueError
            If ``state`` is not such a position (a corrupt model file).
        """
        if not is_scope_state(state):
            raise ValueError("Malformed random-stream state.")
        cpu, cuda = state
        self._state = torch.from_numpy(cpu.copy())
        if cuda is not None and torch.cuda.is_available():
            self._cuda_state = torch.from_numpy(cuda.copy())


def is_scope_state(state) -> bool:
    """Whether ``state`` is a position returned by :meth:`RNGScope.get_state`.

    Examples
    --------
    >>> from sknn.utils.random import RNGScope, is_scope_state
    >>> is_scope_state(RNGScope(0).get_state()), is_scope_state((None, None))
    (True, False)
    """
    if not (isinstance(state, tuple) and len(state) == 2):
        return False
    cpu, cuda = state
    return is_generator_state(cpu) and (
        cuda is None
        or (isinstance(cuda, np.ndarray) and cuda.ndim == 1 and cuda.dtype == np.uint8)
    )


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
