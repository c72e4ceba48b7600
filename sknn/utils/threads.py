"""How many CPU threads torch uses for one fit or predict call (``n_threads``).

torch's default is one intra-op thread per core. On a machine where other work runs (a
shared server, a notebook beside a browser, joblib workers, other fits) its OpenMP
threads spin while they wait for a core, and a small network can train tens of times
slower with two threads than with one. Small networks gain nothing from more threads
either: their matrix products are too small to split.

So ``n_threads=None`` (automatic) picks, for each call:

* at most the threads torch is allowed now (:func:`torch.get_num_threads`, which
  follows ``OMP_NUM_THREADS``, :func:`torch.set_num_threads`, ``threadpoolctl``'s
  limits and the one-thread-per-worker limit that joblib's process workers set);
* one thread in a thread other than the main one (joblib's threading backend, Dask
  workers, web servers): torch's thread count is global to the process, so threads
  that each ran a multi-threaded fit would oversubscribe the cores;
* no more threads than there are idle cores: on Linux, the cores that threads of other
  processes are not running on at this moment (``/proc/loadavg``'s runnable count less
  this process's own running threads); elsewhere the 1-minute load average;
* one thread per ``MACS_PER_THREAD`` multiply-adds in a step (a mini-batch of
  training, or a chunk of prediction).

An integer ``n_threads`` is used as given. The setting holds for the duration of the
call only: torch's previous thread count is restored afterwards.
"""

from __future__ import annotations

import contextlib
import math
import os
import threading
from collections.abc import Iterator, Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import PackedSequence

#: Multiply-adds per step below which one more thread does not pay for itself
#: (measured on 2 idle cores: a second thread pays from about 2M multiply-adds a step;
#: a 64-16-10 MLP with batches of 32, 0.1M, trains faster on one).
MACS_PER_THREAD = 2**20

_lock = threading.Lock()
_depth = 0
_saved: int | None = None


def available_cores() -> int:
    """Cores this process may use (CPU affinity and container quotas included).

    Examples
    --------
    >>> from sknn.utils.threads import available_cores
    >>> available_cores() >= 1
    True
    """
    from joblib import cpu_count

    return max(1, int(cpu_count()))


def _running_elsewhere() -> float | None:
    """Threads of other processes running now (Linux), or ``None`` where unknown.

    ``/proc/loadavg``'s runnable count is instantaneous, unlike the load averages,
    which for a minute still count this process's own finished work (a fit right
    after another would think the machine busy). This process's own running threads
    (the caller, and OpenMP workers still spinning) are taken off.
    """
    try:
        with open("/proc/loadavg") as f:
            running = int(f.read().split()[3].split("/")[0])
        tids = os.listdir("/proc/self/task")
    except (OSError, ValueError, IndexError):
        return None
    own = 0
    for tid in tids:
        try:
            with open(f"/proc/self/task/{tid}/stat") as f:
                own += f.read().rpartition(")")[2].split()[0] == "R"
        except (OSError, IndexError):  # a thread that ended meanwhile
            continue
    return float(max(0, running - max(own, 1)))


def idle_cores(cores: int | None = None) -> int:
    """Cores not busy with other processes' work (at least 1).

    On Linux, the runnable threads of other processes at this moment; elsewhere the
    1-minute load average; where neither exists (Windows), all ``cores`` count as
    idle.

    Examples
    --------
    >>> from sknn.utils.threads import idle_cores
    >>> idle_cores(4) in range(1, 5)
    True
    """
    cores = available_cores() if cores is None else cores
    load = _running_elsewhere()
    if load is None:
        try:
            load = os.getloadavg()[0]
        except (AttributeError, OSError):
            return cores
    return max(1, min(cores, math.floor(cores - load + 0.5)))


