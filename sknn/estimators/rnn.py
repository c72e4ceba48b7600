"""RNNClassifier and RNNRegressor: LSTM / GRU networks for sequences and time series."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import check_array, validate_data

from sknn._params import shared_params
from sknn.base import BaseNeuralNet
from sknn.data.inputs import (
    SEQUENCE_LAYOUTS,
    check_sequence_list,
    check_targets,
    is_ragged,
    pad_sequences,
    scale_uint8,
    table_to_sequences,
)
from sknn.estimators import _docs
from sknn.estimators._classifier import NeuralNetClassifierMixin
from sknn.estimators._regressor import NeuralNetRegressorMixin
from sknn.estimators._sizes import as_sizes as _as_list
from sknn.modules import ACTIVATIONS
from sknn.modules.rnn import CELLS, POOLINGS, RNN
from sknn.training.losses import REGRESSION_LOSSES
from sknn.utils._compat import Interval, StrOptions

_RNN_DOC = """
    Parameters
    ----------
    cell : {"gru", "lstm", "rnn"}, default="gru"
        Recurrent cell (``"rnn"``: Elman cell with tanh).
    hidden_size : int, default=64
        Hidden units per direction and layer.
    num_layers : int, default=1
        Stacked recurrent layers.
    bidirectional : bool, default=True
        Also read the sequences backwards; the last states of both directions are
        concatenated. Sequence-to-one models see the whole sequence, so both
        directions help; set ``False`` for half the cost.
    pooling : {"last", "mean", "max"}, default="last"
        What the dense head sees of each sequence: its last state (its own last
        step, and its first for the backward direction), or the mean or maximum of
        the last recurrent layer's outputs over its own steps (padding never
        counts). ``"max"`` helps on long sequences whose telling part is brief,
        which the last state forgets (GunPoint, 150 steps: median test accuracy
        0.77 against 0.49); on short sequences ``"last"`` does better.
    dropout : float, default=0.0
        Dropout between stacked recurrent layers, on the pooled states and after
        each dense hidden layer.
    hidden_layer_sizes : sequence of int, default=()
        Dense layers between the pooled recurrent states and the output.
    activation : str, default="relu"
        Activation of the dense layers (see :data:`sknn.modules.ACTIVATIONS`).
    input_shape : (T, F) or None, default=None
        Shape of one sequence in a 2-D table: the columns are reshaped to ``(T, F)``
        (C order: step by step). Without it each row of a table is a univariate
        sequence of ``n_features`` steps.
