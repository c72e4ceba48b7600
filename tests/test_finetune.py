"""fine_tune: new head, frozen body, own epochs and learning rate, clear errors."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from sknn import MLPClassifier, MLPRegressor
from sknn.callbacks import Callback
from sknn.finetune import body_blocks, find_head, freeze_body
from sknn.modules import MLP

FAST = dict(hidden_layer_sizes=(32, 16), max_iter=30, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def pretrained(digits):
    X, y = digits
    old = y < 5
    clf = MLPClassifier(**FAST, learning_rate_init=0.01).fit(X[old], y[old])
    return clf, X, y


def _clone_fitted(clf):
    import copy

    return copy.deepcopy(clf)


def test_new_head_for_new_classes_and_frozen_body_unchanged(pretrained):
    clf, X, y = pretrained
    clf = _clone_fitted(clf)
    body = {k: v.clone() for k, v in clf.module_.hidden.state_dict().items()}
    head_before = clf.module_.output
    new = y >= 5
    clf.fine_tune(X[new], y[new], max_iter=15, learning_rate_init=0.01)
    assert clf.classes_.tolist() == [5, 6, 7, 8, 9]
    assert clf.n_outputs_ == 5 and clf.module_.output.out_features == 5
    assert clf.module_.output is not head_before
    for k, v in clf.module_.hidden.state_dict().items():
        assert torch.equal(v, body[k]), k  # bit-identical
    trainable = {id(p) for g in clf.optimizer_.param_groups for p in g["params"]}
    assert trainable == {id(p) for p in clf.module_.output.parameters()}
    assert all(not p.requires_grad for p in clf.module_.hidden.parameters())
    assert clf.n_iter_ == len(clf.history_) == 15
    assert clf.score(X[new], y[new]) > 0.6  # chance is 0.2
    assert set(clf.predict(X[new])) <= {5, 6, 7, 8, 9}


def test_freeze_first_n_blocks(pretrained):
    clf, X, y = pretrained
    clf = _clone_fitted(clf)
    first = {k: v.clone() for k, v in clf.module_.hidden[0].state_dict().items()}
    second = clf.module_.hidden[1][0].weight.clone()
    clf.fine_tune(X, y, freeze=1, max_iter=3)
    for k, v in clf.module_.hidden[0].state_dict().items():
        assert torch.equal(v, first[k])
    assert not torch.equal(clf.module_.hidden[1][0].weight, second)
    assert clf.classes_.tolist() == list(range(10))


def test_freeze_false_trains_everything_and_unfreezes(pretrained):
    clf, X, y = pretrained
    clf = _clone_fitted(clf)
    clf.fine_tune(X[y >= 5], y[y >= 5], max_iter=2)  # frozen body
    w = clf.module_.hidden[0][0].weight.clone()
    clf.fine_tune(X[y >= 5], y[y >= 5], freeze=False, max_iter=2)
    assert all(p.requires_grad for p in clf.module_.parameters())
    assert not torch.equal(clf.module_.hidden[0][0].weight, w)


def test_same_classes_keep_the_head(pretrained):
    clf, X, y = pretrained
    clf = _clone_fitted(clf)
    head = clf.module_.output
    old = y < 5
    clf.fine_tune(X[old][:100], y[old][:100], max_iter=2)
    assert clf.module_.output is head
    # a subset of the known classes also keeps the head
    sub = y < 3
    clf.fine_tune(X[sub], y[sub], max_iter=1)
    assert clf.module_.output is head and clf.classes_.tolist() == [0, 1, 2, 3, 4]
    clf.fine_tune(X[old], y[old], max_iter=1, head="new")
    assert clf.module_.output is not head


def test_fine_tune_is_seeded(pretrained):
    clf, X, y = pretrained
    a = _clone_fitted(clf).fine_tune(X[y >= 5], y[y >= 5], max_iter=3)
    b = _clone_fitted(clf).fine_tune(X[y >= 5], y[y >= 5], max_iter=3)
    np.testing.assert_array_equal(a.predict_proba(X), b.predict_proba(X))


def test_learning_rate_override(pretrained):
    clf, X, y = pretrained
    clf = _clone_fitted(clf).fine_tune(X, y, max_iter=1, learning_rate_init=0.123)
    assert clf.history_[-1]["lr"] == pytest.approx(0.123)
    assert clf.learning_rate_init == 0.01  # the parameter is untouched


def test_regressor_new_outputs(diabetes):
    X, y = diabetes
    reg = MLPRegressor(**{**FAST, "max_iter": 5}).fit(X, y)
    body = reg.module_.hidden[0][0].weight.clone()
    Y = np.c_[y, -y]
    reg.fine_tune(X, Y, max_iter=3)
    assert reg.n_outputs_ == 2 and reg.predict(X).shape == (len(X), 2)
    assert torch.equal(reg.module_.hidden[0][0].weight, body)


def test_batch_norm_statistics_of_frozen_body_are_kept(digits):
    X, y = digits
    clf = MLPClassifier(**{**FAST, "max_iter": 5}, batch_norm=True)
    clf.fit(X[y < 5], y[y < 5])
    bn = clf.module_.hidden[0][1]
    stats = bn.running_mean.clone()
    clf.fine_tune(X[y >= 5], y[y >= 5], max_iter=2)
    assert torch.equal(bn.running_mean, stats)


def test_errors(pretrained, iris):
    clf, X, y = pretrained
    with pytest.raises(NotFittedError):
        MLPClassifier().fine_tune(X, y)
    with pytest.raises(ValueError, match="features"):
        _clone_fitted(clf).fine_tune(X[:, :10], y)
    with pytest.raises(ValueError, match="freeze"):
        _clone_fitted(clf).fine_tune(X, y, freeze=-1)
    with pytest.raises(ValueError, match="body blocks"):
        _clone_fitted(clf).fine_tune(X, y, freeze=5)
    with pytest.raises(ValueError, match="head='keep'"):
        _clone_fitted(clf).fine_tune(X, y, head="keep")
    with pytest.raises(ValueError, match="max_iter"):
        _clone_fitted(clf).fine_tune(X, y, max_iter=0)


class _Interrupt(Callback):
    def __init__(self, at=2):
        self.at = at

    def on_epoch_end(self, trainer, record):
        if record["epoch"] == self.at:
            raise KeyboardInterrupt


def test_ctrl_c_inside_fine_tune_behaves_as_in_fit(pretrained):
    clf, X, y = pretrained
    clf = _clone_fitted(clf).set_params(callbacks=[_Interrupt(at=2)])
    with pytest.warns(UserWarning, match="interrupted"):
        clf.fine_tune(X[y >= 5], y[y >= 5], max_iter=10)
    assert clf.stop_reason_ == "interrupted"
    assert clf.predict(X[:5]).shape == (5,)


def test_warm_start_and_partial_fit_keep_their_meaning(pretrained):
    clf, X, y = pretrained
    old = y < 5
    warm = _clone_fitted(clf).set_params(warm_start=True, max_iter=2)
    w = warm.module_.output.weight.clone()
    warm.fit(X[old], y[old])
    assert warm.module_.output.weight.shape == w.shape
    assert not torch.equal(warm.module_.output.weight, w)
    with pytest.raises(ValueError, match="warm_start"):
        warm.fit(X, y)
    inc = _clone_fitted(clf)
    n = inc.n_iter_
    inc.partial_fit(X[old], y[old])
    assert inc.n_iter_ == n + 1


def test_head_and_blocks_rules_for_user_modules():
    net = torch.nn.Sequential(
        torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 3)
    )
    assert find_head(net)[1] is net[2]
    assert [type(b).__name__ for b in body_blocks(net)] == ["Linear", "ReLU"]

    class Named(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.features = torch.nn.Linear(4, 8)
            self.fc = torch.nn.Linear(8, 2)
            self.extra = torch.nn.Linear(2, 2)  # not the head: 'fc' wins

    named = Named()
    assert find_head(named) == ("fc", named.fc)
    mlp = MLP(4, 3, hidden_layer_sizes=(5, 5))
    assert body_blocks(mlp) == list(mlp.hidden)
    freeze_body(mlp, True)
    assert [p.requires_grad for p in mlp.parameters()] == [False] * 4 + [True] * 2
    with pytest.raises(ValueError, match="output layer"):
        find_head(torch.nn.ReLU())


@pytest.mark.parametrize("name", ["CNNClassifier", "RNNClassifier"])
def test_every_family_fine_tunes_and_saves(name, tmp_path):
    import sknn

    Est = getattr(sknn, name, None)
    if Est is None:
        pytest.skip(f"{name} is not available")
    rng = np.random.RandomState(0)
    X = rng.rand(60, 8, 8).astype(np.float32)
    y = rng.randint(0, 3, 60)
    est = Est(max_iter=2, random_state=0, device="cpu").fit(X, y)
    first = next(est.module_.parameters()).clone()
    est.fine_tune(X, y + 5, max_iter=2)
    assert est.classes_.tolist() == [5, 6, 7]
    assert torch.equal(next(est.module_.parameters()), first)
    sknn.save(est, tmp_path / "m.sknn")
    loaded = sknn.load(tmp_path / "m.sknn")
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))


def test_defaults_learn_a_useful_head_on_a_small_task(digits):
    # 100 samples of the new task: one step per epoch. The old defaults (10 epochs
    # at the estimator's learning rate) scored about 0.2 here.
    X, y = digits
    old = y < 5
    clf = MLPClassifier((32,), random_state=0, device="cpu").fit(X[old], y[old])
    new = np.random.RandomState(0).permutation(np.flatnonzero(~old))
    train, test = new[:100], new[100:]
    body = clf.module_.hidden[0][0].weight.detach().clone()
    clf.fine_tune(X[train], y[train])
    assert torch.equal(clf.module_.hidden[0][0].weight, body)
    assert 10 < clf.n_iter_ <= clf.max_iter
    assert clf.score(X[test], y[test]) >= 0.8
