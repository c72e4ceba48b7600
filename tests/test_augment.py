"""Training-time augmentation: kernels, the augment parameter, search and persistence."""

from __future__ import annotations

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV

import sknn
from sknn import CNNClassifier, CNNRegressor
from sknn.data import Compose, GaussianNoise, RandomCrop, RandomFlip, RandomShift
from sknn.training import TensorData
from sknn.training.augment import (
    AugmentedData,
    gaussian_noise,
    random_flip,
    random_window,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).reshape(-1, 8, 8)[:240], y[:240]


def fit(est, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(X, y)


def cnn(**kw):
    kw = {
        "channels": (4,),
        "hidden_layer_sizes": (16,),
        "max_iter": 2,
        "random_state": 0,
        "n_threads": 1,
        **kw,
    }
    return CNNClassifier(**kw)


# ----------------------------------------------------------------------------- kernels
def test_flip_p0_is_identity_and_p1_flips_exactly():
    x = torch.randn(16, 2, 5, 7, generator=gen())
    assert torch.equal(random_flip(x, 3, 0.0, gen()), x)
    assert torch.equal(random_flip(x, 3, 1.0, gen()), x.flip(3))
    assert torch.equal(RandomFlip(axis=-2, p=1.0)(x, gen()), x.flip(2))


def test_flip_draws_per_sample():
    x = torch.arange(5.0).expand(400, 1, 5).contiguous()
    out = random_flip(x, 2, 0.5, gen())
    flipped = (out == x.flip(2)).all(dim=2).ravel()
    kept = (out == x).all(dim=2).ravel()
    assert bool((flipped | kept).all())
    assert 120 < int(flipped.sum()) < 280  # about half, one draw per sample


def test_crop_content_is_a_shifted_window():
    x = torch.arange(1.0, 26.0).view(1, 1, 5, 5).expand(300, 1, 5, 5).contiguous()
    out = random_window(x, [2, 2], "constant", gen())
    assert out.shape == x.shape
    padded = torch.nn.functional.pad(x[0, 0], (2, 2, 2, 2))
    windows = {(i, j): padded[i : i + 5, j : j + 5] for i in range(5) for j in range(5)}
    seen = set()
    for sample in out[:, 0]:
        match = [k for k, w in windows.items() if torch.equal(w, sample)]
        assert len(match) == 1  # each sample is exactly one window of the padding
        seen.add(match[0])
    assert len(seen) == 25  # every offset -2..2 x -2..2 drawn: per-sample offsets


def test_crop_modes_and_shift_keep_values():
    x = torch.arange(6.0).view(1, 1, 6).expand(50, 1, 6).contiguous()
    rolled = RandomShift(shift=3)(x, gen())
    for row in rolled[:, 0]:
        assert sorted(row.tolist()) == list(range(6))  # a roll keeps every value
    assert not torch.equal(rolled, x)
    edge = RandomCrop(padding=2, mode="replicate")(x, gen())
    assert float(edge.min()) >= 0 and float(edge.max()) <= 5
    assert torch.equal(RandomCrop(padding=0)(x, gen()), x)


def test_noise_std_and_zero():
    x = torch.zeros(2000, 1, 20, dtype=torch.float64)
    out = GaussianNoise(0.3)(x, gen())
    assert out.dtype == torch.float64
    assert abs(float(out.std()) - 0.3) < 0.01
    assert torch.equal(GaussianNoise(0.0)(x, gen()), x)
    assert torch.equal(gaussian_noise(x, 0.3, gen(1)), gaussian_noise(x, 0.3, gen(1)))


def test_augmented_data_only_while_training():
    data = TensorData(np.zeros((6, 1, 4)), np.zeros(6), None, torch.device("cpu"))
    aug = AugmentedData(data, lambda x, g: x + 1, gen())
    assert float(next(aug.batches(6))[0][0].sum()) == 24.0
    with torch.no_grad():
        assert float(next(aug.batches(6))[0][0].sum()) == 0.0
    assert float(aug.subset(np.arange(3)).inputs[0].sum()) == 0.0
    assert aug.n_samples == 6 and aug.augmented


# ------------------------------------------------------------------ the parameter
def test_same_seed_same_fit_and_augment_changes_it(digits):
    X, y = digits
    aug = Compose([RandomCrop(1), RandomFlip(), GaussianNoise(0.05)])
    a = fit(cnn(augment=aug), X, y)
    b = fit(clone(a), X, y)
    plain = fit(cnn(), X, y)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))
    assert not np.allclose(a.predict_proba(X), plain.predict_proba(X))
    other = fit(cnn(augment=aug, random_state=1), X, y)
    assert not np.allclose(a.predict_proba(X), other.predict_proba(X))


