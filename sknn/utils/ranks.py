"""Which process this is in a torch.distributed job (rank 0 writes the files).

Kept apart from :mod:`sknn.training.distributed` so that callbacks can ask
:func:`is_main_process` without importing the training engine.
"""

from __future__ import annotations

import os

import torch.distributed as dist


def launched() -> bool:
    """Whether this process was started by torchrun (or a launcher like it) with
    more than one process.

    Examples
    --------
    >>> from sknn.training.distributed import launched
    >>> isinstance(launched(), bool)
    True
    """
    try:
        return int(os.environ.get("WORLD_SIZE", "1")) > 1 and "RANK" in os.environ
    except ValueError:
        return False


def active() -> bool:
    """Whether a process group of more than one process is initialised.

    Examples
    --------
    >>> from sknn.training.distributed import active
    >>> active()
    False
    """
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank_and_world() -> tuple[int, int]:
    """``(rank, world_size)``; ``(0, 1)`` outside a process group.

    Examples
    --------
    >>> from sknn.training.distributed import rank_and_world
    >>> rank_and_world()
    (0, 1)
    """
    if not active():
        return 0, 1
    return dist.get_rank(), dist.get_world_size()


def is_main_process() -> bool:
    """True in rank 0 (and outside a process group): the process that writes files.

    Examples
    --------
    >>> from sknn.training.distributed import is_main_process
    >>> is_main_process()
    True
    """
    return rank_and_world()[0] == 0


__all__ = ["active", "is_main_process", "launched", "rank_and_world"]
