"""Fashion-MNIST from its IDX files (as shipped by Debian's ``dataset-fashion-mnist``)."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch

#: Class names of Fashion-MNIST, by label.
FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)

#: Where the Debian / Ubuntu package ``dataset-fashion-mnist`` installs the files.
DEBIAN_PATH = Path("/usr/share/datasets/fashion-mnist")

_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

_HOW_TO_GET = (
    "Install them with the Debian / Ubuntu package (`apt install "
    "dataset-fashion-mnist`), or download the four files "
    "{train,t10k}-{images-idx3,labels-idx1}-ubyte.gz from "
    "https://github.com/zalandoresearch/fashion-mnist and pass their folder as "
    "`data_home` (or set the SKNN_FASHION_MNIST environment variable)."
)


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def read_idx(path: str | os.PathLike) -> np.ndarray:
    """Read an IDX file (optionally gzipped) into a numpy array.

    Parameters
    ----------
    path : str or path-like
        File in the IDX format of MNIST and Fashion-MNIST.

    Returns
    -------
    ndarray
        The array, with the dtype and shape stored in the file's header.

    Examples
    --------
    >>> import gzip, tempfile, os, numpy as np
    >>> from sknn.datasets._fashion_mnist import read_idx
    >>> path = os.path.join(tempfile.mkdtemp(), "x.gz")
    >>> header = bytes([0, 0, 0x08, 2]) + (2).to_bytes(4, "big") + (3).to_bytes(4, "big")
    >>> with gzip.open(path, "wb") as f:
    ...     _ = f.write(header + bytes(range(6)))
    >>> read_idx(path).tolist()
    [[0, 1, 2], [3, 4, 5]]
    """
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise ValueError(f"{path.name} is not an IDX file (bad magic number).")
    dtypes = {
        0x08: ">u1",
        0x09: ">i1",
        0x0B: ">i2",
        0x0C: ">i4",
        0x0D: ">f4",
        0x0E: ">f8",
    }
    if data[2] not in dtypes:
        raise ValueError(f"{path.name}: unknown IDX data type {data[2]:#x}.")
    ndim = data[3]
    shape = tuple(
        int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)
    )
    arr = np.frombuffer(data, dtype=dtypes[data[2]], offset=4 + 4 * ndim)
    if arr.size != int(np.prod(shape)):
        raise ValueError(
            f"{path.name} is truncated: expected {shape}, got {arr.size} values."
        )
    return arr.reshape(shape).astype(arr.dtype.newbyteorder("="))


def load_fashion_mnist(
    data_home: str | os.PathLike | None = None, *, return_X_y: bool = False
):
    """Load Fashion-MNIST (60,000 training and 10,000 test images, 28x28, 10 classes).

    Reads the four official IDX files, gzipped or not, from ``data_home``; by default
    from the ``SKNN_FASHION_MNIST`` environment variable, else from where the Debian /
    Ubuntu package ``dataset-fashion-mnist`` installs them. Nothing is downloaded.

    Parameters
    ----------
    data_home : str or path-like, default=None
        Folder holding ``{train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]``.
    return_X_y : bool, default=False
        Return ``(X_train, X_test, y_train, y_test)`` instead of a Bunch (the order
        of :func:`sklearn.model_selection.train_test_split`).

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        ``X_train`` ``(60000, 28, 28)`` and ``X_test`` ``(10000, 28, 28)`` as
        ``uint8`` images (:class:`~sknn.CNNClassifier` scales ``uint8`` to [0, 1]),
        ``y_train`` and ``y_test`` as ``int64`` labels 0-9, ``target_names`` (see
        :data:`FASHION_MNIST_CLASSES`) and ``DESCR``. The split is the official one.
    (X_train, X_test, y_train, y_test) : tuple of ndarray
        With ``return_X_y=True``.

    Raises
    ------
    FileNotFoundError
        When the files are absent, with how to get them.

    Examples
    --------
    >>> from sknn.datasets import load_fashion_mnist
    >>> try:
    ...     data = load_fashion_mnist()
    ... except FileNotFoundError:  # the files are not installed
    ...     pass
    ... else:
    ...     assert data.X_train.shape == (60000, 28, 28)
    """
    if data_home is None:
        data_home = os.environ.get("SKNN_FASHION_MNIST", DEBIAN_PATH)
    folder = Path(data_home)
    arrays = {}
    for split, (images, labels) in _FILES.items():
        for key, stem in (("X_" + split, images), ("y_" + split, labels)):
            path = _find(folder, stem)
            if path is None:
                raise FileNotFoundError(
                    f"Fashion-MNIST file {stem}.gz not found in {folder}. "
                    + _HOW_TO_GET
                )
            arrays[key] = read_idx(path)
    for split in _FILES:
        X, y = arrays["X_" + split], arrays["y_" + split]
        if X.ndim != 3 or y.ndim != 1 or len(X) != len(y):
            raise ValueError(
                f"Fashion-MNIST {split} files do not match: images {X.shape}, "
                f"labels {y.shape}."
            )
        arrays["y_" + split] = y.astype(np.int64)
    if return_X_y:
        return arrays["X_train"], arrays["X_test"], arrays["y_train"], arrays["y_test"]
    return Bunch(
        **arrays,
        target_names=np.array(FASHION_MNIST_CLASSES),
        DESCR=(
            "Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 28x28 grayscale images "
            "of 10 kinds of clothing; official split of 60,000 training and 10,000 "
            "test images. Pixels are uint8 in 0-255."
        ),
    )
