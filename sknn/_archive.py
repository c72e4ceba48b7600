"""Reading zip archives of tensors as untrusted input: bounded, checked, never unpickled.

Used by :func:`sknn.load` (and its tests). Every size is checked against a limit the
caller derives from what the file should hold, against the archive's own size and
against a bounded compression ratio *before* anything is decompressed or allocated.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

#: Largest ``meta.json`` a model file may declare (bytes, uncompressed).
MAX_META_BYTES = 256 << 20
#: Largest ratio of a member's declared size to its compressed size (zip bombs).
MAX_COMPRESSION_RATIO = 32
SLACK = 64 << 10  # small members may compress better than the ratio
#: Largest estimated memory (bytes) that parsing a file's JSON may take, per byte of
#: the file. A long training history, the costliest legitimate content, takes
#: about 70 (``tests/test_hostile_files.py`` checks a long one loads).
MAX_JSON_COST_RATIO = 128
#: Memory that parsing JSON may take whatever the file's size (small files).
JSON_COST_FLOOR = 8 << 20
#: Deepest nesting of JSON containers a model file may use.
MAX_JSON_DEPTH = 64
_ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)
# safetensors dtypes a network's state may use, with their sizes in bytes.
_ST_DTYPES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1,
}  # fmt: skip


class Archive:
    """A model file's zip archive, read member by member within declared bounds."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = path.name
        if not path.is_file():
            raise FileNotFoundError(f"No such model file: {str(path)!r}.")
        if not zipfile.is_zipfile(path):
            raise ValueError(
                f"{self.name!r} is not an sknn model file (not a zip archive written "
                "by sknn.save). Nothing was loaded."
            )
        self.size = path.stat().st_size
        try:
            self.zf = zipfile.ZipFile(path)
            members = self.zf.infolist()
            self.infos = {i.filename: i for i in members}
        except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
            raise ValueError(
                f"{self.name!r} is corrupt or truncated ({exc}). Nothing was loaded."
            ) from exc
        if len(self.infos) != len(members):  # which copy would be read is a choice
            counts = Counter(i.filename for i in members)
            twice = sorted(k for k, n in counts.items() if n > 1)
            self.zf.close()
            raise ValueError(
                f"{self.name!r} holds the member(s) {twice[:5]} more than once; sknn "
                "writes each once. Nothing was loaded."
            )

    def __contains__(self, member: str) -> bool:
        return member in self.infos

    def declared_size(self, member: str) -> int:
        return self.infos[member].file_size

    def read(self, member: str, limit: int) -> bytes:
        """Decompress ``member`` after checking its declared size against ``limit``,
        the archive's own size and a bounded compression ratio."""
        return bytes(self._read(member, limit))

    def _read(self, member: str, limit: int) -> bytearray:
        """:meth:`read` into one buffer of the declared size (no second copy)."""
        info = self.infos[member]
        if info.compress_type not in _ZIP_METHODS:
            raise ValueError(
                f"{self.name!r} stores {member} with compression method "
                f"{info.compress_type}; sknn writes only stored or deflated members."
            )
        if info.file_size > limit:
            raise ValueError(
                f"{self.name!r} declares {info.file_size} bytes for {member}, more "
                f"than the {limit} it may hold. Nothing was loaded."
            )
        if info.file_size > MAX_COMPRESSION_RATIO * info.compress_size + SLACK or (
            info.compress_size > self.size
        ):
            raise ValueError(
                f"{self.name!r} declares {info.file_size} bytes for {member} from "
                f"{info.compress_size} compressed bytes (a zip bomb?). Nothing was "
                "loaded."
            )
        data, filled = bytearray(info.file_size), 0
        try:
            with self.zf.open(info) as fh:
                while chunk := fh.read(min(1 << 20, info.file_size - filled) or 1):
                    if filled + len(chunk) > info.file_size:
                        filled += len(chunk)  # longer than declared
                        break
                    data[filled : filled + len(chunk)] = chunk
                    filled += len(chunk)
        except (
            zipfile.BadZipFile,
            EOFError,
            OSError,
            RuntimeError,  # an encrypted member
            NotImplementedError,
            ValueError,
        ) as exc:
            raise ValueError(
                f"{self.name!r} is corrupt or truncated ({exc}). Nothing was loaded."
            ) from exc
        if filled != info.file_size:
            raise ValueError(f"{self.name!r} is corrupt: {member} has the wrong size.")
        return data

    def json_budget(self) -> int:
        """Bytes of memory that parsing this file's JSON may take (see
        :func:`check_json`)."""
        return MAX_JSON_COST_RATIO * self.size + JSON_COST_FLOOR

    def read_json(self, member: str, limit: int) -> Any:
        """Read a JSON member, within :meth:`json_budget` and :data:`MAX_JSON_DEPTH`
        (checked before any object is built)."""
        raw = self._read(member, limit)
        check_json(raw, self.json_budget(), f"{self.name!r} has a {member} that")
        try:
            text = raw.decode()
            del raw  # the text alone while the objects are built
            return json.loads(text)
        except RecursionError as exc:
            raise ValueError(
                f"{self.name!r} has a {member} nested too deeply; refusing it."
            ) from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ValueError(
                f"{self.name!r} has an unreadable {member}: {exc}."
            ) from exc

    def close(self) -> None:
        self.zf.close()


