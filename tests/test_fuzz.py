"""Generated bad inputs and corrupted files: only ValueError / TypeError come out.

Hypothesis throws generated data at ``fit`` / ``predict`` of every estimator family and
corrupted model files and checkpoints at ``load`` / resume. Whatever it finds, a user
must get a clear ``ValueError`` or ``TypeError`` (or a clean fit and finite
predictions), never a raw torch error, a crash or a NaN. The runs are derandomised
(the same examples on every run) and bounded in number.
"""

from __future__ import annotations

import base64
import json
import os
import tracemalloc
import warnings
import zipfile

import numpy as np
import pytest

hypothesis = pytest.importorskip("hypothesis", reason="the fuzz tests need hypothesis")
from _fuzzing import (  # noqa: E402
    CLEAN,
    FUZZ,
    JSON,
    json_paths,
    load_and_use,
    load_quietly,
    predicts_cleanly,
    write_edited,
)
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import sknn  # noqa: E402
from sknn import (  # noqa: E402
    CNNClassifier,
    MLPClassifier,
    MLPRegressor,
    NeuralNetRegressor,
    RNNClassifier,
)
from sknn.callbacks import Checkpoint  # noqa: E402

TINY = dict(max_iter=2, random_state=0, device="cpu")

ESTIMATORS = {
    "mlp-clf": lambda: MLPClassifier((3,), **TINY),
    "mlp-reg": lambda: MLPRegressor((3,), **TINY),
    "mlp-bn": lambda: MLPClassifier((3,), batch_norm=True, **TINY),
    "cnn": lambda: CNNClassifier(
        channels=(2,), kernel_size=2, hidden_layer_sizes=(4,), **TINY
    ),
    "rnn": lambda: RNNClassifier(hidden_size=3, **TINY),
    "net-reg": lambda: NeuralNetRegressor(**TINY),
}

FLOATS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, -0.0, 1e39, -1e39, 3.4e38, 1e-45, 1e300]),
)


@st.composite
def inputs(draw, family: str):
    """X of a plausible or broken shape and dtype, and y of some kind."""
    n = draw(st.integers(0, 6))
    if family == "cnn":
        shape = (n, draw(st.integers(0, 3)), draw(st.integers(0, 5)))
    elif family == "rnn":
        shape = (n, draw(st.integers(0, 4)), draw(st.integers(0, 3)))
    else:
        shape = (n, draw(st.integers(0, 4)))
    if draw(st.booleans()) and n:  # sometimes the wrong number of dimensions
        shape = shape[: draw(st.integers(1, len(shape)))]
    size = int(np.prod(shape))
    kind = draw(st.sampled_from(["float64", "float32", "int", "object", "str"]))
    if kind == "str":
        X = np.array(draw(st.lists(st.text(max_size=3), min_size=size, max_size=size)))
    else:
        vals = draw(st.lists(FLOATS, min_size=size, max_size=size))
        X = np.array(vals, dtype=np.float64)
        if kind == "int":
            X = np.nan_to_num(X, nan=0, posinf=5, neginf=-5).clip(-9, 9).astype(int)
        elif kind != "float64":
            with np.errstate(over="ignore"):
                X = X.astype(kind)
    X = X.reshape(shape)
    y_kind = draw(
        st.sampled_from(["labels", "one", "floats", "str", "wrong-len", "2d"])
    )
    if y_kind == "labels":
        y = np.arange(n) % 2
    elif y_kind == "one":
        y = np.zeros(n, dtype=int)
    elif y_kind == "floats":
        y = np.array(draw(st.lists(FLOATS, min_size=n, max_size=n)), dtype=float)
    elif y_kind == "str":
        y = np.array(["a", "b"] * n)[:n]
    elif y_kind == "wrong-len":
        y = np.arange(n + 1) % 2
    else:
        y = (np.arange(2 * n).reshape(n, 2) % 2).astype(float)
    return X, y


