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