_CHUNK = 1 << 16  # bytes of JSON scanned at a time (about 1 MB of temporaries)


def json_cost(raw: bytes | bytearray) -> tuple[int, int]:
    r"""An upper bound of the memory ``json.loads(raw.decode())`` takes, and the
    deepest nesting of ``raw``, found without building any object.

    Counts, outside strings, the lists (``[``), objects (``{``), values (``,``)
    and keys (``:``), and the strings and their bytes; each is charged what
    CPython spends on it at most, twice for lists (parsed, then decoded by
    :mod:`sknn._codec`: 128 bytes), an object 200, a value 48 ..., and the text
    twice (the bytes and the decoded string; four times where it is not ASCII).
    One vectorised pass over the bytes, a chunk at a time.

    Examples
    --------
    >>> from sknn._archive import json_cost
    >>> json_cost(b'{"a": [1, 2.5, "x"]}')
    (788, 2)
    >>> json_cost(b'["[[[", "\\\\", "\\"["]')[1]  # brackets in strings do not nest
    1
    """
    if b"\\" in raw:  # escapes: an escaped backslash, then an escaped quote
        raw = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    codes = np.frombuffer(raw, np.uint8)
    counts = np.zeros(256, dtype=np.int64)
    quoted = depth = top = in_strings = n_quotes = 0
    for start in range(0, len(codes), _CHUNK):
        chunk = codes[start : start + _CHUNK]
        quote = chunk == 34
        n_quotes += int(np.count_nonzero(quote))
        inside = (np.cumsum(quote, dtype=np.int32) + quoted) & 1
        quoted = int(inside[-1])
        in_strings += int(inside.sum())
        outside = chunk[(inside == 0) & ~quote]
        counts += np.bincount(outside, minlength=256)
        step = ((outside == 91) | (outside == 123)).astype(np.int32)  # [ {
        step -= (outside == 93) | (outside == 125)  # ] }
        run = np.cumsum(step, dtype=np.int64) + depth
        if run.size:
            top, depth = max(top, int(run.max())), int(run[-1])
    wide = 1 if raw.isascii() else 4
    n_strings = n_quotes // 2
    lists, objects = int(counts[ord("[")]), int(counts[ord("{")])
    values = int(counts[ord(",")]) + lists + objects + 1
    cost = (
        128 * lists
        + 200 * objects
        + 48 * values
        + 48 * int(counts[ord(":")])
        + 64 * n_strings
        + wide * in_strings
        + (1 + wide) * len(raw)
    )
    return cost, top


