"""Write the per-epoch history to a CSV or JSON-lines file as training goes."""

from __future__ import annotations

import csv
import json
import os

from sknn.callbacks.base import Callback
from sknn.utils.ranks import is_main_process


class _FileLogger(Callback):
    def __init__(self, path: str | os.PathLike, *, append: bool = False) -> None:
        self.path = path
        self.append = append

    def on_train_begin(self, trainer) -> None:
        self._fh = None
        if not is_main_process():  # one writer in a data-parallel fit
            return
        existed = os.path.exists(self.path) and os.path.getsize(self.path) > 0
        self._fh = open(self.path, "a" if self.append else "w", newline="")
        self._fresh = not (self.append and existed)

    def on_epoch_end(self, trainer, record: dict) -> None:
        if self._fh is None:
            return
        self._write(record)
        self._fh.flush()

    def on_train_end(self, trainer) -> None:
        fh = getattr(self, "_fh", None)
        if fh is not None:
            fh.close()
        self._fh = None  # the fitted estimator stays picklable


class CSVLogger(_FileLogger):
    """Append one CSV row per epoch (the history record) to ``path``.

    The columns are the keys of the first record; the file is flushed every epoch, so
    it can be watched while training runs.

    Parameters
    ----------
    path : str or path-like
        The CSV file.
    append : bool, default=False
        Add to an existing file (no second header) instead of overwriting it.

    Examples
    --------
    >>> import os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.callbacks import CSVLogger
    >>> X, y = load_iris(return_X_y=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "log.csv")
    >>> _ = MLPClassifier((8,), max_iter=3, random_state=0,
    ...                   callbacks=[CSVLogger(path)]).fit(X, y)
    >>> open(path).readline().strip()
    'epoch,train_loss,lr,dur'
    """

    def _write(self, record: dict) -> None:
        if self._fresh:
            self._writer = csv.DictWriter(self._fh, list(record), extrasaction="ignore")
            self._writer.writeheader()
            self._fresh = False
        elif not hasattr(self, "_writer") or self._writer is None:
            with open(self.path, newline="") as fh:
                header = next(csv.reader(fh), list(record))
            self._writer = csv.DictWriter(self._fh, header, extrasaction="ignore")
        self._writer.writerow(record)

    def on_train_end(self, trainer) -> None:
        super().on_train_end(trainer)
        self._writer = None


class JSONLogger(_FileLogger):
    """Append one JSON object per epoch (JSON lines) to ``path``.

    Parameters
    ----------
    path : str or path-like
        The ``.jsonl`` file.
    append : bool, default=False
        Add to an existing file instead of overwriting it.

    Examples
    --------
    >>> import json, os, tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.callbacks import JSONLogger
    >>> X, y = load_iris(return_X_y=True)
    >>> path = os.path.join(tempfile.mkdtemp(), "log.jsonl")
    >>> _ = MLPClassifier((8,), max_iter=3, random_state=0,
    ...                   callbacks=[JSONLogger(path)]).fit(X, y)
    >>> [json.loads(line)["epoch"] for line in open(path)]
    [1, 2, 3]
    """

    def _write(self, record: dict) -> None:
        self._fh.write(json.dumps(record) + "\n")
