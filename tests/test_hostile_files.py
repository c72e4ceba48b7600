"""Model files and checkpoints built by an attacker: nothing runs, nothing balloons.

Each test builds a hostile file against sknn's own decoders (the JSON codec, the
archive reader, the checkpoint reader) and asserts a clear ``ValueError``, no side
effect (a marker file a payload would create), and memory bounded by a small
multiple of the file's size.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile

import numpy as np
import pytest
import torch
from torch import nn

import sknn
from sknn import MLPClassifier, MLPRegressor, NeuralNetClassifier
from sknn._codec import allowed_types
from sknn.callbacks import Checkpoint, CSVLogger, EarlyStopping, LRScheduler
from sknn.callbacks.checkpoint import _MAGIC, atomic_torch_save, load_checkpoint

FAST = dict(max_iter=3, random_state=0, device="cpu")


class Net(nn.Module):
    def __init__(self, n_features_in, n_outputs, width=8):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(n_features_in, width), nn.ReLU())
        self.output = nn.Linear(width, n_outputs)

    def forward(self, x):
        return self.output(self.body(x))


class MyStep(torch.optim.lr_scheduler.StepLR):
    """A scheduler class of the user's own (not on the allow-list)."""


@pytest.fixture(scope="module")
def data(iris):
    X, y = iris
    return X.astype(np.float32), y


@pytest.fixture(scope="module")
def clf_file(data, tmp_path_factory):
    X, y = data
    path = tmp_path_factory.mktemp("m") / "clf.sknn"
    sknn.save(MLPClassifier((8,), **FAST).fit(X, y), path)
    return path


@pytest.fixture(scope="module")
def net_file(data, tmp_path_factory):
    X, y = data
    path = tmp_path_factory.mktemp("n") / "net.sknn"
    est = NeuralNetClassifier(module=Net, module_kwargs={"width": 8}, **FAST)
    sknn.save(est.fit(X, y), path)
    return path


def _members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def _write(path, members: dict[str, bytes], method=zipfile.ZIP_DEFLATED) -> None:
    with zipfile.ZipFile(path, "w", compression=method) as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)


def _with_meta(src, dst, edit) -> None:
    members = _members(src)
    meta = json.loads(members["meta.json"])
    edit(meta)
    members["meta.json"] = json.dumps(meta).encode()
    _write(dst, members)


def _system(marker) -> dict:
    """``module_kwargs`` that make ``os.system`` create ``marker``."""
    return {"__dict__": [["command", f"touch {marker}"]]}


# ----------------------------------------------------------------- classes by name
WALKS = [
    ["torch.nn", "modules.module.torch.os.system"],
    ["sknn.modules", "mlp.torch.os.system"],
    ["torch.optim.lr_scheduler", "torch.os.system"],
    ["os", "system"],
    ["builtins", "eval"],
    ["torch.nn.modules.module", "torch.os.system"],
]


@pytest.mark.parametrize("walk", WALKS, ids=lambda w: ".".join(w))
def test_module_named_by_attribute_walk_never_runs(net_file, tmp_path, walk):
    marker = tmp_path / "pwned"
    bad = tmp_path / "bad.sknn"

    def edit(meta):  # the exploit of the red-team report
        meta["module"] = None
        meta["params"]["module"] = {"__type__": walk}
        meta["params"]["module_kwargs"] = _system(marker)

    _with_meta(net_file, bad, edit)
    with pytest.raises(ValueError):  # the parameter is ignored: MLP(command=...)
        sknn.load(bad)
    assert not marker.exists()

    # Even named by meta["module"], with or without the caller's module.
    def edit_meta_module(meta):
        meta["module"] = ".".join(walk)
        meta["params"]["module_kwargs"] = _system(marker)

    _with_meta(net_file, bad, edit_meta_module)
    with pytest.raises(ValueError, match="module"):
        sknn.load(bad)
    assert not marker.exists()