def check_json(raw: bytes | bytearray, budget: int, what: str) -> None:
    """Refuse JSON whose parse would take more than ``budget`` bytes or nest deeper
    than :data:`MAX_JSON_DEPTH` (``what`` starts the message)."""
    cost, depth = json_cost(raw)
    if depth > MAX_JSON_DEPTH:
        raise ValueError(
            f"{what} nests values deeper than {MAX_JSON_DEPTH} levels ({depth}); "
            "refusing it."
        )
    if cost > budget:
        raise ValueError(
            f"{what} would take about {cost >> 20} MB of memory to read, more than "
            f"{MAX_JSON_COST_RATIO} times the file's size (a JSON bomb?); refusing "
            "it. Nothing was loaded."
        )


def safetensors_header(archive: Archive, member: str) -> dict[str, tuple]:
    """Read only the safetensors header (bounded) from the weights member."""
    name = archive.name
    info = archive.infos[member]
    if info.compress_type not in _ZIP_METHODS:
        raise ValueError(f"{name!r} stores its weights with an unknown compression.")
    try:
        with archive.zf.open(info) as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ValueError(f"The weights in {name!r} are truncated.")
            n = int.from_bytes(head, "little")
            if n > min(info.file_size - 8, 16 << 20):
                raise ValueError(
                    f"The weights in {name!r} declare a header of {n} bytes; refusing."
                )
            raw = fh.read(n)
    except (
        zipfile.BadZipFile,
        EOFError,
        OSError,
        RuntimeError,
        NotImplementedError,
    ) as exc:
        raise ValueError(f"The weights in {name!r} are corrupt ({exc}).") from exc
    check_json(raw, archive.json_budget(), f"The weights header in {name!r}")
    try:
        header = json.loads(raw)
    except (RecursionError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"The weights in {name!r} are corrupt (an unreadable header)."
        ) from exc
    if not isinstance(header, dict):
        raise ValueError(f"The weights in {name!r} are corrupt (a malformed header).")
    out = {}
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        if (
            not isinstance(entry, dict)
            or entry.get("dtype") not in _ST_DTYPES
            or not isinstance(entry.get("shape"), list)
            or not all(isinstance(s, int) and s >= 0 for s in entry["shape"])
        ):
            raise ValueError(
                f"The weights in {name!r} hold a tensor {key[:80]!r} of a refused "
                "dtype or shape."
            )
        out[key] = (entry["dtype"], entry["shape"])
    return out


def load_weights(
    blob: bytes, name: str, expected: dict | None = None
) -> dict[str, torch.Tensor]:
    from safetensors.torch import load as st_load

    try:
        state = st_load(blob)
    except Exception as exc:  # safetensors raises its own error type
        raise ValueError(
            f"The weights in {name!r} are corrupt or not in safetensors format "
            f"({type(exc).__name__}). Nothing was loaded."
        ) from exc
    if expected is not None and (
        set(state) != set(expected)
        or any(tuple(state[k].shape) != expected[k][0] for k in state)
    ):
        raise ValueError(f"The weights in {name!r} do not fit its network.")
    bad = [
        k
        for k, v in state.items()
        if v.is_floating_point() and not bool(torch.isfinite(v).all())
    ]
    if bad:
        raise ValueError(
            f"The weights in {name!r} hold non-finite values (in {bad[:3]}); refusing "
            "a model that would predict NaN."
        )
    return state