def test_predictions_are_never_augmented(digits):
    X, y = digits
    est = fit(cnn(augment=GaussianNoise(5.0)), X, y)
    proba = est.predict_proba(X)
    score = est.score(X, y)
    est.set_params(augment=None)
    np.testing.assert_array_equal(est.predict_proba(X), proba)
    assert est.score(X, y) == score
    # Same weights, same predictions: the validation rows are not augmented either.
    seen = []
    es = fit(
        cnn(
            augment=lambda x: seen.append(x.shape[0]) or x,
            early_stopping=True,
            max_iter=1,
        ),
        X,
        y,
    )
    assert es.validation_scores_ and sum(seen[1:]) == 216  # 240 - 24 validation rows


def test_identity_callable_trains_as_without(digits):
    X, y = digits
    plain = fit(cnn(), X, y)
    ident = fit(cnn(augment=lambda x, generator: x.clone()), X, y)
    np.testing.assert_array_equal(plain.predict_proba(X), ident.predict_proba(X))


def test_partial_fit_is_reproducible(digits):
    X, y = digits
    runs = []
    for _ in range(2):
        est = cnn(augment=RandomCrop(1))
        for _ in range(2):
            est.partial_fit(X, y, classes=np.arange(10))
        runs.append(est.predict_proba(X))
    np.testing.assert_array_equal(*runs)


def test_signals_1d_regressor():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(120, 2, 16))
    y = X[:, 0].mean(axis=1)
    reg = CNNRegressor(
        channels=(4,),
        input_shape=(2, 16),
        max_iter=2,
        random_state=0,
        n_threads=1,
        augment=[RandomShift(2), RandomFlip(p=0.5), GaussianNoise(0.1)],
    )
    fit(reg, X, y)
    again = fit(clone(reg), X, y)
    np.testing.assert_array_equal(reg.predict(X), again.predict(X))
    assert reg.predict(X).shape == (120,)


# ------------------------------------------------------------ errors
@pytest.mark.parametrize(
    "augment, match",
    [
        (lambda x: x[:, :, :4], "shape, dtype and device"),
        (lambda x: x.double(), "shape, dtype and device"),
        (lambda x: x.numpy(), "must return a torch.Tensor"),
        (lambda x: x @ torch.ones(3), "augment failed on a batch"),
        (RandomFlip(axis=0), "not a spatial axis"),
        (RandomFlip(p=2), r"RandomFlip.p must be a real number in \[0.0, 1.0\]"),
        (RandomCrop(padding=(1, 2, 3)), "one per spatial axis"),
        (RandomCrop(padding=8, mode="reflect"), "too large"),
        (RandomCrop(mode="wrap"), "mode must be one of"),
        (GaussianNoise(-1), "GaussianNoise.std"),
        (RandomFlip, "got the class RandomFlip"),
    ],
)
def test_clear_errors(digits, augment, match):
    X, y = digits
    with pytest.raises(ValueError, match=match):
        fit(cnn(augment=augment), X, y)


def test_not_callable_and_lbfgs_refused(digits):
    X, y = digits
    with pytest.raises(ValueError, match="augment"):
        fit(cnn(augment="flip"), X, y)
    with pytest.raises(ValueError, match="stochastic solver"):
        fit(cnn(augment=RandomFlip(), solver="lbfgs"), X, y)