def test_every_allowed_class_is_a_dead_end(clf_file, tmp_path):
    """No walk from any allow-listed class reaches anything: keys are exact."""
    marker = tmp_path / "pwned"
    bad = tmp_path / "bad.sknn"
    for key in allowed_types():
        module, _, qualname = key.rpartition(".")

        def edit(meta, module=module, qualname=qualname):
            policy = {
                "__type__": [module, qualname + ".__init__.__globals__.os.system"]
            }
            meta["params"]["callbacks"] = [
                {
                    "__callback__": "LRScheduler",
                    "params": {"__dict__": [["policy", policy]]},
                }
            ]

        _with_meta(clf_file, bad, edit)
        with pytest.raises(ValueError, match="allow-list"):
            sknn.load(bad)
    assert not marker.exists()


def test_caller_module_always_wins(net_file, data, tmp_path):
    X, _ = data
    marker = tmp_path / "pwned"
    bad = tmp_path / "bad.sknn"

    def edit(meta):
        meta["params"]["module"] = {"__type__": ["os", "system"]}

    _with_meta(net_file, bad, edit)
    loaded = sknn.load(bad, module=Net)
    assert loaded.module is Net
    assert loaded.predict(X).shape == (len(X),)
    assert not marker.exists()
    # Without the caller's module, the file's name alone is refused.
    with pytest.raises(ValueError, match=r"sknn.load\(path, module=...\)"):
        sknn.load(net_file)


def test_user_classes_come_from_the_caller(data, tmp_path):
    X, y = data
    sched = LRScheduler(MyStep, scheduler_kwargs={"step_size": 2})
    est = MLPClassifier((8,), **FAST, callbacks=[sched]).fit(X, y)
    path = tmp_path / "m.sknn"
    sknn.save(est, path)
    with pytest.raises(ValueError, match=r"MyStep.*allow-list"):
        sknn.load(path)
    loaded = sknn.load(path, classes=[MyStep])
    assert loaded.callbacks[0].policy is MyStep
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_callbacks_that_write_files_are_not_restored(data, tmp_path):
    X, y = data
    target = tmp_path / "victim.txt"
    target.write_text("precious")
    est = MLPClassifier((8,), **FAST, callbacks=[CSVLogger(str(target))])
    est.set_params(callbacks=[EarlyStopping("train_loss", patience=2)]).fit(X, y)
    path = tmp_path / "m.sknn"
    sknn.save(est, path)
    bad = tmp_path / "bad.sknn"

    def edit(meta):  # the file asks for a checkpoint written over the user's file
        meta["params"]["callbacks"].append(
            {
                "__callback__": "Checkpoint",
                "params": {"__dict__": [["path", str(target)]]},
            }
        )

    _with_meta(path, bad, edit)
    with pytest.warns(
        UserWarning, match=r"did not restore the callbacks \['Checkpoint'\]"
    ):
        loaded = sknn.load(bad)
    assert [type(cb).__name__ for cb in loaded.callbacks] == ["EarlyStopping"]
    loaded.partial_fit(X, y)
    assert target.read_text() == "precious"
    # The caller's callbacks win.
    mine = sknn.load(bad, callbacks=[Checkpoint(str(tmp_path / "mine.ckpt"))])
    assert type(mine.callbacks[0]).__name__ == "Checkpoint"


@pytest.mark.parametrize(
    "attrs",
    [
        {"predict": {"__type__": ["torch.nn.modules.activation", "ReLU"]}},
        {"_build_module": {"__type__": ["sknn.modules.mlp", "MLP"]}},
        {"__class__": 1},
        {"n_features_in_": "four"},
        {
            "_encoder": {
                "__object__": "LabelEncoder",
                "state": {"__dict__": [["fit", 1]]},
            }
        },
        {"_encoder": {"__object__": "Pipeline", "state": {"__dict__": []}}},
        {"classes_": {"__ndarray__": [0, 1], "dtype": "<i8", "shape": [2]}},
        # As many classes, other labels: classes_ and predict would disagree.
        {"classes_": {"__ndarray__": [5, 6, 7], "dtype": "<i8", "shape": [3]}},
        {"classes_": {"__ndarray__": [2, 1, 0], "dtype": "<i8", "shape": [3]}},
        # The random streams partial_fit continues: torch would raise at set_state.
        {"_shuffle_state": {"__ndarray__": [1, 2], "dtype": "|u1", "shape": [2]}},
        {"_dropout_state": {"__tuple__": [[0, 1], None]}},
        # The training record holds numbers only.
        {"loss_curve_": ["x" * 10, [], {"__tuple__": []}]},
        {"validation_scores_": [0.5, "high"]},
        {"best_loss_": [1.0]},
    ],
    ids=lambda a: next(iter(a)),
)
def test_attributes_that_shadow_or_misfit_are_refused(clf_file, tmp_path, attrs):
    bad = tmp_path / "bad.sknn"
    _with_meta(clf_file, bad, lambda meta: meta["attributes"].update(attrs))
    with pytest.raises(ValueError):
        sknn.load(bad)


