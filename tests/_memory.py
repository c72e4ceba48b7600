"""Peak anonymous memory of a call, for the tests that fit data larger than memory.

The tests run their fits in a subprocess whose script starts with :data:`PEAK_MEMORY`.
Anonymous memory (``RssAnon``) is what the process itself allocated; the pages of a
memmap (or of files a Dataset reads) are file-backed page cache, which shows in
``VmRSS`` once read but which the kernel reclaims whenever it needs the memory, so
``VmRSS`` / ``VmHWM`` would measure the file, not sknn.
"""

from __future__ import annotations

import textwrap

#: Python source defining ``anon_bytes()`` and ``peak_increase(call)``: the peak
#: increase of ``RssAnon`` while ``call()`` runs, sampled every 2 ms in a thread.
PEAK_MEMORY = textwrap.dedent(
    """
    import threading, time

    def anon_bytes():
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("RssAnon:"):
                    return int(line.split()[1]) * 1024

    def peak_increase(call):
        base, peak, stop = anon_bytes(), [0], threading.Event()

        def sample():
            while not stop.is_set():
                peak[0] = max(peak[0], anon_bytes())
                time.sleep(0.002)

        thread = threading.Thread(target=sample)
        thread.start()
        try:
            call()
        finally:
            stop.set()
            thread.join()
        return max(peak[0], anon_bytes()) - base
    """
)


def has_rss_anon() -> bool:
    """Whether ``/proc/self/status`` reports ``RssAnon`` (Linux)."""
    try:
        with open("/proc/self/status") as fh:
            return any(line.startswith("RssAnon:") for line in fh)
    except OSError:
        return False