@pytest.mark.parametrize("family", list(ESTIMATORS))
def test_fit_and_predict_raise_only_clear_errors(family):
    @FUZZ
    @given(data=inputs(family))
    def check(data):
        X, y = data
        est = ESTIMATORS[family]()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                est.fit(X, y)
            except CLEAN:
                return
            finite = (
                X.dtype.kind in "fiu" and np.isfinite(X.astype(float)).all()
            ) or X.dtype.kind not in "fiu"
            if finite:
                predicts_cleanly(est, X)

    check()


# ---------------------------------------------------------------- corrupted files
@pytest.fixture(scope="module")
def saved(iris, tmp_path_factory):
    X, y = iris
    path = tmp_path_factory.mktemp("fuzz") / "m.sknn"
    sknn.save(MLPClassifier((4,), **TINY).fit(X, y), path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    return X, members


def test_corrupted_metadata_raises_only_clear_errors(saved, tmp_path):
    X, members = saved
    meta = json.loads(members["meta.json"])
    paths = [p for p in json_paths(meta) if p]

    @FUZZ
    @given(where=st.sampled_from(paths), value=JSON)
    def check(where, value):
        path = tmp_path / "m.sknn"
        write_edited(members, where, value, path)
        load_and_use(path, X)

    check()


def test_flipped_bytes_raise_only_clear_errors(saved, tmp_path):
    X, members = saved
    path = tmp_path / "good.sknn"
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    raw = path.read_bytes()

    @FUZZ
    @given(
        flips=st.lists(
            st.tuples(st.integers(0, len(raw) - 1), st.integers(1, 255)),
            min_size=1,
            max_size=8,
        )
    )
    def check(flips):
        data = bytearray(raw)
        for pos, mask in flips:
            data[pos] ^= mask
        bad = tmp_path / "bad.sknn"
        bad.write_bytes(bytes(data))
        load_and_use(bad, X)

    check()


def test_corrupted_checkpoints_never_resume(iris, tmp_path):
    X, y = iris
    path = tmp_path / "run.ckpt"
    MLPClassifier((4,), **TINY, callbacks=[Checkpoint(path)]).fit(X, y)
    raw = path.read_bytes()

    @settings(FUZZ, max_examples=25)
    @given(
        pos=st.integers(0, len(raw) - 1),
        mask=st.integers(1, 255),
        cut=st.booleans(),
    )
    def check(pos, mask, cut):
        data = bytearray(raw)
        data[pos] ^= mask
        bad = tmp_path / "bad.ckpt"
        bad.write_bytes(bytes(data[:pos]) if cut else bytes(data))
        est = MLPClassifier(
            (4,), **dict(TINY, max_iter=4), callbacks=[Checkpoint(bad, resume=True)]
        )
        with pytest.raises(CLEAN):
            est.fit(X, y)

    check()


# ------------------------------------------------------ resource use of hostile files
#: JSON values a bomb repeats: each costs the parser more than its bytes.
BOMB_TOKENS = ["[]", "[[[[]]]]", "{}", '{"a":[]}', "1e5", "1000", '"ab"', "true"]


@pytest.mark.parametrize("where", ["attribute", "history", "ndarray"])
def test_generated_json_bombs_stay_within_the_memory_budget(saved, tmp_path, where):
    """meta.json blocks of up to millions of repeated values, padded with noise so
    that they deflate at about the archive's ratio (32): each file loads or is
    refused, and the peak memory of ``load`` and a prediction (measured) stays
    within the parse budget, a fixed multiple of the file's size."""
    from sknn._archive import Archive

    X, members = saved
    rng = np.random.RandomState(0)
    path = tmp_path / "bomb.sknn"

    @settings(FUZZ, max_examples=8)
    @given(
        token=st.sampled_from(["1e5"] if where == "ndarray" else BOMB_TOKENS),
        log_n=st.floats(3.0, 6.5),
    )
    def check(token, log_n):
        n = int(10**log_n)
        block = "[" + ",".join([token] * n) + "]"
        if where == "ndarray":
            block = f'{{"__ndarray__": {block}, "dtype": "<f8", "shape": [{n}]}}'
        meta = json.loads(members["meta.json"])
        attrs = meta["attributes"]
        attrs["noise_"] = base64.b64encode(rng.bytes(len(block) // 26 + 20_000))
        attrs["noise_"] = attrs["noise_"].decode()
        if where == "history":
            attrs["history_"] = {"__history__": "@PAD@"}
        else:
            attrs["extra_"] = "@PAD@"
        text = json.dumps(meta).replace('"@PAD@"', block)
        del block
        with zipfile.ZipFile(path, "w") as zf:
            for name, blob in members.items():
                deflate = name == "meta.json"
                zf.writestr(
                    name,
                    text if deflate else blob,
                    zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED,
                )
        del text, meta, attrs
        tracemalloc.start()
        try:
            load_and_use(path, X)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        archive = Archive(path)
        budget = archive.json_budget()
        archive.close()
        assert peak < budget, (token, n, peak, os.path.getsize(path))

    check()


SETTING_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(-3, 10**7)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["spawn", "fork", "tvm", "default", "sh", "inductor"])
)


def _tagged_dict(keys):
    return st.dictionaries(keys, SETTING_VALUES, max_size=3).map(
        lambda d: {"__dict__": [[k, v] for k, v in d.items()]}
    )


def test_generated_settings_never_spend_more_than_this_machine(saved, tmp_path):
    """Generated n_threads, loader_kwargs and compile values in a model file: the
    file is refused, or predicting with the loaded estimator (on arrays and on a
    Dataset) asks torch for at most this machine's cores in threads and in
    DataLoader workers, and the compile options are torch.compile's plain ones."""
    import torch
    from torch.utils.data import DataLoader, TensorDataset

    from sknn._settings import COMPILE_OPTIONS, MAX_PREFETCH
    from sknn.data.items import LOADER_KEYS
    from sknn.utils.threads import available_cores

    X, members = saved
    cores = available_cores()
    dataset = TensorDataset(torch.tensor(X[:8], dtype=torch.float32))

    class Stop(Exception):
        pass

    @FUZZ
    @given(
        n_threads=st.none() | st.integers(-3, 10**7),
        loader=st.none() | _tagged_dict(st.sampled_from(sorted(LOADER_KEYS))),
        compile_=st.booleans()
        | _tagged_dict(st.sampled_from([*COMPILE_OPTIONS, "options"])),
    )
    def check(n_threads, loader, compile_):
        path = tmp_path / "settings.sknn"
        params = json.loads(members["meta.json"])["params"]
        params.update(n_threads=n_threads, loader_kwargs=loader, compile=compile_)
        write_edited(members, ("params",), params, path)
        est = load_quietly(path)
        if est is None:
            return
        threads, workers = [], []
        set_threads = torch.set_num_threads

        def spy_loader(self, *args, **kwargs):
            workers.append(kwargs)
            raise Stop

        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(
                torch, "set_num_threads", lambda n: threads.append(n) or set_threads(1)
            )
            mp.setattr(DataLoader, "__init__", spy_loader)
            est.predict(X)
            with pytest.raises(Stop):
                est.predict(dataset)
        assert all(1 <= n <= cores for n in threads), threads
        assert workers and all(0 <= w.get("num_workers", 0) <= cores for w in workers)
        assert all((w.get("prefetch_factor") or 1) <= MAX_PREFETCH for w in workers)
        assert not any(
            callable(w.get(k))
            for w in workers
            for k in ("collate_fn", "worker_init_fn")
        )
        assert isinstance(est.compile, bool) or set(est.compile) <= set(COMPILE_OPTIONS)

    check()
