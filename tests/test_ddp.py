"""Data-parallel fits for real: 2 gloo processes launched by torchrun on loopback.

The 2-process fit must equal a 1-process fit with the same global batch (within float
tolerance), every rank must end with the same estimator, only rank 0 writes files,
early stopping agrees across ranks, and a killed rank ends the job with an error
instead of a hang.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
import torch.distributed as dist

pytestmark = pytest.mark.skipif(
    not dist.is_available(), reason="this torch build has no torch.distributed"
)

SCRIPT = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    import torch
    from sklearn.datasets import load_digits
    import sknn
    from sknn.callbacks import Callback, Checkpoint

    out, mode = sys.argv[1], sys.argv[2]
    rank = int(os.environ.get("RANK", "0"))
    X, y = load_digits(return_X_y=True)
    X = (X[:600] / 16.0).astype(np.float32); y = y[:600]

    class Die(Callback):
        def on_epoch_end(self, trainer, record):
            if rank == 1 and record["epoch"] == 2:
                os._exit(3)

    params = dict(hidden_layer_sizes=(16,), batch_size=64, max_iter=6,
                  random_state=0, device="cpu", dtype="float64")
    callbacks = [Checkpoint(os.path.join(out, "run.ckpt"))]
    if mode == "early":
        params.update(early_stopping=True, n_iter_no_change=2, max_iter=60, tol=1e-2)
    if mode == "die":
        callbacks.append(Die())
    if mode == "weighted":
        params.update(solver="sgd", learning_rate_init=0.1)
    sw = np.linspace(0.5, 2.0, len(y)) if mode == "weighted" else None
    clf = sknn.MLPClassifier(**params, callbacks=callbacks).fit(X, y, sample_weight=sw)
    sknn.save(clf, os.path.join(out, f"model{rank}.sknn"))
    np.savez(
        os.path.join(out, f"rank{rank}.npz"),
        proba=clf.predict_proba(X),
        loss=np.array(clf.loss_curve_),
        n_iter=clf.n_iter_,
        saved=len(clf.callbacks_[0].saved_epochs_),
        ddp=type(clf.module_).__name__,
    )
    """
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(tmp_path, mode: str, nproc: int, timeout: float = 240):
    script = tmp_path / "fit.py"
    script.write_text(SCRIPT)
    out = tmp_path / f"{mode}-{nproc}"
    out.mkdir()
    env = dict(os.environ, OMP_NUM_THREADS="1", SKNN_DIST_TIMEOUT="60")
    if nproc == 1:
        cmd = [sys.executable, str(script), str(out), mode]
    else:
        cmd = [
            sys.executable, "-m", "torch.distributed.run",
            f"--nproc_per_node={nproc}", "--master_addr=127.0.0.1",
            f"--master_port={_free_port()}", str(script), str(out), mode,
        ]  # fmt: skip
    start = time.monotonic()
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc, out, time.monotonic() - start


def _load(out, rank):
    with np.load(out / f"rank{rank}.npz") as f:
        return {k: f[k] for k in f.files}


@pytest.mark.parametrize("mode", ["plain", "weighted"])
def test_two_processes_equal_one_with_the_same_global_batch(tmp_path, mode):
    two, out2, _ = _run(tmp_path, mode, 2)
    assert two.returncode == 0, two.stderr[-3000:]
    one, out1, _ = _run(tmp_path, mode, 1)
    assert one.returncode == 0, one.stderr[-3000:]
    r0, r1, single = _load(out2, 0), _load(out2, 1), _load(out1, 0)
    assert str(r0["ddp"]) == "MLP"  # the fitted module is unwrapped
    # Every rank ends with the same model.
    np.testing.assert_array_equal(r0["proba"], r1["proba"])
    np.testing.assert_array_equal(r0["loss"], r1["loss"])
    # And it is the 1-process model (float64: only summation order differs).
    np.testing.assert_allclose(r0["proba"], single["proba"], rtol=1e-7, atol=1e-9)
    np.testing.assert_allclose(r0["loss"], single["loss"], rtol=1e-7)
    # Only rank 0 writes files.
    assert int(r0["saved"]) == 6 and int(r1["saved"]) == 0
    assert (out2 / "run.ckpt").exists()


def test_early_stopping_agrees_across_ranks(tmp_path):
    proc, out, _ = _run(tmp_path, "early", 2)
    assert proc.returncode == 0, proc.stderr[-3000:]
    r0, r1 = _load(out, 0), _load(out, 1)
    assert int(r0["n_iter"]) == int(r1["n_iter"]) < 60
    np.testing.assert_array_equal(r0["proba"], r1["proba"])


def test_a_killed_rank_ends_the_job_with_an_error(tmp_path):
    proc, out, elapsed = _run(tmp_path, "die", 2, timeout=200)
    assert proc.returncode != 0
    assert elapsed < 150, "the surviving rank hung"
    assert not (out / "rank0.npz").exists()
    assert "exitcode" in proc.stderr or "failed" in proc.stderr.lower()
