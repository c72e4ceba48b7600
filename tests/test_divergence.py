"""Never a silent NaN: divergence, overflowing input, batch norm's one-row batches."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor as SkMLPRegressor

from sknn import MLPClassifier, MLPRegressor, NeuralNetRegressor
from sknn.callbacks import Callback
from sknn.model_selection._stacking import _fit_many
from sknn.training import TensorData
from sknn.training.stacked import StackedTrainer

NON_FINITE = "Solver produced non-finite parameter weights"


@pytest.fixture(scope="module")
def data():
    rng = np.random.RandomState(0)
    X = rng.randn(200, 5)
    y = X.sum(1) * 10
    return X, y


def _diverging(cls, **kw):
    params = dict(
        hidden_layer_sizes=(8,),
        solver="sgd",
        alpha=0.0,
        learning_rate_init=1e38,
        batch_size=200,
        max_iter=5,
        random_state=0,
        dtype="float32",  # a step of 1e38 overflows float32 (float64 input: "auto")
    )
    params.update(kw)
    return cls(**params)


@pytest.mark.parametrize("max_iter", [1, 5])
@pytest.mark.parametrize("cls", [MLPRegressor, MLPClassifier])
def test_fresh_fit_without_finite_weights_raises_like_sklearn(data, cls, max_iter):
    # One step per epoch: the loss of epoch 1 is finite (measured before the step),
    # the weights after it are not. No finite epoch: scikit-learn's error. With
    # max_iter=1 no later loss shows it: only the weights do.
    X, y = data
    target = y if cls is MLPRegressor else (y > 0).astype(int)
    with pytest.raises(ValueError, match=NON_FINITE):
        _diverging(cls, max_iter=max_iter).fit(X, target)


class _SeesWeights(Callback):
    """Records whether the weights were finite at each epoch's end."""

    def on_train_begin(self, trainer):
        self.finite = []

    def on_epoch_end(self, trainer, record):
        params = trainer.module.parameters()
        self.finite.append(all(bool(torch.isfinite(p).all()) for p in params))