def auto_threads(macs_per_step: float) -> int:
    """The thread count ``n_threads=None`` picks for steps of ``macs_per_step``.

    Parameters
    ----------
    macs_per_step : float
        Multiply-adds in one step (a training mini-batch, forward and backward, or a
        prediction chunk).

    Returns
    -------
    int
        At least 1, at most :func:`torch.get_num_threads`.

    Examples
    --------
    >>> from sknn.utils.threads import auto_threads
    >>> auto_threads(1e5)  # a small network: one thread
    1
    """
    cap = torch.get_num_threads()
    if cap <= 1 or threading.current_thread() is not threading.main_thread():
        return 1
    by_work = int(macs_per_step // MACS_PER_THREAD)
    if by_work <= 1:
        return 1
    return max(1, min(cap, by_work, idle_cores()))


def resolve_threads(n_threads: int | None, macs_per_step: float) -> int:
    """The thread count for a call: ``n_threads`` as given, else :func:`auto_threads`.

    Examples
    --------
    >>> from sknn.utils.threads import resolve_threads
    >>> resolve_threads(3, 1e12), resolve_threads(None, 10.0)
    (3, 1)
    """
    if n_threads is None:
        return auto_threads(macs_per_step)
    return int(n_threads)


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` torch intra-op threads, then restore the previous count.

    Nested and concurrent blocks are safe: the count in force before the outermost
    block is restored when the last one ends.

    Examples
    --------
    >>> import torch
    >>> from sknn.utils.threads import torch_threads
    >>> before = torch.get_num_threads()
    >>> with torch_threads(1):
    ...     torch.get_num_threads()
    1
    >>> torch.get_num_threads() == before
    True
    """
    global _depth, _saved
    with _lock:
        current = torch.get_num_threads()
        if _depth == 0:
            _saved = current
        _depth += 1
        if n != current:
            torch.set_num_threads(n)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _saved is not None:
                if torch.get_num_threads() != _saved:
                    torch.set_num_threads(_saved)
                _saved = None


def _positions(module: nn.Module, out) -> float:
    """How many times per row a layer applies its weights (1 for a dense layer on a
    table, the output's spatial size for a convolution, the steps for a sequence)."""
    if isinstance(out, tuple):
        out = out[0]
    if isinstance(out, PackedSequence):
        return float(out.data.shape[0])
    if not isinstance(out, torch.Tensor) or out.ndim < 2:
        return 1.0
    channels = (
        out.shape[1] if isinstance(module, nn.modules.conv._ConvNd) else out.shape[-1]
    )
    return out.numel() / max(1, out.shape[0] * channels)


def macs_per_row(module: nn.Module, example: Sequence[torch.Tensor]) -> float:
    """Estimate the multiply-adds of one forward pass per input row.

    Each layer with a weight matrix counts its weights times the positions it applies
    them at, measured by one forward pass of ``example`` (a few rows) in eval mode
    without gradients. Networks of dense layers only are counted without running them.

    Parameters
    ----------
    module : torch.nn.Module
        The network.
    example : sequence of torch.Tensor
        The network's positional inputs for a few rows (samples first).

    Returns
    -------
    float
        Multiply-adds per row (at least 1).

    Examples
    --------
    >>> import torch
    >>> from sknn.utils.threads import macs_per_row
    >>> net = torch.nn.Sequential(torch.nn.Linear(10, 20), torch.nn.Linear(20, 2))
    >>> macs_per_row(net, (torch.ones(1, 10),))
    240.0
    """
    weighted = [
        m
        for m in module.modules()
        if any(p.ndim >= 2 for p in m.parameters(recurse=False))
    ]
    if all(isinstance(m, nn.Linear) for m in weighted) and example[0].ndim == 2:
        return float(max(1, sum(m.weight.numel() for m in weighted)))
    total = 0.0
    rows = max(1, int(example[0].shape[0]))

    def hook(m, args, out):
        nonlocal total
        w = sum(p.numel() for p in m.parameters(recurse=False) if p.ndim >= 2)
        pos = _positions(m, out)
        if isinstance(out, tuple) and isinstance(out[0], PackedSequence):
            pos = pos / rows
        total += w * pos

    handles = [m.register_forward_hook(hook) for m in weighted]
    was_training = module.training
    try:
        module.eval()
        with torch.inference_mode():
            module(*example)
    except Exception:  # an estimate only: fall back to the weights' count
        total = float(sum(p.numel() for p in module.parameters()))
    finally:
        for h in handles:
            h.remove()
        module.train(was_training)
    return max(1.0, total)