# ----------------------------------------------------------------- pickles, everywhere
class _Hostile:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


@pytest.mark.parametrize("member", ["meta.json", "weights.safetensors", "optimizer.pt"])
@pytest.mark.parametrize("kind", ["pickle", "torch"])
def test_pickles_in_every_slot_never_run(clf_file, tmp_path, member, kind):
    marker = tmp_path / "pwned"
    if kind == "pickle":
        payload = pickle.dumps({"state": _Hostile(marker)})
    else:
        buf = io.BytesIO()
        torch.save({"state": _Hostile(marker)}, buf)
        payload = buf.getvalue()
    members = _members(clf_file)
    members[member] = payload
    bad = tmp_path / "bad.sknn"
    _write(bad, members)
    with pytest.raises(ValueError):
        sknn.load(bad)
    assert not marker.exists()


# ----------------------------------------------------------------- memory bombs
def _peak_bytes(fn) -> int:
    tracemalloc.start()
    try:
        fn()
    except ValueError:
        pass
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak


def _refuses_within(path, factor=50) -> None:
    size = os.path.getsize(path)
    with pytest.raises(ValueError):
        sknn.load(path)
    peak = _peak_bytes(lambda: sknn.load(path))
    assert peak < factor * size + (4 << 20), (peak, size)


@pytest.mark.parametrize("dtype", ["S800000000", "U800000000", "<U200000000"])
def test_string_dtype_bomb_allocates_nothing(clf_file, tmp_path, dtype):
    bad = tmp_path / "bad.sknn"
    bomb = {"__ndarray__": ["a", "b"], "dtype": dtype, "shape": [2]}

    def edit(meta):
        meta["attributes"]["classes_"] = bomb

    _with_meta(clf_file, bad, edit)
    # Clamped to the items' own width: no 800 MB array; the file is then refused
    # as inconsistent (2 classes where the network has 3).
    _refuses_within(bad)


@pytest.mark.parametrize(
    "bomb",
    [
        {"__ndarray__": [1], "dtype": "V800000000", "shape": [1]},
        {"__ndarray__": [1], "dtype": "[('a', 'O')]", "shape": [1]},
        {"__ndarray__": [1], "dtype": {"names": ["a"]}, "shape": [1]},
        {"__ndarray__": [1], "dtype": "<i8", "shape": [10**12]},
        {"__ndarray__": [1], "dtype": "<i8", "shape": [-1]},
        {"__ndarray__": [1], "dtype": "<i8", "shape": [1] * 40},
        {"__npscalar__": 1, "dtype": "O"},
        {"__ndarray__": [{"__type__": ["os", "system"]}], "dtype": "|O", "shape": [1]},
    ],
)
def test_refused_dtypes_and_shapes(clf_file, tmp_path, bomb):
    bad = tmp_path / "bad.sknn"
    _with_meta(clf_file, bad, lambda meta: meta["attributes"].update(extra_=bomb))
    _refuses_within(bad)


def test_zip_bomb_in_the_weights_slot_is_refused_before_inflating(clf_file, tmp_path):
    bad = tmp_path / "bomb.sknn"
    members = _members(clf_file)
    with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("meta.json", members["meta.json"])
        chunk = bytes(1 << 20)
        with zf.open("weights.safetensors", "w", force_zip64=True) as fh:
            for _ in range(200):  # 200 MB of zeros in about 200 KB
                fh.write(chunk)
    assert os.path.getsize(bad) < 1 << 20
    _refuses_within(bad)


