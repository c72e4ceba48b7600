"""Shared pieces of the fuzz tests: settings, clean errors, corrupted model files.

Import after ``pytest.importorskip("hypothesis")``.
"""

from __future__ import annotations

import json
import warnings
import zipfile

import numpy as np
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

import sknn

#: What a user may see from bad input: a clear error of these kinds.
CLEAN = (ValueError, TypeError)
#: Derandomised (the same examples on every run) and bounded in number.
FUZZ = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=list(HealthCheck),
    database=None,
)

TAGS = ["__ndarray__", "__tuple__", "__dict__", "__type__", "__object__", "__callback__",
        "__history__", "__trainstate__", "__npscalar__", "dtype", "shape", "state"]  # fmt: skip
#: Any JSON value, with the model files' tags and some hostile strings among them.
JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=8)
    | st.sampled_from(
        [
            "<f8",
            "|O",
            "S800000000",
            "O",
            "os",
            "system",
            "os.system",
            "torch.nn",
            "ReLU",
            "numeric",
            "categorical",
        ]
    ),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(TAGS) | st.text(max_size=4), children, max_size=3
        )
    ),
    max_leaves=12,
)


def json_paths(node, prefix=()):
    """Every path (a tuple of keys and indices) into a JSON value, itself first."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from json_paths(v, (*prefix, k))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from json_paths(v, (*prefix, i))


def write_edited(members: dict, where: tuple, value, path) -> None:
    """Write the model file ``members`` to ``path`` with ``value`` at ``where`` in
    its ``meta.json``."""
    edited = json.loads(members["meta.json"])
    node = edited
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, json.dumps(edited) if name == "meta.json" else blob)


def predicts_cleanly(est, X) -> None:
    """``est.predict(X)`` raises a clear error or returns finite predictions."""
    try:
        out = est.predict(X)
    except CLEAN:
        return
    out = np.asarray(out)
    assert len(out) == len(X)
    if out.dtype.kind == "f":
        assert np.isfinite(out).all(), "finite input gave non-finite predictions"


def load_quietly(path):
    """``sknn.load(path)``, or ``None`` where it refuses the file with a clear
    error."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return sknn.load(path)
        except CLEAN:
            return None


def load_and_use(path, X) -> None:
    """Load ``path`` (a clear error, or a model) and predict ``X`` with it."""
    est = load_quietly(path)
    if est is not None and getattr(est, "module_", None) is not None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            predicts_cleanly(est, X)