def torch_load_bytes(blob: bytes, what: str) -> Any:
    """``torch.load(weights_only=True)`` of a torch zip whose records are all stored.

    torch's own zip reader would inflate a deflated record to whatever size it
    declares; torch never writes such records, so they are refused before loading.
    Nothing is unpickled beyond tensors and plain values.

    Examples
    --------
    >>> import io, torch
    >>> from sknn._archive import torch_load_bytes
    >>> buf = io.BytesIO(); torch.save({"w": torch.ones(2)}, buf)
    >>> torch_load_bytes(buf.getvalue(), "x")["w"].tolist()
    [1.0, 1.0]
    """
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as inner:
            infos = inner.infolist()
        ok = all(i.compress_type == zipfile.ZIP_STORED for i in infos) and sum(
            i.file_size for i in infos
        ) <= len(blob)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError) as exc:
        raise ValueError(f"{what} is not a torch file ({exc}).") from exc
    if not ok:
        raise ValueError(
            f"{what} is a torch file with compressed or oversized records; refusing it."
        )
    try:
        return torch.load(io.BytesIO(blob), weights_only=True, map_location="cpu")
    except Exception as exc:  # an unpickling error: refuse, never execute
        raise ValueError(
            f"{what} holds something other than plain tensors and numbers; refusing "
            f"to load it ({type(exc).__name__}: {str(exc)[:200]})."
        ) from exc


def check_optimizer_state(state: Any, what: str) -> dict:
    """Check that ``state`` has the layout of ``torch.optim.Optimizer.state_dict()``."""
    if (
        not isinstance(state, dict)
        or not isinstance(state.get("state"), dict)
        or not isinstance(state.get("param_groups"), list)
        or not all(
            isinstance(g, dict) and isinstance(g.get("params"), list)
            for g in state["param_groups"]
        )
        or not all(isinstance(v, dict) for v in state["state"].values())
    ):
        raise ValueError(f"{what} holds a malformed optimizer state.")
    for per_param in state["state"].values():
        for v in per_param.values():
            if isinstance(v, torch.Tensor) and v.is_floating_point():
                if not bool(torch.isfinite(v).all()):
                    raise ValueError(f"{what} holds a non-finite optimizer state.")
    return state


def load_optimizer_into(
    optimizer: torch.optim.Optimizer, state: dict, what: str
) -> None:
    """``optimizer.load_state_dict(state)``, refusing a state that does not fit it.

    Per-weight tensors must have their weight's shape (L-BFGS keeps other ones) and
    each group every hyper-parameter the optimiser needs, so that no later step fails
    with a torch error.
    """
    try:
        optimizer.load_state_dict(state)
    except (RuntimeError, ValueError, TypeError, KeyError, IndexError) as exc:
        raise ValueError(
            f"{what} holds an optimizer state that does not fit this network "
            f"({type(exc).__name__}: {exc})."
        ) from exc
    for group in optimizer.param_groups:
        missing = set(optimizer.defaults) - set(group)
        if missing:
            raise ValueError(
                f"{what} holds an optimizer state without {sorted(missing)}."
            )
        scale = group.get("lr_scale", 1.0)
        if not isinstance(scale, (int, float)) or not 0 < scale < float("inf"):
            raise ValueError(f"{what} holds a parameter group with lr_scale {scale!r}.")
    if isinstance(optimizer, torch.optim.LBFGS):
        return
    for param, per_param in optimizer.state.items():
        for key, value in per_param.items():
            if (
                isinstance(value, torch.Tensor)
                and value.dim() > 0
                and value.shape != param.shape
            ):
                raise ValueError(
                    f"{what} holds an optimizer state ({key!r} of shape "
                    f"{tuple(value.shape)}) that does not fit a weight of shape "
                    f"{tuple(param.shape)}."
                )


def load_optimizer_state(blob: bytes, name: str) -> dict:
    """Read an optimiser state stored in a model file."""
    what = f"The optimizer state in {name!r}"
    return check_optimizer_state(torch_load_bytes(blob, what), what)


__all__ = [
    "MAX_COMPRESSION_RATIO",
    "MAX_JSON_COST_RATIO",
    "MAX_JSON_DEPTH",
    "MAX_META_BYTES",
    "Archive",
    "check_json",
    "check_optimizer_state",
    "load_optimizer_into",
    "load_optimizer_state",
    "load_weights",
    "safetensors_header",
    "torch_load_bytes",
]