def test_zip_bomb_in_meta_is_refused(tmp_path):
    bad = tmp_path / "bomb.sknn"
    with zipfile.ZipFile(bad, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        with zf.open("meta.json", "w", force_zip64=True) as fh:
            fh.write(b'{"format": "sknn-model", "pad": "')
            for _ in range(100):
                fh.write(b" " * (1 << 20))
            fh.write(b'"}')
    _refuses_within(bad)


@pytest.mark.parametrize(
    "edit",
    [
        lambda m: m["params"].update(hidden_layer_sizes={"__tuple__": [10**9, 10**9]}),
        lambda m: m["attributes"]["_meta_"]["__dict__"].__setitem__(
            0, ["n_features_in", 10**12]
        ),
    ],
    ids=["hidden-sizes", "n-features"],
)
def test_absurd_architecture_is_refused_without_allocating(clf_file, tmp_path, edit):
    bad = tmp_path / "bad.sknn"
    _with_meta(clf_file, bad, edit)
    with pytest.raises(ValueError):
        sknn.load(bad)
    # torch's allocations escape tracemalloc: measure the peak resident memory of a
    # fresh process instead (a network of these sizes would need terabytes).
    out = subprocess.run(
        [sys.executable, "-c", _RSS_PROBE, str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.split()
    assert out[0] == "ValueError"
    grown_kib = int(out[2]) - int(out[1])
    assert grown_kib < 64 * 1024, f"load grew the peak RSS by {grown_kib} KiB"


_RSS_PROBE = """
import resource, sys, warnings
import sknn
warnings.simplefilter("ignore")
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    sknn.load(sys.argv[1])
    outcome = "loaded"
except ValueError:
    outcome = "ValueError"
print(outcome, before, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@pytest.mark.parametrize("depth", [100, 200_000])
def test_deeply_nested_json_is_a_value_error(clf_file, tmp_path, depth):
    bad = tmp_path / "bad.sknn"
    members = _members(clf_file)
    meta = members["meta.json"].decode()
    nested = "[" * depth + "]" * depth
    members["meta.json"] = meta.replace(
        '"attributes": {', f'"attributes": {{"x_": {nested},', 1
    ).encode()
    _write(bad, members, zipfile.ZIP_STORED)  # no ratio check: the parser is reached
    with pytest.raises(ValueError, match="nest"):
        sknn.load(bad)


def _padded_meta(members, where: str, block: str, noise: int) -> dict:
    """``members`` with ``block`` (JSON text) under ``where`` of ``meta.json``, and
    ``noise`` bytes of incompressible text, so that the member deflates at about
    the ratio the archive reader allows (32) instead of far beyond it."""
    meta = json.loads(members["meta.json"])
    rng = np.random.RandomState(0)
    meta["attributes"]["noise_"] = base64.b64encode(rng.bytes(noise)).decode()
    if where == "top":
        meta["pad"] = "@PAD@"
    else:
        meta["attributes"]["extra_"] = "@PAD@"
    text = json.dumps(meta).replace('"@PAD@"', block)
    return {**members, "meta.json": text.encode()}


def _write_deflated_meta(path, members) -> None:
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            method = zipfile.ZIP_DEFLATED if name == "meta.json" else zipfile.ZIP_STORED
            zf.writestr(name, blob, compress_type=method)


@pytest.mark.parametrize("where", ["top", "attributes"])
def test_json_bomb_is_refused_before_it_is_parsed(clf_file, tmp_path, where):
    """A 0.3 MB file whose meta.json holds 3 million empty lists at a compression
    ratio under 32 (it grew peak memory by 200-400 MB and loaded): refused from
    the text, within the memory a small multiple of the file's size."""
    bad = tmp_path / "bomb.sknn"
    block = "[" + ",".join(["[]"] * 3_000_000) + "]"
    _write_deflated_meta(
        bad, _padded_meta(_members(clf_file), where, block, noise=320_000)
    )
    with zipfile.ZipFile(bad) as zf:
        info = zf.getinfo("meta.json")
    assert info.file_size < 32 * info.compress_size  # within the zip ratio
    with pytest.raises(ValueError, match="JSON bomb"):
        sknn.load(bad)
    _refuses_within(bad)


def test_unknown_top_level_entries_are_refused(clf_file, tmp_path):
    bad = tmp_path / "bad.sknn"
    _with_meta(clf_file, bad, lambda meta: meta.update(extra=1))
    with pytest.raises(ValueError, match=r"unknown entries \['extra'\]"):
        sknn.load(bad)


def test_a_long_training_history_is_not_taken_for_a_bomb(clf_file, tmp_path):
    """The costliest legitimate meta.json per byte of file: a tiny network's history
    of 5,000 epochs with validation scores of few distinct values (an early-stopped
    classifier). It loads, well within the parse budget."""
    from sknn._archive import MAX_JSON_COST_RATIO, json_cost

    rng = np.random.RandomState(0)
    n = 5000
    loss = np.sort(rng.rand(n))[::-1].tolist()
    scores = (rng.randint(25, 31, n) / 30).tolist()
    records = [
        {"__dict__": [["epoch", i + 1], ["train_loss", loss[i]],
                      ["valid_loss", loss[i] + rng.rand()], ["valid_score", scores[i]],
                      ["lr", 0.001], ["dur", rng.rand() / 100]]}
        for i in range(n)
    ]  # fmt: skip

    def long_history(meta):
        attrs = meta["attributes"]
        attrs["history_"] = {"__history__": records}
        attrs["loss_curve_"] = loss
        attrs["validation_scores_"] = scores
        state = dict(attrs["_state"]["__trainstate__"]["__dict__"])
        state.update(epoch=n, loss_curve=loss, validation_scores=scores)
        attrs["_state"]["__trainstate__"]["__dict__"] = [
            list(kv) for kv in state.items()
        ]
        attrs["n_iter_"] = n

    path = tmp_path / "long.sknn"
    members = _members(clf_file)
    meta = json.loads(members["meta.json"])
    long_history(meta)
    members["meta.json"] = json.dumps(meta, indent=1).encode()  # as sknn.save writes
    _write_deflated_meta(path, members)
    cost, _ = json_cost(members["meta.json"])
    assert cost < MAX_JSON_COST_RATIO / 1.5 * os.path.getsize(path)
    assert len(sknn.load(path).history_) == n


# ------------------------------------------------- settings that spend the machine
_MANY = 10**6
_RELU = "torch.nn.modules.activation"


@pytest.mark.parametrize(
    "param, value",
    [
        ("n_threads", _MANY),
        ("loader_kwargs", {"__dict__": [["num_workers", 10_000]]}),
        ("loader_kwargs", {"__dict__": [["prefetch_factor", _MANY]]}),
        ("loader_kwargs", {"__dict__": [["timeout", -1]]}),
        ("loader_kwargs", {"__dict__": [["timeout", 1e300]]}),
        (
            "loader_kwargs",
            {"__dict__": [["collate_fn", {"__type__": [_RELU, "ReLU"]}]]},
        ),
        ("compile", {"__dict__": [["options", {"__dict__": [["cpp.cxx", "sh"]]}]]}),
        ("compile", {"__dict__": [["backend", "tvm"]]}),
    ],
)
def test_settings_beyond_this_machine_or_naming_code_are_refused(
    clf_file, tmp_path, param, value
):
    """A file asking predict for a million threads, ten thousand DataLoader
    workers, a collate function or compiler options is refused at load, with an
    error naming the parameter (predict used to obey it)."""
    bad = tmp_path / "bad.sknn"
    _with_meta(clf_file, bad, lambda meta: meta["params"].update({param: value}))
    with pytest.raises(ValueError, match=rf"sets {param}\b.*Nothing was loaded"):
        sknn.load(bad)


@pytest.mark.parametrize(
    "param, value",
    [("n_threads", True), ("accumulation_steps", True), ("max_iter", True)],
)
def test_a_bool_is_not_a_number_in_a_file_or_at_fit(
    clf_file, data, tmp_path, param, value
):
    """scikit-learn's int constraints take True: a file's n_threads=true used to load
    and then reach torch (a raw RuntimeError at predict)."""
    bad = tmp_path / "bad.sknn"
    _with_meta(clf_file, bad, lambda meta: meta["params"].update({param: value}))
    with pytest.raises(ValueError, match=rf"'{param}' parameter.*a bool is not"):
        sknn.load(bad)
    with pytest.raises(ValueError, match=rf"'{param}' parameter.*a bool is not"):
        MLPClassifier((8,), **FAST).set_params(**{param: value}).fit(*data)


@pytest.mark.parametrize("policy", ["Counter", "LRScheduler", "_LRScheduler", "os"])
def test_a_scheduler_policy_is_a_scheduler(data, tmp_path, policy):
    """Any name of torch's lr_scheduler module used to be called at the next fit
    (``Counter`` with the optimiser); only schedulers are, from a file or from code."""
    X, y = data
    good = tmp_path / "good.sknn"
    cb = LRScheduler("StepLR", scheduler_kwargs={"step_size": 2})
    sknn.save(MLPClassifier((8,), **FAST, callbacks=[cb]).fit(X, y), good)

    def edit(meta):
        entries = meta["params"]["callbacks"][0]["params"]["__dict__"]
        assert dict(entries)["policy"] == "StepLR"  # stored by name
        entries[:] = [[k, policy if k == "policy" else v] for k, v in entries]

    bad = tmp_path / "bad.sknn"
    _with_meta(good, bad, edit)
    with pytest.raises(ValueError, match=r"holds a LRScheduler.*policy must be"):
        sknn.load(bad)
    est = MLPClassifier((8,), **FAST, callbacks=[LRScheduler(policy)])
    with pytest.raises(ValueError, match="policy must be a learning-rate scheduler"):
        est.fit(X, y)
    assert sknn.load(good).fit(X, y).history_["lr"][-1] < 1e-3


def test_error_messages_name_a_few_unknown_keys(clf_file, tmp_path):
    """100,000 unknown keys used to make a 0.9 MB error message."""
    keys = {f"key{i}": 0 for i in range(100_000)}
    edits = {
        "top": lambda meta: meta.update(keys),
        "attributes": lambda meta: meta["attributes"].update(loss_curve_=[keys]),
    }
    for where, edit in edits.items():
        bad = tmp_path / f"{where}.sknn"
        _with_meta(clf_file, bad, edit)
        with pytest.raises(ValueError, match=r"and 99,99[05] more") as info:
            sknn.load(bad)
        assert len(str(info.value)) < 500


def test_a_member_stored_twice_is_refused(clf_file, tmp_path):
    """zipfile reads the last of two members of one name: a second meta.json used
    to be loaded silently in place of the first."""
    members = _members(clf_file)
    bad = tmp_path / "twice.sknn"
    with pytest.warns(UserWarning, match="Duplicate name"):
        with zipfile.ZipFile(bad, "w") as zf:
            for member, blob in members.items():
                zf.writestr(member, blob)
            zf.writestr("meta.json", members["meta.json"])
    with pytest.raises(ValueError, match=r"\['meta.json'\] more than once"):
        sknn.load(bad)


def test_a_malformed_format_version_is_named(clf_file, tmp_path):
    bad = tmp_path / "bad.sknn"
    _with_meta(clf_file, bad, lambda meta: meta.update(format_version="1"))
    with pytest.raises(ValueError, match="malformed format_version '1'"):
        sknn.load(bad)


def test_plain_settings_within_this_machine_load(data, tmp_path):
    X, y = data
    settings = dict(
        n_threads=1,
        loader_kwargs={"num_workers": 0, "pin_memory": False, "batch_size": 64},
        compile={"mode": "default", "fullgraph": False},
    )
    est = MLPClassifier((8,), **FAST).fit(X, y).set_params(**settings)
    sknn.save(est, tmp_path / "ok.sknn")
    loaded = sknn.load(tmp_path / "ok.sknn")
    assert {k: loaded.get_params()[k] for k in settings} == settings


def test_non_finite_weights_are_refused(data, tmp_path):
    from safetensors.torch import load as st_load
    from safetensors.torch import save as st_save

    X, y = data
    path = tmp_path / "m.sknn"
    sknn.save(MLPRegressor((8,), **FAST).fit(X, y), path)
    members = _members(path)
    state = st_load(members["weights.safetensors"])
    next(iter(state.values()))[0] = float("nan")
    members["weights.safetensors"] = st_save(state)
    bad = tmp_path / "bad.sknn"
    _write(bad, members)
    with pytest.raises(ValueError, match="non-finite"):
        sknn.load(bad)


def test_weights_of_another_shape_are_refused_before_reading(clf_file, data, tmp_path):
    X, y = data
    other = tmp_path / "other.sknn"
    sknn.save(MLPClassifier((16,), **FAST).fit(X, y), other)
    members = _members(clf_file)
    members["weights.safetensors"] = _members(other)["weights.safetensors"]
    bad = tmp_path / "bad.sknn"
    _write(bad, members)
    with pytest.raises(ValueError, match="do not fit"):
        sknn.load(bad)


# ----------------------------------------------------------------- checkpoints
@pytest.fixture()
def ckpt(data, tmp_path):
    X, y = data
    path = tmp_path / "run.ckpt"
    MLPClassifier((8,), **FAST, callbacks=[Checkpoint(path)]).fit(X, y)
    return path


def _resume(path, data):
    X, y = data
    return MLPClassifier(
        (8,), **dict(FAST, max_iter=5), callbacks=[Checkpoint(path, resume=True)]
    ).fit(X, y)


def test_flipped_bytes_in_a_checkpoint_are_detected(ckpt, data):
    raw = bytearray(ckpt.read_bytes())
    middle = len(raw) // 2
    for i in range(64):  # inside the tensors
        raw[middle + i] ^= 0xFF
    ckpt.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="digest"):
        _resume(ckpt, data)


def _rewrite_ckpt(path, edit):
    ckpt = load_checkpoint(path)
    edit(ckpt)
    atomic_torch_save(ckpt, path)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        (lambda c: c["module"].update(
            {k: torch.full_like(v, float("nan")) for k, v in c["module"].items()}),
         "non-finite"),
        (lambda c: c.pop("optimizer"), "lacks"),
        (lambda c: c.pop("rng"), "lacks"),
        (lambda c: c.update(epoch="three"), "malformed"),
        (lambda c: c.update(module=[1, 2]), "malformed"),
        (lambda c: c.update(state={"epoch": 1, "evil": 2}), "malformed"),
        (lambda c: c.update(rng=torch.zeros(3, dtype=torch.uint8)), "random stream"),
        (lambda c: c["optimizer"]["state"][0].update(exp_avg=torch.ones(7)), "does not fit"),
        (lambda c: c.update(callbacks=[("EarlyStopping", {"x": 1})]), "callback"),
    ],
    ids=["nan", "no-optimizer", "no-rng", "epoch-type", "module-type", "state-keys",
         "rng-size", "optimizer-shape", "callback-state"],
)  # fmt: skip
def test_malformed_checkpoints_give_clear_errors(ckpt, data, edit, match):
    _rewrite_ckpt(ckpt, edit)
    with pytest.raises(ValueError, match=match):
        X, y = data
        MLPClassifier(
            (8,),
            **dict(FAST, max_iter=5),
            callbacks=[EarlyStopping(patience=50), Checkpoint(ckpt, resume=True)],
        ).fit(X, y)


def test_a_good_checkpoint_still_resumes(ckpt, data):
    assert ckpt.read_bytes().startswith(_MAGIC)
    assert _resume(ckpt, data).callbacks_[0].resumed_from_ == 3


_SLOW_WRITER = """
import sys, time
from sknn.utils._files import atomic_write
def write(fh):
    fh.write(b"x" * 4096)
    fh.flush()
    print("writing", flush=True)
    time.sleep(60)
atomic_write(sys.argv[1], write)
"""


def test_temporaries_of_a_killed_writer_are_removed_on_the_next_write(tmp_path):
    path = tmp_path / "run.ckpt"
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WRITER, str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout.readline().strip() == "writing"
        orphans = list(tmp_path.glob(".run.ckpt.*.tmp"))
        assert len(orphans) == 1
        # A writer that still runs keeps its temporary.
        atomic_torch_save({"w": torch.ones(1)}, tmp_path / "run.ckpt")
        assert orphans[0].exists()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    time.sleep(0.05)
    atomic_torch_save({"w": torch.ones(1)}, path)
    assert list(tmp_path.glob("*.tmp")) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.ckpt"]
