"""torch Datasets and DataLoaders, SliceDataset, and several inputs (MultiInput)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.model_selection import (
    GridSearchCV,
    KFold,
    StratifiedKFold,
    cross_val_score,
    train_test_split,
)
from sklearn.pipeline import Pipeline
from torch import nn
from torch.utils.data import DataLoader, Dataset, IterableDataset, TensorDataset

import sknn
from sknn import (
    CNNClassifier,
    CNNRegressor,
    MLPClassifier,
    MLPRegressor,
    NeuralNetClassifier,
    NeuralNetRegressor,
    RNNClassifier,
    RNNRegressor,
)
from sknn.data import MultiInput, SliceDataset

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")

FAST = dict(max_iter=15, random_state=0, device="cpu")


@pytest.fixture(scope="module")
def table():
    rng = np.random.RandomState(0)
    X = rng.randn(90, 4).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] > 0).astype(np.int64)
    return X, y


class CountingDataset(Dataset):
    """(x, y) items; counts reads."""

    def __init__(self, X, y):
        self.X, self.y, self.reads = torch.as_tensor(X), torch.as_tensor(y), 0

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.reads += 1
        return self.X[i], self.y[i]


class DictDataset(Dataset):
    """Items ({"a": ..., "b": ...}, y)."""

    def __init__(self, X, y):
        self.X, self.y = torch.as_tensor(X), torch.as_tensor(y)

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        return {"a": self.X[i, :2], "b": self.X[i, 2:]}, self.y[i]


class Stream(IterableDataset):
    def __init__(self, X, y):
        self.X, self.y = X, y

    def __iter__(self):
        for x, t in zip(self.X, self.y):
            yield torch.as_tensor(x), torch.as_tensor(t)


class TwoInputs(nn.Module):
    """forward(a, b); receives the per-input widths as fit-time facts."""

    def __init__(self, n_features_in, n_outputs, width=8):
        super().__init__()
        self.seen = n_features_in
        self.a = nn.Linear(n_features_in["a"], width)
        self.b = nn.Linear(n_features_in["b"], width)
        self.out = nn.Linear(width, n_outputs)

    def forward(self, a, b):
        return self.out(torch.relu(self.a(a) + self.b(b)))


class Positional(nn.Module):
    def __init__(self, n_features_in, n_outputs):
        super().__init__()
        self.a = nn.Linear(n_features_in[0], n_outputs)
        self.b = nn.Linear(n_features_in[1], n_outputs)

    def forward(self, a, b):
        return self.a(a) + self.b(b)


def _weights(est):
    return [p.detach().clone() for p in est.module_.parameters()]


def _same_weights(a, b):
    return all(torch.equal(p, q) for p, q in zip(_weights(a), _weights(b)))


# ---------------------------------------------------------------- Datasets
@pytest.mark.parametrize(
    "make",
    [
        lambda X, y: TensorDataset(torch.tensor(X), torch.tensor(y)),
        lambda X, y: CountingDataset(X, y),
    ],
    ids=["TensorDataset", "map-style"],
)
def test_dataset_of_pairs_fits_as_arrays(table, make):
    X, y = table
    ref = MLPClassifier(hidden_layer_sizes=(8,), **FAST).fit(X, y)
    est = MLPClassifier(hidden_layer_sizes=(8,), **FAST).fit(make(X, y))
    assert _same_weights(ref, est)
    np.testing.assert_array_equal(est.predict(make(X, y)), ref.predict(X))
    assert est.n_features_in_ == 4


class CountingLoader(DataLoader):
    """Counts the passes over it."""

    passes = 0

    def __iter__(self):
        type(self).passes += 1
        return super().__iter__()


@pytest.mark.parametrize(
    "make, batch",
    [
        (
            lambda X, y: CountingLoader(
                TensorDataset(torch.tensor(X), torch.tensor(y)), 7
            ),
            7,
        ),
        (lambda X, y: Stream(X, y), "auto"),  # read in batches of 200
    ],
    ids=["DataLoader", "IterableDataset"],
)
def test_loaders_stream_their_batches_every_epoch(table, make, batch):
    """A loader's batches are the training batches, read every epoch: the model of
    the arrays trained in the same batches (same size, same order)."""
    X, y = table
    CountingLoader.passes = 0
    params = dict(hidden_layer_sizes=(8,), batch_size=batch, shuffle=False, **FAST)
    ref = MLPClassifier(**params).fit(X, y)
    est = MLPClassifier(**params).fit(make(X, y))
    assert _same_weights(ref, est)
    assert est.n_iter_ == 15 and est.n_features_in_ == 4
    if batch == 7:  # one pass for the targets, then one pass per epoch (at least)
        assert CountingLoader.passes >= 1 + 15
    np.testing.assert_array_equal(est.predict(make(X, y)), ref.predict(X))


_STREAM_FAMILIES = [
    (MLPClassifier, (4,), True),
    (MLPRegressor, (4,), False),
    (CNNClassifier, (1, 6, 6), True),
    (CNNRegressor, (1, 6, 6), False),
    (RNNClassifier, (5, 2), True),
    (RNNRegressor, (5, 2), False),
    (NeuralNetClassifier, (4,), True),
    (NeuralNetRegressor, (4,), False),
]


@pytest.mark.parametrize(
    "est_cls, shape, classifier, max_iter",
    [(*f, 2) for f in _STREAM_FAMILIES] + [(*f, 200) for f in _STREAM_FAMILIES[:2]],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_loaders_of_more_than_256_rows_stream_as_arrays(
    est_cls, shape, classifier, max_iter
):
    """Above the 256 rows whose outputs are checked finite at the end of a fit, a
    DataLoader and an IterableDataset train (no validation split is asked for) and
    give the weights of the arrays in the same batches."""
    rng = np.random.RandomState(0)
    X = rng.randn(300, *shape).astype(np.float32)
    first = X.reshape(300, -1)[:, 0]
    y = (first > 0).astype(np.int64) if classifier else first.copy()
    params = dict(max_iter=max_iter, shuffle=False, random_state=0, device="cpu")
    ds = TensorDataset(torch.tensor(X), torch.tensor(y))
    for source, batch in ((DataLoader(ds, batch_size=64), 64), (Stream(X, y), "auto")):
        ref = est_cls(batch_size=batch, **params).fit(X, y)
        est = est_cls(batch_size=batch, **params).fit(source)
        assert est.n_iter_ == ref.n_iter_
        assert _same_weights(ref, est)


@pytest.mark.parametrize(
    "est, shape",
    [
        (CNNClassifier(max_iter=2), (1, 6, 6)),
        (MLPClassifier(hidden_layer_sizes=(8,), batch_norm=True, max_iter=2), (4,)),
    ],
    ids=["CNNClassifier", "MLPClassifier"],
)
def test_a_last_loader_batch_of_one_row_joins_the_one_before(est, shape):
    """With batch normalisation, arrays merge a one-row last batch into the batch
    before it; a loader's one-row last batch used to train alone (other weights for
    the CNN, an error for the MLP)."""
    rng = np.random.RandomState(0)
    X = rng.randn(129, *shape).astype(np.float32)
    y = (X.reshape(129, -1)[:, 0] > 0).astype(np.int64)
    est.set_params(batch_size=64, shuffle=False, random_state=0, device="cpu")
    ref = clone(est).fit(X, y)
    ds = TensorDataset(torch.tensor(X), torch.tensor(y))
    streamed = clone(est).fit(DataLoader(ds, batch_size=64))
    assert _same_weights(ref, streamed)
    if isinstance(est, MLPClassifier):  # one row per channel: torch refuses
        with pytest.raises(ValueError, match="DataLoader a batch_size of at least 2"):
            clone(est).fit(DataLoader(ds, batch_size=1))


def test_streamed_regression_and_shuffled_loaders(table):
    X, _ = table
    target = X @ np.array([1.0, -2.0, 0.5, 0.0], dtype=np.float32) + 100.0
    ds = TensorDataset(torch.tensor(X), torch.tensor(target))
    params = dict(hidden_layer_sizes=(8,), batch_size=10, shuffle=False, **FAST)
    ref = MLPRegressor(**params).fit(X, target)
    est = MLPRegressor(**params).fit(DataLoader(ds, batch_size=10))
    np.testing.assert_allclose(est.predict(X), ref.predict(X), rtol=1e-5)
    shuffled = DataLoader(ds, batch_size=10, shuffle=True)
    reg = MLPRegressor(
        hidden_layer_sizes=(16,),
        max_iter=200,
        learning_rate_init=0.01,
        random_state=0,
        device="cpu",
    )
    assert reg.fit(shuffled).score(X, target) > 0.9


def test_streamed_loaders_refuse_what_needs_rows_in_memory(table):
    X, y = table
    loader = DataLoader(TensorDataset(torch.tensor(X), torch.tensor(y)), batch_size=10)
    with pytest.raises(ValueError, match="validation split"):
        MLPClassifier(early_stopping=True, **FAST).fit(loader)
    with pytest.raises(ValueError, match="sample_weight"):
        MLPClassifier(**FAST).fit(loader, sample_weight=np.ones(len(X)))
    bad = DataLoader(TensorDataset(torch.tensor(X)), batch_size=10)
    with pytest.raises(ValueError, match=r"\(x, y\) pair"):
        MLPClassifier(**FAST).fit(bad)


class _OnePass(IterableDataset):
    """An IterableDataset over one generator made beforehand: it runs dry."""

    def __init__(self, X, y):
        self.items = ((torch.tensor(a), int(b)) for a, b in zip(X, y))

    def __iter__(self):
        return self.items


def test_a_one_pass_iterable_gets_a_clear_error(table):
    """fit reads a loader to count its rows, then once per epoch: a one-pass
    generator used to escape as a bare StopIteration."""
    X, y = table
    with pytest.raises(ValueError, match="must be iterable again each time"):
        MLPClassifier(**FAST).fit(_OnePass(X, y))


def test_dataset_of_inputs_with_y_and_string_labels(table):
    X, y = table
    labels = np.array(["no", "yes"])[y]
    ds = TensorDataset(torch.tensor(X))  # items are (x,)
    est = MLPClassifier(hidden_layer_sizes=(8,), **FAST).fit(ds, labels)
    ref = MLPClassifier(hidden_layer_sizes=(8,), **FAST).fit(X, labels)
    assert list(est.classes_) == ["no", "yes"]
    np.testing.assert_array_equal(est.predict(ds), ref.predict(X))


@pytest.mark.parametrize(
    "est, X",
    [
        (MLPRegressor(hidden_layer_sizes=(8,), **FAST), np.zeros((40, 4))),
        (
            CNNClassifier(max_iter=2, random_state=0, device="cpu"),
            np.zeros((40, 1, 8, 8)),
        ),
        (RNNRegressor(max_iter=2, random_state=0, device="cpu"), np.zeros((40, 5, 3))),
        (NeuralNetRegressor(**FAST), np.zeros((40, 4))),
    ],
    ids=["MLPRegressor", "CNNClassifier", "RNNRegressor", "NeuralNetRegressor"],
)
def test_every_family_takes_a_dataset(est, X):
    rng = np.random.RandomState(1)
    X = (X + rng.rand(*X.shape)).astype(np.float32)
    y = (
        rng.randint(0, 2, len(X))
        if isinstance(est, CNNClassifier)
        else rng.rand(len(X)).astype(np.float32)
    )
    ds = TensorDataset(torch.tensor(X), torch.tensor(y))
    a = clone(est).fit(ds)
    b = clone(est).fit(X, y)
    np.testing.assert_array_equal(a.predict(ds), b.predict(X))


def test_predict_on_a_loader_and_on_x_only_items(table):
    X, y = table
    est = MLPClassifier(hidden_layer_sizes=(8,), **FAST).fit(X, y)
    loader = DataLoader(TensorDataset(torch.tensor(X)), batch_size=32)
    np.testing.assert_array_equal(est.predict(loader), est.predict(X))
    np.testing.assert_allclose(
        est.predict_proba(TensorDataset(torch.tensor(X), torch.tensor(y))),
        est.predict_proba(X),
    )


@pytest.mark.parametrize("est_cls", [NeuralNetClassifier, MLPClassifier])
def test_loader_kwargs_collate_fn_is_used_and_cloned(table, est_cls):
    X, y = table
    calls = []

    def collate(items):
        calls.append(len(items))
        xs, ys = zip(*items)
        return torch.stack(xs) * 2, torch.stack(ys)

    net = est_cls(loader_kwargs={"collate_fn": collate, "batch_size": 30}, **FAST)
    net.fit(TensorDataset(torch.tensor(X), torch.tensor(y)))
    assert calls == [30, 30, 30]
    ref = est_cls(**FAST).fit(X * 2, y)
    assert _same_weights(ref, net)
    assert clone(net).get_params()["loader_kwargs"]["batch_size"] == 30


def test_every_family_takes_loader_kwargs():
    for est in (
        MLPClassifier(), MLPRegressor(), CNNClassifier(), CNNRegressor(),
        RNNClassifier(), RNNRegressor(), NeuralNetClassifier(), NeuralNetRegressor(),
    ):  # fmt: skip
        assert est.get_params()["loader_kwargs"] is None
        est.set_params(loader_kwargs={"num_workers": 0})._validate_params()


def test_bad_loader_kwargs(table):
    X, y = table
    ds = TensorDataset(torch.tensor(X), torch.tensor(y))
    with pytest.raises(ValueError, match="loader_kwargs has options"):
        NeuralNetClassifier(loader_kwargs={"shuffle": True}, **FAST).fit(ds)
    with pytest.raises(ValueError, match="loader_kwargs"):
        NeuralNetClassifier(loader_kwargs=[1], **FAST).fit(ds)


class Strings(Dataset):
    def __len__(self):
        return 4

    def __getitem__(self, i):
        return object(), 1


def test_dataset_with_the_wrong_structure_gets_clear_errors(table):
    X, y = table
    est = MLPClassifier(**FAST)
    with pytest.raises(ValueError, match=r"each item must be an \(x, y\) pair"):
        est.fit(TensorDataset(torch.tensor(X)))
    with pytest.raises(ValueError, match=r"each item must be an \(x, y\) pair"):
        est.fit(TensorDataset(torch.tensor(X), torch.tensor(y), torch.tensor(y)))
    with pytest.raises(ValueError, match="Could not read the Strings"):
        est.fit(Strings())
    with pytest.raises(ValueError, match="takes one input"):
        # (x, y) items and y given again: two inputs for a one-input network
        est.fit(TensorDataset(torch.tensor(X), torch.tensor(y)), y)
    with pytest.raises(ValueError, match="0 sample"):
        est.fit(TensorDataset(torch.zeros(0, 4), torch.zeros(0)))
    with pytest.raises(ValueError, match="SliceDataset"):
        SliceDataset(TensorDataset(torch.tensor(X)), idx=1).__array__()


# ---------------------------------------------------------------- SliceDataset
def test_slice_dataset_indexing(table):
    X, y = table
    ds = TensorDataset(torch.tensor(X), torch.tensor(y))
    Xs, ys = SliceDataset(ds), SliceDataset(ds, idx=1)
    assert len(Xs) == 90 and Xs.shape == (90,)
    assert torch.equal(Xs[3], torch.tensor(X[3]))
    sub = Xs[np.array([5, 1, 7])]
    assert isinstance(sub, SliceDataset) and len(sub) == 3
    assert torch.equal(sub[1], torch.tensor(X[1]))
    assert len(Xs[10:20]) == 10 and len(Xs[y == 1]) == int(y.sum())
    np.testing.assert_array_equal(np.asarray(ys), y)
    np.testing.assert_array_equal(np.asarray(ys[sub.indices]), y[[5, 1, 7]])


def test_slice_datasets_of_one_dataset_read_each_item_once(table):
    X, y = table
    ds = CountingDataset(X, y)
    MLPClassifier(hidden_layer_sizes=(8,), **FAST).fit(
        SliceDataset(ds), SliceDataset(ds, idx=1)
    )
    assert ds.reads == len(X)


def test_cross_val_score_on_slice_datasets_is_stratified_as_arrays(table):
    X, y = table
    ds = TensorDataset(torch.tensor(X), torch.tensor(y))
    est = MLPClassifier(hidden_layer_sizes=(8,), **FAST)
    ref = cross_val_score(est, X, y, cv=3)  # a classifier's cv=3 is stratified
    got = cross_val_score(est, SliceDataset(ds), SliceDataset(ds, idx=1), cv=3)
    np.testing.assert_array_equal(got, ref)
    unstratified = cross_val_score(est, X, y, cv=KFold(3))
    assert not np.array_equal(got, unstratified)


def test_grid_search_on_slice_datasets(table):
    X, y = table
    ds = TensorDataset(torch.tensor(X), torch.tensor(y))
    grid = {"alpha": [1e-4, 1.0], "hidden_layer_sizes": [(4,), (8,)]}
    cv = StratifiedKFold(3)
    est = MLPClassifier(**FAST)
    ref = GridSearchCV(est, grid, cv=cv).fit(X, y)
    got = GridSearchCV(est, grid, cv=cv).fit(SliceDataset(ds), SliceDataset(ds, idx=1))
    np.testing.assert_array_equal(
        got.cv_results_["mean_test_score"], ref.cv_results_["mean_test_score"]
    )
    np.testing.assert_array_equal(got.predict(SliceDataset(ds)), ref.predict(X))


# ---------------------------------------------------------------- several inputs
def test_dict_inputs_feed_forward_by_keyword(table):
    X, y = table
    inputs = {"a": X[:, :2], "b": X[:, 2:]}
    net = NeuralNetClassifier(TwoInputs, **FAST).fit(inputs, y)
    assert net.module_.module.seen == {"a": 2, "b": 2}
    assert net.predict(inputs).shape == (90,)
    same = NeuralNetClassifier(TwoInputs, **FAST).fit(MultiInput(inputs), y)
    assert _same_weights(net, same)
    assert not hasattr(net, "n_features_in_")
    # a Dataset yielding dict x feeds the same module
    from_ds = NeuralNetClassifier(TwoInputs, **FAST).fit(DictDataset(X, y))
    assert _same_weights(net, from_ds)
    np.testing.assert_array_equal(
        from_ds.predict(DictDataset(X, y)), net.predict(inputs)
    )


def test_tuple_inputs_feed_forward_by_position(table):
    X, _ = table
    inputs = MultiInput([X[:, :2], X[:, 2:]])
    net = NeuralNetRegressor(Positional, **FAST).fit(inputs, X[:, 0])
    assert net.predict(inputs).shape == (90,)
    ds = TensorDataset(torch.tensor(X[:, :2]), torch.tensor(X[:, 2:]))
    np.testing.assert_allclose(net.predict(ds), net.predict(inputs))


def test_multi_input_slices_in_splitters_pipelines_and_searches(table):
    X, y = table
    inputs = MultiInput({"a": X[:, :2], "b": X[:, 2:]})
    tr, te = train_test_split(inputs, test_size=30, random_state=0)
    assert isinstance(tr, MultiInput) and len(tr) == 60 and len(te) == 30
    net = NeuralNetClassifier(TwoInputs, **FAST)
    scores = cross_val_score(Pipeline([("net", net)]), inputs, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.5)
    search = GridSearchCV(net, {"module_kwargs": [{"width": 4}, {"width": 16}]}, cv=3)
    search.fit(inputs, y)
    assert search.best_estimator_.module_.module.a.out_features in (4, 16)


class Embed(nn.Module):
    def __init__(self, n_outputs):
        super().__init__()
        self.emb = nn.Embedding(10, 4)
        self.fc = nn.Linear(4 + 2, n_outputs)

    def forward(self, ids, num):
        return self.fc(torch.cat([self.emb(ids), num], 1))


def test_integer_inputs_stay_integer_for_embeddings(table):
    X, _ = table
    ids = (np.abs(X[:, 0]) * 3).astype(np.int64) % 10
    inputs = {"ids": ids, "num": X[:, 1:3]}
    target = ids % 2  # learnable from the embedding alone
    net = NeuralNetClassifier(
        Embed, max_iter=60, learning_rate_init=0.05, random_state=0
    )
    assert net.fit(inputs, target).score(inputs, target) == 1.0


def test_multi_input_errors(table):
    X, y = table
    with pytest.raises(ValueError, match="same number of samples"):
        MultiInput({"a": X, "b": X[:10]})
    with pytest.raises(ValueError, match="same number of samples"):
        NeuralNetClassifier(TwoInputs, **FAST).fit({"a": X, "b": X[:10]}, y)
    with pytest.raises(ValueError, match="inconsistent numbers of samples"):
        NeuralNetClassifier(TwoInputs, **FAST).fit({"a": X, "b": X}, y[:10])
    with pytest.raises(ValueError, match="takes one input"):
        MLPClassifier(**FAST).fit({"a": X, "b": X}, y)
    net = NeuralNetClassifier(TwoInputs, **FAST).fit({"a": X[:, :2], "b": X[:, 2:]}, y)
    with pytest.raises(ValueError, match="fitted on several inputs"):
        net.predict(X)
    with pytest.raises(ValueError, match=r"inputs \['a', 'c'\]"):
        net.predict({"a": X[:, :2], "c": X[:, 2:]})
    with pytest.raises(ValueError, match="samples of shape"):
        net.predict({"a": X[:, :3], "b": X[:, 2:]})
    bad = X[:, :2].copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        net.predict({"a": bad, "b": X[:, 2:]})
    with pytest.raises(ValueError, match="fitted on one input"):
        NeuralNetClassifier(**FAST).fit(X, y).predict({"a": X, "b": X})


def test_multi_input_net_clones_pickles_and_saves(table, tmp_path):
    X, y = table
    inputs = {"a": X[:, :2], "b": X[:, 2:]}
    net = NeuralNetClassifier(TwoInputs, **FAST).fit(inputs, y)
    again = pickle.loads(pickle.dumps(net))
    np.testing.assert_array_equal(again.predict(inputs), net.predict(inputs))
    path = tmp_path / "two.sknn"
    sknn.save(net, path)
    loaded = sknn.load(path, module=TwoInputs)
    np.testing.assert_array_equal(loaded.predict(inputs), net.predict(inputs))
    assert not hasattr(clone(net), "module_")


def test_arrays_do_not_go_through_the_adapter_copies(table):
    """Plain arrays reach validation as the very same objects (no copy, no loader)."""
    X, y = table
    from sknn.data.adapters import adapt_fit_input, adapt_predict_input

    Xa, ya = adapt_fit_input(X, y)
    assert Xa is X and ya is y
    assert adapt_predict_input(X) is X


def test_many_networks_cross_validation_takes_the_new_inputs(table):
    """sknn.model_selection stacks SliceDataset views (read into arrays) and fits
    several-input networks one by one: the scores of scikit-learn's own loop."""
    from sknn import model_selection as ms

    X, y = table
    ds = TensorDataset(torch.tensor(X), torch.tensor(y))
    clf = MLPClassifier(
        hidden_layer_sizes=(8,), max_iter=30, learning_rate_init=0.01, random_state=0
    )
    np.testing.assert_allclose(
        ms.cross_val_score(clf, SliceDataset(ds), SliceDataset(ds, idx=1), cv=3),
        cross_val_score(clf, X, y, cv=3),
    )
    inputs = MultiInput({"a": X[:, :2], "b": X[:, 2:]})
    net = NeuralNetClassifier(TwoInputs, **FAST)
    np.testing.assert_allclose(
        ms.cross_val_score(net, inputs, y, cv=3), cross_val_score(net, inputs, y, cv=3)
    )