@pytest.mark.parametrize("engine", ["single", "stacked"])
def test_warm_fit_that_diverges_keeps_the_previous_weights(data, engine):
    # The one step of the warm fit's first epoch makes the weights non-finite while
    # its loss (measured before the step) is finite: the epoch is not recorded and
    # the weights of the first fit are kept. (Inputs x10: the step overflows.)
    X, y = data
    X = X * 10
    reg = MLPRegressor(
        (8,), solver="sgd", max_iter=5, random_state=0, warm_start=True,
        dtype="float32",  # a step of 1e38 overflows float32, not float64
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        before = reg.fit(X, y).predict(X)
    reg.set_params(learning_rate_init=1e38, batch_size=200, alpha=0.0)
    with pytest.warns(ConvergenceWarning, match="diverged"):
        if engine == "single":  # callbacks never see an epoch with non-finite weights
            reg.set_params(callbacks=[_SeesWeights()]).fit(X, y)
            assert all(reg.callbacks_[0].finite)
        else:  # the stacked engine, K = 1
            run = reg._setup_fit(X, y)
            StackedTrainer([run.trainer], [run.train], [None], alphas=[0.0]).fit()
            reg._finish_fit(run)
    assert reg.stop_reason_ == "diverged"
    assert len(reg.history_) == 5
    np.testing.assert_allclose(reg.predict(X), before, rtol=1e-6)


class _BlowUpAfter(Callback):
    """Keeps epoch 2's weights, then makes the output layer finite but huge."""

    def on_epoch_end(self, trainer, record):
        out = trainer.module.output
        if record["epoch"] == 2:
            self.kept = out.weight.detach().clone()
        if record["epoch"] == 3:
            with torch.no_grad():
                out.weight.fill_(1e38)  # finite, but the outputs overflow


def test_finite_weights_with_infinite_outputs_are_not_kept(data):
    # The newest snapshot (epoch 3) is finite but gives infinite outputs: the engine
    # falls back to the one before it.
    X, y = data
    cb = _BlowUpAfter()
    # float32: weights of 1e38 overflow its outputs (float64 would hold them).
    reg = MLPRegressor(
        (8,), max_iter=20, random_state=0, callbacks=[cb], dtype="float32"
    )
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    kept = reg.callbacks_[0].kept
    torch.testing.assert_close(reg.module_.output.weight.detach(), kept)
    assert np.isfinite(reg.predict(X)).all()


def test_late_divergence_warns_and_predicts_finite(data):
    X, y = data
    reg = MLPRegressor(
        (8,),
        solver="sgd",
        learning_rate_init=1.0,
        batch_size=50,
        max_iter=50,
        random_state=0,
    )
    with pytest.warns(ConvergenceWarning, match="diverged"):
        reg.fit(X, y)
    assert reg.n_iter_ >= 1 and reg.stop_reason_ == "diverged"
    assert np.isfinite(reg.predict(X)).all()


def test_stacked_divergence_is_per_model_and_matches_single_fits(data):
    X, y = data

    def nets():
        # The last two diverge in their only epoch, which the loss cannot show: the
        # third's weights are not finite, the fourth's (one step) are finite but
        # its outputs overflow.
        return [
            MLPRegressor(
                (8,),
                solver="sgd",
                learning_rate_init=lr,
                batch_size=batch_size,
                max_iter=max_iter,
                alpha=0.0,  # an L2 term of the huge weights would show in the loss
                random_state=0,
                dtype="float32",  # a step of 1e38 overflows float32, not float64
            )
            for lr, max_iter, batch_size in (
                (0.05, 30, 50),
                (1.0, 30, 50),
                (1e38, 1, 50),
                (1e38, 1, 200),
            )
        ]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        stacked = nets()
        results = _fit_many(stacked, [(X, y, None)] * 4)
        errors = [err for err, _ in results]
        assert errors[0] is None and errors[1] is None
        for err in errors[2:]:
            assert isinstance(err, ValueError) and NON_FINITE in str(err)
        alone = nets()
        for net in alone[:2]:
            net.fit(X, y)
        for net in alone[2:]:
            with pytest.raises(ValueError, match=NON_FINITE):
                net.fit(X, y)
    assert stacked[1].stop_reason_ == "diverged" == alone[1].stop_reason_
    for s, a in zip(stacked[:2], alone[:2]):
        assert s.n_iter_ == a.n_iter_
        np.testing.assert_allclose(s.predict(X), a.predict(X), rtol=1e-4, atol=1e-4)
        assert np.isfinite(s.predict(X)).all()


@pytest.mark.parametrize("engine", ["single", "stacked"])
def test_huge_float64_inputs_fit_as_scikit_learns_do(engine):
    # Losses of 1e58 are finite in float64; the epoch's read-out used to cast
    # them to float32 (infinite) and call the fit diverged.
    rng = np.random.RandomState(0)
    X, y = rng.randn(100, 5) * 1e30, rng.randn(100)
    ours = MLPRegressor(max_iter=3, random_state=0, device="cpu")
    theirs = SkMLPRegressor(max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        theirs.fit(X, y)
        if engine == "single":
            ours.fit(X, y)
        else:
            [(error, _)] = _fit_many([ours], [(X, y, None)])
            assert error is None
    assert ours.stop_reason_ is None  # trained its 3 epochs, as scikit-learn's did
    for est in (ours, theirs):
        assert all(np.isfinite(c).all() for c in est.coefs_ + est.intercepts_)
        assert np.isfinite(est.predict(X)).all()
    assert 0.1 < ours.loss_ / theirs.loss_ < 10  # both about 4e58


def test_huge_float32_inputs_name_float64():
    # In float32 the gradients of 1e30 inputs overflow (scikit-learn computes its
    # regression loss and gradients in float64 then): the error says what to do.
    rng = np.random.RandomState(0)
    X, y = (rng.randn(100, 5) * 1e30).astype(np.float32), rng.randn(100)
    with pytest.raises(ValueError, match=NON_FINITE + '.*dtype="float64"'):
        MLPRegressor(max_iter=3, random_state=0, device="cpu").fit(X, y)
    wide = MLPRegressor(max_iter=3, random_state=0, device="cpu", dtype="float64")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert np.isfinite(wide.fit(X, y).predict(X)).all()


def test_input_beyond_float32_range_names_float64(data):
    X, y = data
    with pytest.raises(ValueError, match='dtype="float64"'):
        MLPClassifier((4,), max_iter=2, dtype="float32").fit(X * 1e39, y > 0)
    clf = MLPClassifier((4,), max_iter=2, dtype="float32", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y > 0)
        with pytest.raises(ValueError, match="beyond the range of float32"):
            clf.predict_proba(X * 1e39)
        wide = MLPClassifier((4,), max_iter=2, dtype="float64", random_state=0)
        proba = wide.fit(X * 1e39, y > 0).predict_proba(X * 1e39)
    assert np.isfinite(proba).all()


def test_outputs_that_overflow_warn(data):
    X, y = data
    clf = MLPClassifier((4,), max_iter=2, dtype="float32", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(X, y > 0)
    # Within float32's range, but the hidden layer's sums are not.
    huge = np.vstack([X[:1], np.full((2, 5), 3e38) * [[1], [-1]]])
    with pytest.warns(RuntimeWarning, match="non-finite outputs for [12] of 3 rows"):
        clf.predict_proba(huge)


# -- batch norm ------------------------------------------------------------------------


def test_batches_merge_a_last_row():
    data = TensorData(np.zeros((9, 2)), np.zeros(9), None, torch.device("cpu"))
    assert [len(b[1]) for b in data.batches(4)] == [4, 4, 1]
    assert [len(b[1]) for b in data.batches(4, merge_last=True)] == [4, 5]
    assert [len(b[1]) for b in data.batches(3, merge_last=True)] == [3, 3, 3]
    gen = torch.Generator().manual_seed(0)
    rows = torch.cat([b[1] for b in data.batches(4, gen, merge_last=True)])
    assert len(rows) == 9


@pytest.mark.parametrize("n", [2, 3, 201, 401])
@pytest.mark.parametrize("cls", [MLPClassifier, MLPRegressor])
def test_batch_norm_fits_every_n_from_two(cls, n):
    rng = np.random.RandomState(n)
    X = rng.randn(n, 3)
    y = np.arange(n) % 2 if cls is MLPClassifier else X.sum(1)
    est = cls((4,), batch_norm=True, max_iter=3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X, y)
    assert np.isfinite(est.predict(X).astype(float)).all()


def test_batch_norm_small_batch_size_and_user_module():
    rng = np.random.RandomState(0)
    X, y = rng.randn(7, 3), rng.randn(7)

    def net(n_features_in, n_outputs):
        return torch.nn.Sequential(
            torch.nn.Linear(n_features_in, 4),
            torch.nn.BatchNorm1d(4),
            torch.nn.Linear(4, n_outputs),
        )

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        MLPRegressor((4,), batch_norm=True, batch_size=3, max_iter=2).fit(X, y)
        NeuralNetRegressor(net, batch_size=2, max_iter=2).fit(X, y)


def test_batch_norm_with_one_sample_is_a_clear_error():
    with pytest.raises(ValueError, match="Batch normalisation needs at least 2 rows"):
        MLPRegressor((4,), batch_norm=True).fit(np.ones((1, 3)), [1.0])
