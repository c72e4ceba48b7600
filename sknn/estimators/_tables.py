"""Raw tables for the MLP and NeuralNet estimators: fit a DataFrame as it is.

A DataFrame with categorical, string or boolean columns (or missing values) is
encoded by a :class:`~sknn.data.tables.TableEncoder` fitted in ``fit``; the network
is a :class:`~sknn.modules.TabularInput` (embeddings of the categorical columns)
around the estimator's own network, which reads the numeric block and the
embeddings as one vector. Every other input takes the estimator's usual path.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.validation import check_array

from sknn.base import BaseNeuralNet
from sknn.data.multi import PositionalInputs
from sknn.data.tables import (
    TABLE_INPUTS,
    TableEncoder,
    embedding_size,
    is_dataframe,
    needs_table_path,
)
from sknn.modules import TabularInput


def check_targets(estimator, y, n_samples: int) -> np.ndarray:
    """Validate ``y`` of inputs that ``validate_data`` does not read (several inputs,
    raw tables) with scikit-learn's ``check_array``, and their lengths."""
    y = check_array(
        y,
        ensure_2d=False,
        dtype="numeric" if estimator._targets_type.y_numeric else None,
        input_name="y",
    )
    if y.shape[0] != n_samples:
        raise ValueError(
            "Found input variables with inconsistent numbers of samples: "
            f"[{n_samples}, {y.shape[0]}]"
        )
    return y


def _is_table(X) -> bool:
    return isinstance(X, PositionalInputs) and X.names == TABLE_INPUTS and not X.keyword


class TableMixin:
    """Read raw DataFrames; put ``TabularInput`` in front of the estimator's network."""

    def _validate_inputs(self, X, *, reset: bool, y=None):
        encoder = None if reset else self.__dict__.get("_table")
        if reset:
            self.__dict__.pop("_table", None)
            if not needs_table_path(X):
                return super()._validate_inputs(X, reset=reset, y=y)
            encoder = TableEncoder().fit(X)
        elif encoder is None:
            try:
                return super()._validate_inputs(X, reset=reset, y=y)
            except ValueError as exc:
                # (a table given to a network fitted on numbers: said plainly;
                # missing numbers keep scikit-learn's NaN error)
                if needs_table_path(X, check_missing=False):
                    cols = [c for c in X.columns if X[c].dtype.kind not in "iuf"]
                    raise ValueError(
                        f"{type(self).__name__} was fitted on numbers only; X is a "
                        f"DataFrame with categorical, string or boolean columns "
                        f"{cols[:5]}. Fit it on such a DataFrame to use them."
                    ) from exc
                raise
        if not is_dataframe(X):
            raise ValueError(
                f"{type(self).__name__} was fitted on a DataFrame with the columns "
                f"{list(encoder.columns_)[:10]}; pass X as a DataFrame with these "
                f"columns (got {type(X).__name__})."
            )
        Xv = encoder.transform(X)
        if reset:
            self._table = encoder
            self.n_features_in_ = len(encoder.columns_)
            self.feature_names_in_ = np.asarray(encoder.columns_, dtype=object)
        if y is None:
            return Xv, None
        return Xv, check_targets(self, y, Xv.shape[0])

    def _plain_array_inputs(self) -> bool:
        if "_table" in self.__dict__:
            return False
        mro = type(self).__mro__
        after = mro[mro.index(TableMixin) + 1 :]
        below = next(c for c in after if "_validate_inputs" in c.__dict__)
        return below is BaseNeuralNet

    def _fit_dtype(self, X, device):
        # A raw table has no precision of its own to keep: "auto" trains in
        # float32, the fast one.
        if self.dtype == "auto" and _is_table(X):
            return "float32"
        return super()._fit_dtype(X, device)

    def _meta(self, X) -> dict:
        encoder = self.__dict__.get("_table")
        if encoder is None or not _is_table(X):
            return super()._meta(X)
        cards = encoder.cardinalities()
        if self.embedding_dim is None:
            dims = [embedding_size(n) for n in cards]
        else:
            dims = [int(self.embedding_dim)] * len(cards)
        n_numeric = encoder.n_numeric()
        return {
            "n_features_in": len(encoder.columns_),
            "input_shape": ((n_numeric,), (len(cards),)),
            "input_names": list(TABLE_INPUTS),
            "keyword_inputs": False,
            "integer_inputs": ["categorical"],
            "table": {
                "n_numeric": n_numeric,
                "cardinalities": cards,
                "embedding_dims": dims,
            },
        }

    def _build_module(self, meta: dict):
        table = meta.get("table")
        if table is None:
            return super()._build_module(meta)
        n_numeric, cards, dims = _table_facts(table)
        width = n_numeric + sum(dims)
        body_meta = {
            k: v
            for k, v in meta.items()
            if k not in ("input_names", "keyword_inputs", "integer_inputs", "table")
        }
        body_meta.update(n_features_in=width, input_shape=(width,))
        return TabularInput(super()._build_module(body_meta), n_numeric, cards, dims)


def _table_facts(table) -> tuple[int, list[int], list[int]]:
    """The table facts of ``meta`` (as a model file may hold them), checked."""

    def ints(v, low):
        return isinstance(v, list) and all(
            isinstance(i, int) and not isinstance(i, bool) and i >= low for i in v
        )

    ok = (
        isinstance(table, dict)
        and isinstance(table.get("n_numeric"), int)
        and table["n_numeric"] >= 0
        and ints(table.get("cardinalities"), 1)
        and ints(table.get("embedding_dims"), 1)
        and len(table["cardinalities"]) == len(table["embedding_dims"])
    )
    if not ok:
        raise ValueError(f"Malformed table facts of the network: {str(table)[:200]}.")
    return table["n_numeric"], table["cardinalities"], table["embedding_dims"]
