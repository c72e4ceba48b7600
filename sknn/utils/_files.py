"""Atomic file writes that clean up after writers killed mid-write."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

#: Temporaries of writers on other hosts (a shared file system) older than this are
#: taken as abandoned (seconds).
FOREIGN_TMP_AGE = 3600.0


def _tag() -> str:
    host = socket.gethostname().replace(".", "-") or "host"
    return f"{host}-{os.getpid()}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except (PermissionError, OSError):
        return True
    return True


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove temporaries of ``path`` left by writers that died before renaming them.

    A temporary is ``.<name>.<host>-<pid>.<random>.tmp`` beside ``path``. It is stale
    when its writer ran on this host and no longer runs, or ran on another host and
    the file is older than :data:`FOREIGN_TMP_AGE`. Writers still running keep theirs.

    Returns
    -------
    list of Path
        The files removed.

    Examples
    --------
    >>> import os, tempfile
    >>> from pathlib import Path
    >>> from sknn.utils._files import remove_stale_temporaries
    >>> d = Path(tempfile.mkdtemp())
    >>> host = __import__("socket").gethostname().replace(".", "-")
    >>> _ = (d / f".m.sknn.{host}-999999999.x.tmp").write_bytes(b"orphan")
    >>> [p.name.endswith(".tmp") for p in remove_stale_temporaries(d / "m.sknn")]
    [True]
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    host = _tag().rsplit("-", 1)[0]
    removed = []
    try:
        candidates = list(directory.glob(f".{path.name}.*.tmp"))
    except OSError:
        return removed
    for tmp in candidates:
        owner = tmp.name[len(path.name) + 2 :].split(".", 1)[0]
        owner_host, _, pid = owner.rpartition("-")
        try:
            if owner_host == host and pid.isdigit():
                stale = int(pid) != os.getpid() and not _alive(int(pid))
            else:  # another host's writer, or a name of an older sknn
                stale = time.time() - tmp.stat().st_mtime > FOREIGN_TMP_AGE
            if stale:
                tmp.unlink()
                removed.append(tmp)
        except OSError:
            continue
    return removed


def atomic_write(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> None:
    """Write a file through ``write(fh)`` into a temporary, then rename it over ``path``.

    The temporary lives in the destination's directory, so the rename is atomic: a
    crash leaves the previous file or the new one, never half of one. Temporaries of
    earlier writers that were killed are removed first.

    Examples
    --------
    >>> import os, tempfile
    >>> from sknn.utils._files import atomic_write
    >>> path = os.path.join(tempfile.mkdtemp(), "x.bin")
    >>> atomic_write(path, lambda fh: fh.write(b"abc"))
    >>> open(path, "rb").read()
    b'abc'
    """
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    remove_stale_temporaries(path)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.{_tag()}.", suffix=".tmp", dir=directory
    )
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
