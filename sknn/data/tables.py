"""Raw tables: a pandas DataFrame with numeric, categorical, string and boolean columns.

:class:`TableEncoder` turns such a frame into the two inputs of a
:class:`sknn.modules.TabularInput` network: a float block (numeric and boolean columns,
standardised, with a 0/1 indicator per column that had missing values at fit, and
the rank of each ordered categorical) and a block of integer category codes (one
column per categorical column, fed to embeddings). It is fitted in ``fit`` and stored
with the estimator, so predictions, pickles, :func:`sknn.save` and cross-validation
folds read every later frame the same way.

Category codes: ``0`` is "not seen at fit" (an unseen category at predict, or a
missing value in a column that had none at fit); ``1 .. m`` are the categories seen
at fit; ``m + 1`` is "missing" when the column had missing values at fit.

Nothing here imports pandas at module level: the table path is only taken for
DataFrames, whose users have pandas.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from sknn.data.multi import PositionalInputs

#: Names of the two inputs of a table network.
TABLE_INPUTS = ("numeric", "categorical")


def is_dataframe(X: Any) -> bool:
    """True for a pandas DataFrame (without importing pandas).

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from sknn.data.tables import is_dataframe
    >>> is_dataframe(pd.DataFrame({"a": [1]})), is_dataframe(np.ones((1, 1)))
    (True, False)
    """
    return type(X).__name__ == "DataFrame" and hasattr(X, "dtypes")


def _kind(col) -> str:
    """``"numeric"``, ``"categorical"`` or ``"other"`` for a column.

    An ``object`` column whose values are booleans and missing values (what
    ``read_csv`` gives for ``True`` / ``False`` with blanks) is ``"numeric"``, as a
    ``bool`` or nullable ``"boolean"`` column is: the same column reads alike in
    either form.
    """
    import pandas as pd

    dtype = col.dtype
    if pd.api.types.is_object_dtype(dtype) and _all_bool(col):
        return "numeric"
    if isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_numeric_dtype(dtype):
        return "other" if pd.api.types.is_complex_dtype(dtype) else "numeric"
    if pd.api.types.is_string_dtype(dtype) or pd.api.types.is_object_dtype(dtype):
        return "categorical"
    return "other"


def _all_bool(col) -> bool:
    """Whether an ``object`` column holds booleans and missing values only (at
    least one boolean)."""
    import pandas as pd

    return pd.api.types.infer_dtype(col, skipna=True) == "boolean"


def _accepts(kind: str, col) -> bool:
    """Whether ``col`` can be read as a column fitted as ``kind``: its own kind, or
    an ``object`` column of missing values only (either kind)."""
    import pandas as pd

    if _kind(col) == kind:
        return True
    return pd.api.types.is_object_dtype(col.dtype) and bool(col.isna().all())


def needs_table_path(X: Any, *, check_missing: bool = True) -> bool:
    """Whether ``X`` is a DataFrame that the array path cannot read as it is.

    That is a frame with a categorical, string, object or boolean column, or (with
    ``check_missing``) with a missing value in a numeric column. A frame of finite
    numbers keeps the array path (and scikit-learn's validation), unchanged.

    Examples
    --------
    >>> import pandas as pd
    >>> from sknn.data.tables import needs_table_path
    >>> needs_table_path(pd.DataFrame({"a": [1.0, 2.0]}))
    False
    >>> needs_table_path(pd.DataFrame({"a": [1.0, 2.0], "b": ["x", "y"]}))
    True
    >>> needs_table_path(pd.DataFrame({"a": [1.0, None]}))
    True
    """
    if not is_dataframe(X):
        return False
    # The dtypes first (one per column, no data read): the usual numeric frame
    # costs one pass for missing values at fit and nothing at predict. NumPy's and
    # pandas' dtypes (nullable ones included) all have a kind: "b" for booleans,
    # "O" for strings, objects and categories.
    if any(getattr(dtype, "kind", "O") not in "iuf" for dtype in X.dtypes):
        return True
    return check_missing and bool(X.isna().to_numpy().any())


def embedding_size(n_categories: int) -> int:
    """Width of a categorical column's embedding, from its number of codes.

    ``min(50, round(1.6 * n ** 0.56))``: fast.ai's rule of thumb for tabular
    networks, capped at 50; ``n`` counts the codes of the column (categories,
    "missing" and "not seen").

    Examples
    --------
    >>> from sknn.data.tables import embedding_size
    >>> [embedding_size(n) for n in (3, 8, 50, 10_000)]
    [3, 5, 14, 50]
    """
    return int(max(1, min(50, round(1.6 * n_categories**0.56))))


def _label(v):
    """A category label as a plain Python value (what a model file stores)."""
    if isinstance(v, np.generic):
        v = v.item()
    return v if isinstance(v, (str, int, float, bool)) else str(v)


def _labels(values) -> list:
    return [_label(v) for v in values]


def _as_labels(col) -> tuple[np.ndarray, np.ndarray]:
    """A categorical column's values as Python labels (missing values as None) and
    its mask of missing values."""
    import pandas as pd

    missing = col.isna().to_numpy()
    values = col.to_numpy(dtype=object, na_value=None)
    if pd.api.types.infer_dtype(values, skipna=True) not in ("string", "empty"):
        values = _object_array(
            [None if m else _label(v) for v, m in zip(values, missing)]
        )
    return values, missing


class TableEncoder:
    """Encode a raw DataFrame into a float block and a block of category codes.

    Numeric and boolean columns are standardised with the mean and standard
    deviation of the fit's rows (missing values become the mean, 0, and a column that
    had missing values at fit gets a 0/1 indicator). Categorical columns (pandas
    ``category``, string, object) become integer codes for embeddings; an ordered
    categorical also gives its rank, scaled to ``[0, 1]``, as a number. Booleans
    are numbers in every form (``bool``, nullable ``"boolean"``, ``object`` of
    booleans and missing values). Columns keep their fitted kind: a frame whose
    column changed from categorical to numeric (or back) between fit and predict
    gets a ``ValueError``.

    Attributes
    ----------
    columns_ : ndarray of str
        The column names, in order.
    kinds_ : ndarray of str
        ``"numeric"`` or ``"categorical"`` per column.
    categories_ : list of ndarray
        The categories seen at fit, per categorical column (code ``i + 1``).
    missing_ : ndarray of bool
        Per column: whether it had missing values at fit (a numeric column's
        indicator; a categorical column's "missing" code).
    levels_ : list of ndarray
        Per categorical column: the ordered categories of its dtype (empty when it
        is not ordered).
    mean_, scale_ : ndarray of float
        Statistics of the numeric columns (``scale_`` is 1 for a constant column).

    Examples
    --------
    >>> import pandas as pd
    >>> from sknn.data.tables import TableEncoder
    >>> df = pd.DataFrame({"x": [1.0, None, 3.0], "c": ["a", "b", "a"]})
    >>> enc = TableEncoder().fit(df)
    >>> num, cat = enc.transform(pd.DataFrame({"x": [2.0], "c": ["z"]}))
    >>> num.tolist(), cat.tolist()  # x standardised, its indicator; "z" is unseen
    ([[0.0, 0.0]], [[0]])
    >>> enc.cardinalities()
    [3]
    """

    def fit(self, X) -> TableEncoder:
        """Learn the columns' kinds, categories and statistics from ``X``."""
        import pandas as pd

        _check_frame(X)
        columns = list(X.columns)
        if not all(isinstance(c, str) for c in columns):
            raise ValueError(
                "A DataFrame with categorical, string or boolean columns (or missing "
                "values) needs string column names; got "
                f"{[c for c in columns if not isinstance(c, str)][:3]}."
            )
        kinds, categories, missing, levels, means, scales = [], [], [], [], [], []
        for name in columns:
            col = X[name]
            kind = _kind(col)
            if kind == "other":
                raise ValueError(
                    f"Column {name!r} has dtype {col.dtype}, which sknn cannot read: "
                    "convert it to numbers, booleans or categories."
                )
            kinds.append(kind)
            has_missing = bool(col.isna().any())
            missing.append(has_missing)
            if kind == "numeric":
                values = _numeric(col, name)
                seen = values[~np.isnan(values)]
                with np.errstate(over="ignore", invalid="ignore"):
                    mean = float(seen.mean()) if seen.size else 0.0
                    std = float(seen.std()) if seen.size else 0.0
                means.append(mean)
                scales.append(std if std > 0 and np.isfinite(std) else 1.0)
                continue
            labels, miss = _as_labels(col)
            dtype = col.dtype
            if isinstance(dtype, pd.CategoricalDtype):
                present = set(
                    _labels(col.cat.remove_unused_categories().cat.categories)
                )
                cats = [c for c in _labels(dtype.categories) if c in present]
                levels.append(
                    _object_array(_labels(dtype.categories) if dtype.ordered else [])
                )
            else:
                cats = _sorted_labels({(type(v), v): v for v in labels[~miss]})
                levels.append(_object_array([]))
            categories.append(_object_array(cats))
        self.columns_ = np.asarray(columns, dtype=object)
        self.kinds_ = np.asarray(kinds, dtype=object)
        self.categories_ = categories
        self.missing_ = np.asarray(missing, dtype=bool)
        self.levels_ = levels
        self.mean_ = np.asarray(means, dtype=np.float64)
        self.scale_ = np.asarray(scales, dtype=np.float64)
        return self

    # ------------------------------------------------------------------ facts
    def cardinalities(self) -> list[int]:
        """Number of codes of each categorical column (with "not seen" and
        "missing")."""
        cat_missing = self.missing_[self.kinds_ == "categorical"]
        return [len(c) + 1 + int(m) for c, m in zip(self.categories_, cat_missing)]

    def n_numeric(self) -> int:
        """Width of the float block."""
        numeric = self.kinds_ == "numeric"
        n_ordered = sum(len(lv) > 0 for lv in self.levels_)
        return int(numeric.sum() + (self.missing_ & numeric).sum() + n_ordered)

    # ------------------------------------------------------------------ transform
    def transform(self, X) -> PositionalInputs:
        """The ``(numeric, categorical)`` inputs of ``X`` (a float64 array and an
        int64 tensor), checked against the fitted columns and kinds."""
        _check_frame(X)
        columns = list(X.columns)
        if columns != list(self.columns_):
            fitted = list(self.columns_)
            added = [c for c in columns if c not in fitted][:5]
            absent = [c for c in fitted if c not in columns][:5]
            raise ValueError(
                "The feature names should match those that were passed during fit "
                f"(the same columns, in the same order). Unseen at fit: {added}; "
                f"seen at fit but missing now: {absent}."
            )
        n = len(X)
        nums, codes, ranks = [], [], []
        i_num = i_cat = 0
        for name, kind, had_missing in zip(columns, self.kinds_, self.missing_):
            col = X[name]
            if not _accepts(kind, col):
                raise ValueError(
                    f"Column {name!r} was {kind} when the estimator was fitted and is "
                    f"{col.dtype} now ({_kind(col)}); pass the columns with their "
                    "fitted dtypes."
                )
            if kind == "numeric":
                values = _numeric(col, name)
                miss = np.isnan(values)
                with np.errstate(over="ignore", invalid="ignore"):
                    z = (values - self.mean_[i_num]) / self.scale_[i_num]
                z[miss] = 0.0
                if not np.isfinite(z).all():
                    raise ValueError(
                        f"Column {name!r} has values too large to standardise "
                        f"(largest magnitude {np.nanmax(np.abs(values)):.1e}); "
                        "scale it first."
                    )
                nums.append(z)
                if had_missing:
                    nums.append(miss.astype(np.float64))
                i_num += 1
                continue
            cats, levels = self.categories_[i_cat], self.levels_[i_cat]
            labels, miss = _as_labels(col)
            code = _codes(labels, cats)
            if had_missing:
                code[miss] = len(cats) + 1
            codes.append(code)
            if len(levels):
                rank = _codes(labels, levels).astype(np.float64) - 1.0
                scale = max(len(levels) - 1, 1)
                ranks.append(np.where(rank < 0, 0.5, rank / scale))
            i_cat += 1
        numeric = np.column_stack(nums + ranks) if nums or ranks else np.empty((n, 0))
        categorical = (
            np.column_stack(codes) if codes else np.empty((n, 0), dtype=np.int64)
        )
        return PositionalInputs(
            [
                np.ascontiguousarray(numeric, dtype=np.float64),
                torch.as_tensor(categorical.astype(np.int64, copy=False)),
            ],
            TABLE_INPUTS,
            keyword=False,
        )


def _object_array(values: list) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def _sorted_labels(unique: dict) -> list:
    """The labels of ``{(type, label): label}``, sorted; mixed types (``1`` and
    ``"a"``) sort by type name, then value. Keyed by type, as ``1``, ``1.0`` and
    ``True`` are equal in Python but are three categories."""
    values = list(unique.values())
    try:
        if len({type(v) for v in values}) > 1:
            raise TypeError
        return sorted(values)
    except TypeError:
        return sorted(values, key=lambda v: (type(v).__name__, str(v)))


def _codes(labels: np.ndarray, categories: np.ndarray) -> np.ndarray:
    """``i + 1`` for the label equal to ``categories[i]``, else 0."""
    import pandas as pd

    if all(isinstance(c, str) for c in categories):
        # Strings only: pandas' hash lookup (other labels, None included, miss).
        found = pd.Index(categories, dtype=object).get_indexer(labels)
        return (found + 1).astype(np.int64)
    # Mixed labels: 1, 1.0 and True are equal in Python; the type tells them apart.
    lookup = {(type(c), c): i + 1 for i, c in enumerate(categories)}
    return np.fromiter(
        (lookup.get((type(v), v), 0) for v in labels), dtype=np.int64, count=len(labels)
    )


def _numeric(col, name: str) -> np.ndarray:
    if col.dtype == object:  # booleans with None, NaN or pd.NA: all missing values
        col = col.where(col.notna(), np.nan)
    values = col.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    if np.isinf(values).any():
        raise ValueError(f"Input X contains infinity in column {name!r}.")
    return values


def _check_frame(X) -> None:
    if len(X.columns) == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is "
            "required."
        )
    if len(X) == 0:
        raise ValueError(
            f"Found array with 0 sample(s) (shape={X.shape}) while a minimum of 1 is "
            "required."
        )
    if not X.columns.is_unique:
        dup = X.columns[X.columns.duplicated()].tolist()[:3]
        raise ValueError(f"The DataFrame has duplicated column names {dup}.")