def test_streamed_loader_of_dicts_feeds_forward_by_keyword(table):
    X, y = table
    params = dict(batch_size=30, shuffle=False, **FAST)
    ref = NeuralNetClassifier(TwoInputs, **params).fit(
        {"a": X[:, :2], "b": X[:, 2:]}, y
    )
    est = NeuralNetClassifier(TwoInputs, **params).fit(
        DataLoader(DictDataset(X, y), batch_size=30)
    )
    assert est.module_.module.seen == {"a": 2, "b": 2}
    assert _same_weights(ref, est)


class _RaggedItems(Dataset):
    """Items of two lengths: torch's default collate cannot stack them."""

    def __len__(self):
        return 10

    def __getitem__(self, i):
        return torch.zeros(2 + i % 2), i % 2


@pytest.mark.parametrize("placement", ["auto", "device", "stream"])
def test_items_of_different_shapes_get_a_clear_error(placement):
    for X in (_RaggedItems(), DataLoader(_RaggedItems(), batch_size=4)):
        with pytest.raises(ValueError, match=r"Could not read the .* in batches"):
            MLPClassifier(data_placement=placement, **FAST).fit(X)
    clf = MLPClassifier(data_placement=placement, **FAST)
    clf.fit(np.zeros((4, 2)), [0, 1, 0, 1])
    with pytest.raises(ValueError, match="collate_fn"):
        clf.predict(_RaggedItems())