# ------------------------------------------------- params, search, persistence
def test_get_set_params_clone_and_search(digits):
    X, y = digits
    est = cnn(augment=Compose([RandomCrop(1), ("noise", GaussianNoise(0.1))]))
    params = est.get_params()
    assert params["augment__randomcrop__padding"] == 1
    assert params["augment__noise__std"] == 0.1
    est.set_params(augment__noise__std=0.2)
    assert est.augment.transforms[1][1].std == 0.2
    copy = clone(est)
    assert copy.augment is not est.augment
    assert copy.get_params()["augment__noise__std"] == 0.2
    with pytest.raises(ValueError, match="Invalid parameter 'nope'"):
        est.set_params(augment__nope__std=1)
    search = GridSearchCV(
        cnn(augment=GaussianNoise()), {"augment__std": [0.0, 0.3]}, cv=2
    )
    fit(search, X, y)
    assert [p["augment__std"] for p in search.cv_results_["params"]] == [0.0, 0.3]
    assert search.best_estimator_.augment.std in (0.0, 0.3)


def test_pickle_and_sknn_save_round_trip(digits, tmp_path):
    X, y = digits
    aug = Compose([("crop", RandomCrop((1, 2), mode="reflect")), RandomFlip((-1, -2))])
    est = fit(cnn(augment=aug), X, y)
    back = pickle.loads(pickle.dumps(est))
    assert repr(back.augment) == repr(aug)
    np.testing.assert_array_equal(back.predict_proba(X), est.predict_proba(X))
    sknn.save(est, tmp_path / "aug.sknn")
    loaded = sknn.load(tmp_path / "aug.sknn")
    assert repr(loaded.augment) == repr(aug)
    np.testing.assert_array_equal(loaded.predict_proba(X), est.predict_proba(X))
    refit = fit(clone(loaded), X, y)  # the loaded transforms train the same network
    np.testing.assert_array_equal(refit.predict_proba(X), est.predict_proba(X))


def test_save_refuses_user_code(digits, tmp_path):
    X, y = digits
    est = fit(cnn(augment=[RandomFlip(), lambda x: x]), X, y)
    with pytest.raises(TypeError, match=r"parameter 'augment'.*is code"):
        sknn.save(est, tmp_path / "user.sknn")
    est.set_params(augment=None)
    sknn.save(est, tmp_path / "user.sknn")  # the fitted network saves without it


def test_hostile_transform_entries_refused():
    from sknn._codec import Decoder

    with pytest.raises(ValueError, match="Unknown sknn transform"):
        Decoder()({"__augment__": "Transform", "params": {}})
    with pytest.raises(ValueError, match="has no parameters"):
        Decoder()({"__augment__": "RandomFlip", "params": {"__dict__": [["fn", 1]]}})


def test_stacked_engine_fits_augmented_networks_alone(digits, monkeypatch):
    from sknn.training import stack_plan

    X, y = digits
    monkeypatch.setattr(stack_plan, "CONV_ON_CPU", True)
    run = cnn(augment=RandomFlip())._setup_fit(X, y)
    assert "augment" in stack_plan.stack_reason(run.trainer, run.train)
    plain = cnn()._setup_fit(X, y)
    assert stack_plan.stack_reason(plain.trainer, plain.train) is None


def test_ddp_shards_share_the_global_batch_transforms():
    from sknn.training.distributed import ShardedData

    x = np.arange(40.0).reshape(8, 1, 5)
    data = TensorData(x, np.zeros(8), None, torch.device("cpu"))

    def source(rank=None):
        aug = AugmentedData(data, RandomCrop(2), torch.Generator().manual_seed(3))
        return aug if rank is None else ShardedData(aug, rank, 2)

    whole = next(source().batches(8))[0][0]
    parts = [next(source(r).batches(8))[0][0] for r in (0, 1)]
    assert torch.equal(parts[0], whole[0::2]) and torch.equal(parts[1], whole[1::2])
    assert not torch.equal(whole, data.inputs[0])
