"""Generated raw tables and corrupted table models: only clear errors come out.

Hypothesis builds DataFrames with numeric, nullable, boolean, string, object (mixed
labels) and categorical columns, missing values and values at float64's limits, fits
an MLP on one and predicts on another whose columns may have changed kind. It also
corrupts the table encoding inside a saved model file. A user must get a
``ValueError`` / ``TypeError`` or a fitted model with finite predictions, never a raw
pandas or torch error. Derandomised and bounded, as ``test_fuzz.py``.
"""

from __future__ import annotations

import json
import warnings
import zipfile

import numpy as np
import pytest

pytest.importorskip("hypothesis", reason="the fuzz tests need hypothesis")
pd = pytest.importorskip("pandas")
from _fuzzing import (  # noqa: E402
    CLEAN,
    FUZZ,
    JSON,
    json_paths,
    load_and_use,
    predicts_cleanly,
    write_edited,
)
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import sknn  # noqa: E402
from sknn import (  # noqa: E402
    MLPClassifier,
    MLPRegressor,
    TabularClassifier,
    TabularRegressor,
)

TINY = dict(hidden_layer_sizes=(3,), max_iter=2, random_state=0, device="cpu")
#: The tabular estimators' own settings for a tiny fit (their recipe reads every
#: column kind itself: one-hot or embedded categories, indicators, embeddings).
TINY_PARAMS = {
    TabularClassifier: dict(TINY, ensemble_size=2, n_bins=4),
    TabularRegressor: dict(TINY, ensemble_size=2, n_bins=4),
}

NUMBERS = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.sampled_from([0.0, 1e308, -1e308, 3.4e38, 1e39, 5e-324, np.nan]),
)
LABELS = st.one_of(
    st.none(),
    st.text(max_size=3),
    st.integers(-3, 3),
    st.booleans(),
    st.sampled_from([1.0, 1.5, np.nan]),
)
KINDS = ["float", "int", "Int64", "bool", "boolean", "string", "object", "category"]


def _column(kind: str, values: list, labels: list):
    if kind == "float":
        return pd.Series(values, dtype="float64")
    if kind == "int":
        return pd.Series(
            np.nan_to_num(values, posinf=9, neginf=-9).clip(-9, 9).astype(int)
        )
    if kind == "Int64":
        return pd.array(
            [None if v != v else int(np.clip(np.nan_to_num(v), -9, 9)) for v in values],
            dtype="Int64",
        )
    if kind == "bool":
        return pd.Series([bool(v == v and v > 0) for v in values])
    if kind == "boolean":
        return pd.array([None if v != v else v > 0 for v in values], dtype="boolean")
    if kind == "string":
        return pd.array([None if v is None else str(v) for v in labels], dtype="string")
    if kind == "object":
        return pd.Series(labels, dtype=object)
    return pd.Categorical([None if v is None else str(v) for v in labels])


@st.composite
def frames(draw, n_min: int = 0):
    n = draw(st.integers(n_min, 7))
    n_cols = draw(st.integers(1, 4))
    names = [f"c{i}" for i in range(n_cols)]
    kinds = [draw(st.sampled_from(KINDS)) for _ in names]
    cols = {}
    for name, kind in zip(names, kinds):
        values = draw(st.lists(NUMBERS, min_size=n, max_size=n))
        labels = draw(st.lists(LABELS, min_size=n, max_size=n))
        cols[name] = _column(kind, values, labels)
    return pd.DataFrame(cols), kinds


@pytest.mark.parametrize(
    "est_cls", [MLPClassifier, MLPRegressor, TabularClassifier, TabularRegressor]
)
def test_generated_tables_fit_and_predict_or_raise_clearly(est_cls):
    @FUZZ
    @given(train=frames(), test=frames(), y_kind=st.sampled_from(["ok", "short"]))
    def check(train, test, y_kind):
        X, _ = train
        n = len(X) if y_kind == "ok" else max(len(X) - 1, 0)
        y = np.arange(n) % 2
        est = est_cls(**TINY_PARAMS.get(est_cls, TINY))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            try:
                est.fit(X, y)
            except CLEAN:
                return
            predicts_cleanly(est, X)
            predicts_cleanly(est, test[0])  # other columns, kinds, categories

    check()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    rng = np.random.RandomState(0)
    X = pd.DataFrame(
        {
            "x": rng.randn(40),
            "c": rng.choice(["a", "b", "c"], 40),
            "o": pd.Categorical(
                rng.choice(["lo", "hi"], 40), ["lo", "hi"], ordered=True
            ),
        }
    )
    X.loc[::5, "x"] = np.nan
    path = tmp_path_factory.mktemp("m") / "table.sknn"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sknn.save(MLPClassifier(**TINY).fit(X, np.arange(40) % 2), path)
    with zipfile.ZipFile(path) as zf:
        return X, {n: zf.read(n) for n in zf.namelist()}


def test_corrupted_table_encodings_raise_only_clear_errors(saved, tmp_path):
    X, members = saved
    meta = json.loads(members["meta.json"])
    attrs = meta["attributes"]
    paths = [("attributes", "_table", *p) for p in json_paths(attrs["_table"]) if p]
    paths += [("attributes", "_meta_", *p) for p in json_paths(attrs["_meta_"]) if p]

    @FUZZ
    @given(where=st.sampled_from(paths), value=JSON)
    def check(where, value):
        path = tmp_path / "m.sknn"
        write_edited(members, where, value, path)
        load_and_use(path, X)

    check()