""" + _docs.parameters(
    *_docs.ENGINE,
    *_docs.TAIL,
    style="torch",
    learning_rate_init="""    learning_rate_init : float, default=0.005
        Initial learning rate (recurrent nets train well with a larger step than
        scikit-learn's 0.001).
""",
    max_iter="""    max_iter : int, default=100
        Maximum number of epochs.
""",
    batch_size="""    batch_size : int or "auto", default=32
        Sequences per mini-batch (``"auto"`` is ``min(200, n_samples)``); recurrent
        nets on small data sets need more, smaller steps than an MLP.
""",
)

_RNN_ATTRS = (
    _docs.attributes(*_docs.FIT_ATTRS)
    + """    module_ : torch.nn.Module
        The trained network (:class:`sknn.modules.RNN`).
"""
)

_INPUT_NOTE = """
    Inputs (batch first): ``(n, T, F)`` arrays, 2-D tables ``(n, T)`` read as
    univariate sequences (or reshaped with ``input_shape=(T, F)``), and ragged input:
    a list of ``(T_i, F)`` arrays of different lengths, zero-padded and packed so the
    padding never reaches a recurrent cell. ``n_features_in_`` is the number of
    columns for tables and ``F`` (features per step) for 3-D and ragged input, whose
    sequence length may differ between ``fit`` and ``predict``. ``uint8`` arrays are
    divided by 255; other dtypes are used as they are.
"""


class _RNNMixin:
    """Sequence inputs and the recurrent module."""

    _scales_uint8 = True

    def _validate_inputs(self, X, *, reset: bool, y=None):
        shape_param = self.input_shape
        if isinstance(X, (list, tuple, np.ndarray)) and len(X) == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={np.shape(X)}) while a minimum "
                f"of 1 is required by {type(self).__name__}."
            )
        if is_ragged(X):
            seqs = check_sequence_list(X)
            Xs = pad_sequences(seqs)
        else:
            arr = _dense_array(X)
            if arr is not None and arr.ndim == 3:
                arr3 = check_array(arr, allow_nd=True, dtype=None, input_name="X")
                if arr3.shape[1] == 0:
                    raise ValueError(
                        "Found sequences with 0 time steps; every sequence needs at "
                        "least one step."
                    )
                if shape_param is not None and tuple(arr3.shape[1:]) != tuple(
                    shape_param
                ):
                    raise ValueError(
                        f"X has sequences of shape {arr3.shape[1:]} but input_shape "
                        f"is {tuple(shape_param)}; expected {SEQUENCE_LAYOUTS}."
                    )
                Xs = scale_uint8(arr3)
            elif arr is not None and arr.ndim > 3:
                raise ValueError(
                    f"Expected {SEQUENCE_LAYOUTS}; got an array with {arr.ndim} "
                    "dimensions."
                )
            else:
                return self._validate_table(X, arr, reset=reset, y=y)
        self._check_step_features(Xs.shape[2], reset=reset)
        if y is None:
            return Xs, None
        return Xs, check_targets(y, Xs.shape[0], numeric=self._targets_type.y_numeric)

    def _validate_table(self, X, arr, *, reset: bool, y=None):
        kwargs = dict(dtype=self._input_dtypes(reset), reset=reset)
        if y is None:
            Xv, yv = validate_data(self, X, **kwargs), None
        else:
            Xv, yv = validate_data(
                self,
                X,
                y,
                multi_output=True,
                y_numeric=self._targets_type.y_numeric,
                **kwargs,
            )
        if getattr(arr, "dtype", None) == np.uint8:
            Xv = Xv / Xv.dtype.type(255)
        Xs = table_to_sequences(Xv, self.input_shape)
        if not reset:
            self._check_step_features(Xs.shape[2], reset=False, table=True)
        return Xs, yv

    def _check_step_features(self, n_step: int, *, reset: bool, table=False) -> None:
        """Sequences (not tables) set ``n_features_in_`` to ``F``; every input must
        give the network the number of features per step it was built for."""
        if n_step == 0:
            raise ValueError(
                "Found sequences with 0 features per time step; every step needs at "
                f"least one feature (expected {SEQUENCE_LAYOUTS})."
            )
        if reset:
            if not table:
                self.n_features_in_ = n_step
                if hasattr(self, "feature_names_in_"):
                    del self.feature_names_in_
            return
        fitted = self._meta_["n_step_features"]
        if n_step != fitted:
            raise ValueError(
                f"X has {n_step} features per time step, but {type(self).__name__} "
                f"was fitted with {fitted}; expected {SEQUENCE_LAYOUTS}."
            )

    def _meta(self, X) -> dict:
        return {
            "n_features_in": self.n_features_in_,
            "n_step_features": X.shape[2],
            "input_shape": tuple(X.shape[1:]),
        }

    def _build_module(self, meta: dict) -> torch.nn.Module:
        return RNN(
            meta["n_step_features"],
            meta["n_outputs"],
            cell=self.cell,
            hidden_size=self.hidden_size,
            num_layers=self.num_layers,
            bidirectional=self.bidirectional,
            pooling=self.pooling,
            dropout=self.dropout,
            hidden_layer_sizes=_as_list(self.hidden_layer_sizes, "hidden_layer_sizes"),
            activation=self.activation,
        )

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.three_d_array = True
        return tags


def _dense_array(X):
    """``X`` as an ndarray when it is a dense array-like (``None`` for sparse input
    and DataFrames, which go through scikit-learn's validation as tables)."""
    if sp.issparse(X) or hasattr(X, "iloc") or hasattr(X, "__dataframe__"):
        return None
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    return np.asarray(X)


def _rnn_constraints() -> dict:
    return {
        **BaseNeuralNet._parameter_constraints,
        "cell": [StrOptions(set(CELLS))],
        "hidden_size": [Interval(Integral, 1, None, closed="left")],
        "num_layers": [Interval(Integral, 1, None, closed="left")],
        "bidirectional": ["boolean"],
        "pooling": [StrOptions(set(POOLINGS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "input_shape": ["array-like", None],
        "dtype": [StrOptions({"float32", "float64"})],
    }


class RNNClassifier(_RNNMixin, NeuralNetClassifierMixin, BaseNeuralNet):
    __doc__ = (
        """Recurrent network classifier (LSTM, GRU) for sequences, on PyTorch.

    Sequence-to-one classification from the last recurrent state, trained with the
    same engine, parameters and fitted attributes as :class:`~sknn.MLPClassifier`
    (early stopping, ``warm_start``, ``partial_fit``, ``class_weight``, ``device``,
    callbacks, ``history_``).
"""
        + _INPUT_NOTE
        + _RNN_DOC
        + _docs.parameters("class_weight", "**kwargs")
        + """
    Attributes
    ----------
"""
        + _docs.attributes("classes_")
        + _RNN_ATTRS
        + """
    See Also
    --------
    RNNRegressor : The regressor.
    CNNClassifier : Convolutions over signals ``(n, C, T)``.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn import RNNClassifier
    >>> rng = np.random.RandomState(0)
    >>> X = [rng.normal(size=(rng.randint(3, 10), 2)) for _ in range(100)]  # ragged
    >>> y = np.array(["up" if x[:, 0].sum() > 0 else "down" for x in X])
    >>> clf = RNNClassifier(hidden_size=8, max_iter=20, random_state=0).fit(X, y)
    >>> clf.score(X, y) > 0.9
    True
    >>> clf.predict([np.ones((4, 2))]).tolist()
    ['up']
    """
    )

    _parameter_constraints = {
        **_rnn_constraints(),
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        cell: str = "gru",
        hidden_size: int = 64,
        *,
        num_layers: int = 1,
        bidirectional: bool = True,
        pooling: str = "last",
        dropout: float = 0.0,
        hidden_layer_sizes: Sequence[int] = (),
        activation: str = "relu",
        input_shape: Sequence[int] | None = None,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = 32,
        learning_rate: str = "constant",
        learning_rate_init: float = 0.005,
        power_t: float = 0.5,
        max_iter: int = 100,
        shuffle: bool = True,
        random_state=None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        device: str | torch.device = "auto",
        dtype: str = "float32",
        callbacks: list | None = None,
        scoring: str | Callable | list | tuple | dict | None = None,
        n_threads: int | None = None,
        optimizer: type | Callable | None = None,
        criterion: type | Callable | None = None,
        data_placement: str = "auto",
        memory_budget: int | None = None,
        autocast: str | None = None,
        accumulation_steps: int = 1,
        compile: bool | dict = False,
        loader_kwargs: dict | None = None,
        class_weight: dict | str | None = None,
        **kwargs,
    ) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.dropout = dropout
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.input_shape = input_shape
        self.class_weight = class_weight
        super().__init__(**shared_params(locals()))


class RNNRegressor(_RNNMixin, NeuralNetRegressorMixin, BaseNeuralNet):
    __doc__ = (
        """Recurrent network regressor (LSTM, GRU) for sequences and forecasting.

    Sequence-to-one regression (one or several outputs) from the last recurrent
    state, trained with the same engine, parameters and fitted attributes as
    :class:`~sknn.MLPRegressor`. With :func:`sknn.data.make_windows` a forecasting
    problem becomes a regression problem.
"""
        + _INPUT_NOTE
        + _RNN_DOC
        + _docs.parameters("loss", "scale_target", "**kwargs")
        + """
    Attributes
    ----------
"""
        + _RNN_ATTRS
        + """
    See Also
    --------
    RNNClassifier : The classifier.
    sknn.data.make_windows : Windows and next values from a series.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn import RNNRegressor
    >>> from sknn.data import make_windows
    >>> series = np.sin(np.arange(300) / 5)
    >>> X, y = make_windows(series, window=12)  # (288, 12) windows, next values
    >>> reg = RNNRegressor(hidden_size=8, bidirectional=False, max_iter=10,
    ...                    random_state=0)
    >>> reg.fit(X[:250], y[:250]).score(X[250:], y[250:]) > 0.9
    True
    """
    )

    _parameter_constraints = {
        **_rnn_constraints(),
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "scale_target": ["boolean"],
    }

    def __init__(
        self,
        cell: str = "gru",
        hidden_size: int = 64,
        *,
        num_layers: int = 1,
        bidirectional: bool = True,
        pooling: str = "last",
        dropout: float = 0.0,
        hidden_layer_sizes: Sequence[int] = (),
        activation: str = "relu",
        input_shape: Sequence[int] | None = None,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = 32,
        learning_rate: str = "constant",
        learning_rate_init: float = 0.005,
        power_t: float = 0.5,
        max_iter: int = 100,
        shuffle: bool = True,
        random_state=None,
        tol: float = 1e-4,
        verbose: bool | int = False,
        warm_start: bool = False,
        momentum: float = 0.9,
        nesterovs_momentum: bool = True,
        early_stopping: bool = False,
        validation_fraction: float = 0.1,
        beta_1: float = 0.9,
        beta_2: float = 0.999,
        epsilon: float = 1e-8,
        n_iter_no_change: int = 10,
        max_fun: int = 15000,
        device: str | torch.device = "auto",
        dtype: str = "float32",
        callbacks: list | None = None,
        scoring: str | Callable | list | tuple | dict | None = None,
        n_threads: int | None = None,
        optimizer: type | Callable | None = None,
        criterion: type | Callable | None = None,
        data_placement: str = "auto",
        memory_budget: int | None = None,
        autocast: str | None = None,
        accumulation_steps: int = 1,
        compile: bool | dict = False,
        loader_kwargs: dict | None = None,
        loss: str = "squared_error",
        scale_target: bool = True,
        **kwargs,
    ) -> None:
        self.cell = cell
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.pooling = pooling
        self.dropout = dropout
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.input_shape = input_shape
        self.loss = loss
        self.scale_target = scale_target
        super().__init__(**shared_params(locals()))
