"""sknn.datasets: Fashion-MNIST from local IDX files, never downloaded."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
from _services import service_missing

from sknn.datasets import FASHION_MNIST_CLASSES, load_fashion_mnist
from sknn.datasets._fashion_mnist import DEBIAN_PATH


def _write_idx(path, array, *, gz=True):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(
        int(n).to_bytes(4, "big") for n in array.shape
    )
    opener = gzip.open if gz else open
    with opener(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def fake_files(tmp_path):
    rng = np.random.RandomState(0)
    data = {
        "train": (rng.randint(0, 256, (6, 28, 28)), rng.randint(0, 10, 6)),
        "t10k": (rng.randint(0, 256, (4, 28, 28)), rng.randint(0, 10, 4)),
    }
    for prefix, (X, y) in data.items():
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", X)
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte", y, gz=False)
    return tmp_path, data


def test_reads_the_official_split_from_a_folder(fake_files):
    folder, data = fake_files
    bunch = load_fashion_mnist(folder)
    assert bunch.X_train.dtype == np.uint8 and bunch.X_train.shape == (6, 28, 28)
    np.testing.assert_array_equal(bunch.X_test, data["t10k"][0])
    np.testing.assert_array_equal(bunch.y_train, data["train"][1])
    assert bunch.y_train.dtype == np.int64
    assert list(bunch.target_names) == list(FASHION_MNIST_CLASSES)
    X_train, X_test, y_train, y_test = load_fashion_mnist(folder, return_X_y=True)
    assert (len(X_train), len(X_test), len(y_train), len(y_test)) == (6, 4, 6, 4)


def test_environment_variable_names_the_folder(fake_files, monkeypatch):
    folder, _ = fake_files
    monkeypatch.setenv("SKNN_FASHION_MNIST", str(folder))
    assert load_fashion_mnist().X_train.shape == (6, 28, 28)


def test_absent_files_explain_how_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError, match="apt install dataset-fashion-mnist"):
        load_fashion_mnist(tmp_path)


def test_mismatched_files_are_rejected(fake_files):
    folder, _ = fake_files
    _write_idx(folder / "train-labels-idx1-ubyte", np.zeros(5), gz=False)
    with pytest.raises(ValueError, match="do not match"):
        load_fashion_mnist(folder)


def test_installed_fashion_mnist():
    if not (DEBIAN_PATH / "train-images-idx3-ubyte.gz").exists():
        service_missing(
            "Fashion-MNIST files absent (Debian package dataset-fashion-mnist)"
        )
    X_train, X_test, y_train, y_test = load_fashion_mnist(return_X_y=True)
    assert X_train.shape == (60000, 28, 28) and X_test.shape == (10000, 28, 28)
    assert np.bincount(y_train).tolist() == [6000] * 10
    assert np.bincount(y_test).tolist() == [1000] * 10
