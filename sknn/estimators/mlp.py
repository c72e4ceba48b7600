"""MLPClassifier and MLPRegressor: scikit-learn's MLP, on PyTorch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from sknn.base import BaseNeuralNet
from sknn.estimators._classifier import NeuralNetClassifierMixin
from sknn.estimators._regressor import NeuralNetRegressorMixin
from sknn.estimators._sizes import as_sizes
from sknn.estimators._tables import TableMixin
from sknn.modules import ACTIVATIONS, MLP
from sknn.training.losses import REGRESSION_LOSSES
from sknn.utils._compat import Interval, StrOptions

SCORING_DOC = """    scoring : str, callable, list, tuple, dict or None, default=None
        What the held-out rows are scored with, each epoch, when there are any
        (``early_stopping=True``, a callback that monitors a ``valid_*`` metric).
        ``None``: ``valid_score`` is accuracy (R² for regressors), computed on the
        device. ``"loss"``: ``valid_score`` is minus the validation loss. A
        scikit-learn scorer name (``"f1"``, ``"roc_auc"``, ``"neg_log_loss"`` ...;
        see :func:`sklearn.metrics.get_scorer_names`) or a callable
        ``scorer(estimator, X, y)``: ``valid_score`` is its value (also recorded as
        ``valid_<name>`` for a name), so ``early_stopping`` and
        ``validation_scores_`` follow it. A callable gets the validation rows as
        ``X`` (as given to ``fit``; refused for a Dataset streamed batch by batch)
        and, as ``estimator``, the epoch's predictions of those rows (other rows
        are predicted with the current weights). A list or tuple of names, or a dict of
        names to scorers, records each as ``valid_<name>`` and keeps the default
        ``valid_score``. Scorers run on the host on the validation predictions
        (:class:`~sknn.callbacks.ValidationPredictions`, which callbacks
        also see as ``trainer.validation``); the default reads nothing more.
"""

SCALE_PARAMS_DOC = """
    data_placement : {"auto", "device", "stream"}, default="auto"
        Where the training rows live during ``fit``. ``"device"`` copies them to
        the device once (the fastest path); ``"stream"`` keeps them on the host (a
        ``numpy.memmap`` stays on disk) and moves one batch at a time, the next one
        prepared in a background thread; ``"auto"`` streams only when the inputs
        (in the fit dtype) take more than ``memory_budget`` bytes. Both give the
        same model for the same seed. One dense array streams, and so does a
        map-style torch ``Dataset`` (its items loaded batch by batch through a
        ``DataLoader``; only its targets are read up front); sparse matrices,
        several inputs in arrays and DataLoaders keep their own paths. See "Data
        larger than memory" on the "Your data, your way" page.
    memory_budget : int or None, default=None
        Bytes the training inputs may take on the device when
        ``data_placement="auto"`` (and the validation rows of a streamed fit);
        ``None`` is half of the device's free memory (of the available RAM on a
        CPU).
    autocast : {None, "bfloat16", "float16"}, default=None
        Mixed precision: the forward pass runs under ``torch.autocast`` in this
        dtype; the loss, the weights and the optimiser stay in float32.
        ``"float16"`` needs CUDA and scales the loss with a gradient scaler;
        ``"bfloat16"`` works on CUDA and on CPUs. Predictions are made in full
        precision. See the "Speed and memory" page.
    accumulation_steps : int, default=1
        Optimiser steps are taken every ``accumulation_steps`` batches, on the
        gradient of their union: ``batch_size=b, accumulation_steps=k`` trains as
        ``batch_size=k * b`` does (to float rounding; batch normalisation and
        dropout still see batches of ``b``) with the memory of ``b`` rows.
    compile : bool or dict, default=False
        Train a ``torch.compile``-d module (a dict holds ``torch.compile``'s
        options, e.g. ``{"mode": "max-autotune"}``). The first epoch pays the
        compilation; measure before you keep it (see the "Speed and memory" page).
    embedding_dim : int or None, default=None
        Width of each categorical column's embedding when ``X`` is a raw DataFrame
        (categorical, string or boolean columns, or missing values; see the "Raw
        tables" page). ``None`` sizes each column by its number of categories
        ``n``: ``min(50, round(1.6 * n ** 0.56))``. Not used for arrays.
    loader_kwargs : dict, default=None
        Options of the ``torch.utils.data.DataLoader`` that reads (or streams) a
        ``Dataset`` given as ``X``: ``num_workers``, ``pin_memory``, ``collate_fn``,
        ``batch_size`` (rows read per batch), ...; see the "Your data, your way"
        page. Arrays never go through a loader.
"""

_COMMON_DOC = (
    """
    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : str, default="relu"
        Hidden-layer activation: scikit-learn's ``"identity"``, ``"logistic"``,
        ``"tanh"``, ``"relu"``, plus ``"leaky_relu"``, ``"elu"``, ``"selu"``, ``"gelu"``,
        ``"silu"``, ``"mish"``, ``"softplus"``.
    solver : str, default="adam"
        ``"adam"``, ``"sgd"``, ``"lbfgs"`` (full batch, as in scikit-learn) or another
        torch optimiser: ``"adamw"``, ``"nadam"``, ``"radam"``, ``"rmsprop"``,
        ``"adagrad"``.
    alpha : float, default=0.0001
        L2 penalty on the weights (not the biases), scaled as in scikit-learn:
        ``0.5 * alpha * ||W||^2 / batch_size`` is added to the loss. With
        ``solver="adamw"`` it is the decoupled weight decay instead.
    batch_size : int or "auto", default="auto"
        Rows per mini-batch; ``"auto"`` is ``min(200, n_samples)``.
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule, as in scikit-learn: it applies to ``solver="sgd"``
        only (see ``learning_rate_mode``). ``"adaptive"`` divides the rate by 5 when
        ``n_iter_no_change`` epochs bring no ``tol`` improvement, until it falls below
        1e-6; with other solvers such a plateau ends training.
    learning_rate_init : float, default=0.001
        Initial learning rate.
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
    max_iter : int, default=200
        Maximum number of epochs; for ``solver="lbfgs"``, of L-BFGS iterations.
    shuffle : bool, default=True
        Reshuffle the rows every epoch.
    random_state : int, RandomState instance or None, default=None
        Seeds everything: initialisation, shuffling, dropout and the validation split.
    tol : float, default=1e-4
        Improvement below which an epoch counts as no progress. For
        ``solver="lbfgs"`` it is scikit-learn's ``gtol`` instead: L-BFGS stops when
        the largest gradient component is at most ``tol``.
    verbose : bool or int, default=False
        Print one line per epoch (loss, validation loss and score, rate, time).
    warm_start : bool, default=False
        Reuse the previous solution as the starting point of the next ``fit``.
    momentum : float, default=0.9
        Momentum for ``"sgd"`` (and ``"rmsprop"``). The velocity holds the learning
        rate as in scikit-learn, so a schedule's new rate applies to the next
        gradients only (see ``learning_rate_mode``).
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with ``"sgd"``.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified for classifiers,
        seeded by ``random_state``), stop when the validation score stops improving,
        and restore the weights of the best epoch. As in scikit-learn it raises a
        ``ValueError`` when a class has one member or fewer than 2 rows would be
        held out, and it does not apply to ``solver="lbfgs"`` (ignored) nor to
        ``partial_fit`` (which raises).
    validation_fraction : float, default=0.1
        Share of rows held out for early stopping or validation callbacks.
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam-family parameters.
    n_iter_no_change : int or np.inf, default=10
        Epochs without ``tol`` improvement before stopping; ``np.inf`` never stops
        early. Not used by ``solver="lbfgs"``.
    max_fun : int, default=15000
        ``solver="lbfgs"`` only: maximum number of loss evaluations (line searches
        included), as in scikit-learn; reaching it ends training with a
        ``ConvergenceWarning``.
    learning_rate_mode : {"sklearn", "torch"}, default="sklearn"
        ``"sklearn"``: ``learning_rate`` schedules apply to ``solver="sgd"`` only and
        the momentum velocity holds the rate, as in scikit-learn.
        ``"torch"``: schedules apply to every stochastic solver (``"adam"``
        included), and SGD keeps ``torch.optim.SGD``'s momentum buffer, which a
        change of rate rescales as a whole. The two are identical under a constant
        rate.
    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    batch_norm : bool, default=False
        Batch normalisation before each hidden activation.
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    dtype : {"auto", "float32", "float64"}, default="auto"
        Floating precision of the weights, of the data on the device and of the
        predictions. ``"auto"`` keeps the input's precision as scikit-learn does:
        float32 input trains in float32, float64 (and integer) input in float64;
        on a GPU it is float32 (most GPUs are many times slower in float64).
        ``"float32"`` is faster on CPU too (about 1.5-2x on a 2-core machine).
    callbacks : list of Callback, default=None
        Hooks into training (see :mod:`sknn.callbacks`); cloned at each fit.
"""
    + SCORING_DOC
    + """    n_threads : int or None, default=None
        CPU threads torch uses during ``fit`` and ``predict``. ``None`` picks them
        from the work and the machine: one thread for small networks, never more
        than the idle cores, torch's current limit (``OMP_NUM_THREADS``,
        ``threadpoolctl``, joblib workers) or one in a worker thread. Set only for
        the duration of the call; torch's own setting is restored afterwards. See
        the "Speed and memory" page of the documentation.
    optimizer : torch.optim.Optimizer class or callable, default=None
        The optimiser, built with ``lr=learning_rate_init`` and the ``optimizer__``
        options; replaces ``solver`` (then leave ``solver`` and its parameters at
        their defaults). ``None`` is the optimiser ``solver`` names. See the "Your
        own loss, optimiser and parameter groups" page of the documentation.
    criterion : torch loss class, instance or callable, default=None
        The training loss, ``criterion(output, target) -> scalar`` on the raw
        output (logits for classifiers); a class is built with the ``criterion__``
        options. ``None`` is the default loss.
"""
    + SCALE_PARAMS_DOC
    + """    **kwargs : dict
        Nested parameters: ``optimizer__<option>`` (and ``optimizer__param_groups``,
        a list of ``(pattern, options)`` pairs matched against parameter names),
        ``criterion__<option>``. Taken by ``get_params``, ``set_params`` and the
        searches like any other parameter.
"""
)

_COMMON_ATTRS = """
    loss_ : float
        The training loss of the last epoch (with the L2 term).
    best_loss_ : float or None
        Lowest training loss; ``None`` with ``early_stopping=True``.
    loss_curve_ : list of float
        Training loss of each epoch.
    validation_scores_ : list of float or None
        Validation score of each epoch with ``early_stopping=True``.
    best_validation_score_ : float or None
        Best validation score with ``early_stopping=True``.
    history_ : History
        One record per epoch: ``train_loss``, ``valid_loss``, ``valid_score``
        (when validating), ``lr``, ``dur``.
    n_iter_ : int
        Number of epochs run by the last ``fit`` (a warm-started ``fit`` counts its
        own, as in scikit-learn), or by all ``partial_fit`` calls.
    t_ : int
        Number of training rows seen by the solver.
    coefs_ : list of ndarray
        Weight matrices, ``coefs_[i]`` of shape ``(n_in, n_out)`` as in scikit-learn.
        Assignable: ``est.coefs_ = [...]`` sets the network's weights (on a fitted
        estimator at once; on an unfitted one at the first ``partial_fit``, or
        ``fit`` with ``warm_start=True``).
    intercepts_ : list of ndarray
        Bias vectors (zeros for layers before batch norm, which have no bias);
        assignable like ``coefs_``.
    n_layers_ : int
        Number of layers (input and output included).
    n_outputs_ : int
        Number of output units.
    out_activation_ : str
        Output activation.
    n_features_in_ : int
        Number of features seen in ``fit``.
    feature_names_in_ : ndarray of str
        Feature names seen in ``fit`` (DataFrames with string columns only).
    module_ : torch.nn.Module
        The trained network (:class:`sknn.modules.MLP`).
    device_ : str
        The device the network lives on.
    callbacks_ : list of Callback
        The callbacks as fitted.
    stop_reason_ : str or None
        Why training stopped before ``max_iter``.
"""


class _MLPMixin:
    """Architecture parameters and scikit-learn's weight attributes."""

    def _build_module(self, meta: dict) -> torch.nn.Module:
        return MLP(
            meta["n_features_in"],
            meta["n_outputs"],
            hidden_layer_sizes=as_sizes(self.hidden_layer_sizes, "hidden_layer_sizes"),
            activation=self.activation,
            dropout=self.dropout,
            batch_norm=self.batch_norm,
        )

    def _learning_rate_mode(self) -> str:
        return self.learning_rate_mode

    def _linears(self) -> list[torch.nn.Linear]:
        check_is_fitted(self, "module_")
        return [m for m in self.module_.modules() if isinstance(m, torch.nn.Linear)]

    @property
    def coefs_(self) -> list[np.ndarray]:
        """Weight matrices, ``coefs_[i]`` of shape ``(n_in, n_out)``; assignable."""
        if "_assigned_coefs" in self.__dict__:
            return self._assigned_coefs
        return [m.weight.detach().cpu().numpy().T.copy() for m in self._linears()]

    @coefs_.setter
    def coefs_(self, value) -> None:
        self._assign("coefs", value)

    @property
    def intercepts_(self) -> list[np.ndarray]:
        """Bias vectors, ``intercepts_[i]`` of shape ``(n_out,)`` (zeros for the layers
        before batch norm, which have no bias); assignable."""
        if "_assigned_intercepts" in self.__dict__:
            return self._assigned_intercepts
        return [
            m.bias.detach().cpu().numpy().copy()
            if m.bias is not None
            else np.zeros(m.out_features, dtype=m.weight.detach().cpu().numpy().dtype)
            for m in self._linears()
        ]

    @intercepts_.setter
    def intercepts_(self, value) -> None:
        self._assign("intercepts", value)

    def _assign(self, kind: str, value) -> None:
        """Keep an assigned ``coefs_`` / ``intercepts_`` list; write it into the
        network now when there is one, else at the first ``partial_fit`` (or warm
        ``fit``), as scikit-learn users initialise a network from another model. The
        list itself is kept until then, so its items may still be replaced."""
        self.__dict__[f"_assigned_{kind}"] = value
        if hasattr(self, "module_"):
            self._load_assigned_weights(use=True)

    def _load_assigned_weights(self, *, use: bool) -> None:
        self.__dict__.pop("_assigned_n_layers", None)
        assigned = {
            kind: self.__dict__.pop(f"_assigned_{kind}", None)
            for kind in ("coefs", "intercepts")
        }
        if not use:
            return
        linears = self._linears()
        with torch.no_grad():
            for kind, arrays in assigned.items():
                if arrays is None:
                    continue
                if len(arrays) != len(linears):
                    raise ValueError(
                        f"{kind}_ needs {len(linears)} arrays, one per layer; got "
                        f"{len(arrays)}."
                    )
                for i, (m, a) in enumerate(zip(linears, arrays)):
                    target = m.weight if kind == "coefs" else m.bias
                    if target is None:
                        raise ValueError(
                            f"Layer {i} has no intercept (it is followed by batch "
                            "normalisation): intercepts_ cannot be assigned."
                        )
                    a = np.asarray(a, dtype=np.float64)
                    a = a.T if kind == "coefs" else a.reshape(-1)
                    if a.shape != tuple(target.shape):
                        raise ValueError(
                            f"{kind}_[{i}] has shape "
                            f"{a.T.shape if kind == 'coefs' else a.shape}; this "
                            f"network needs "
                            f"{tuple(target.T.shape) if kind == 'coefs' else tuple(target.shape)}."
                        )
                    target.copy_(torch.as_tensor(a, dtype=target.dtype))

    @property
    def n_layers_(self) -> int:
        """Number of layers, input and output included."""
        if not hasattr(self, "module_") and "_assigned_n_layers" in self.__dict__:
            return self._assigned_n_layers
        return len(self._linears()) + 1

    @n_layers_.setter
    def n_layers_(self, value: int) -> None:
        # scikit-learn code sets it with coefs_ before a partial_fit; the network's
        # depth comes from hidden_layer_sizes, so only a contradiction is an error.
        if hasattr(self, "module_"):
            if value != self.n_layers_:
                raise ValueError(
                    f"n_layers_ is {self.n_layers_} for this network; set "
                    "hidden_layer_sizes to change its depth."
                )
        else:
            self.__dict__["_assigned_n_layers"] = value

    @property
    def _no_improvement_count(self) -> int:
        """Epochs since the last ``tol`` improvement (scikit-learn's counter)."""
        state = self.__dict__.get("_state")
        return 0 if state is None else state.no_improve

    @_no_improvement_count.setter
    def _no_improvement_count(self, value: int) -> None:
        state = self.__dict__.get("_state")
        if state is not None:
            state.no_improve = int(value)


def _mlp_constraints() -> dict:
    return {
        **BaseNeuralNet._parameter_constraints,
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "batch_norm": ["boolean"],
        "learning_rate_mode": [StrOptions({"sklearn", "torch"})],
        "embedding_dim": [Interval(Integral, 1, None, closed="left"), None],
    }


class MLPClassifier(TableMixin, _MLPMixin, NeuralNetClassifierMixin, BaseNeuralNet):
    __doc__ = (
        """Multi-layer perceptron classifier, a drop-in for scikit-learn's, on PyTorch.

    Minimises the log-loss with a torch optimiser on CPU or CUDA. Same parameters,
    defaults and fitted attributes as :class:`sklearn.neural_network.MLPClassifier`,
    plus dropout, batch norm, more activations and solvers, ``class_weight``,
    ``device``, callbacks and a per-epoch ``history_`` with validation loss.
"""
        + _COMMON_DOC
        + """    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn's linear models.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Class labels."""
        + _COMMON_ATTRS
        + """
    See Also
    --------
    MLPRegressor : The regressor.
    sklearn.neural_network.MLPClassifier : The scikit-learn original.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    >>> clf.predict_proba(X[:2]).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """
    )

    _parameter_constraints = {
        **_mlp_constraints(),
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] | int = (100,),
        activation: str = "relu",
        *,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
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
        dropout: float = 0.0,
        batch_norm: bool = False,
        class_weight: dict | str | None = None,
        device: str | torch.device = "auto",
        learning_rate_mode: str = "sklearn",
        dtype: str = "auto",
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
        embedding_dim: int | None = None,
        **kwargs,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.class_weight = class_weight
        self.device = device
        self.learning_rate_mode = learning_rate_mode
        self.dtype = dtype
        self.callbacks = callbacks
        self.scoring = scoring
        self.n_threads = n_threads
        self.optimizer = optimizer
        self.criterion = criterion
        self.data_placement = data_placement
        self.memory_budget = memory_budget
        self.autocast = autocast
        self.accumulation_steps = accumulation_steps
        self.compile = compile
        self.loader_kwargs = loader_kwargs
        self.embedding_dim = embedding_dim
        self._set_nested(kwargs)


class MLPRegressor(TableMixin, _MLPMixin, NeuralNetRegressorMixin, BaseNeuralNet):
    __doc__ = (
        """Multi-layer perceptron regressor, a drop-in for scikit-learn's, on PyTorch.

    Same parameters, defaults and fitted attributes as
    :class:`sklearn.neural_network.MLPRegressor`, plus dropout, batch norm, more
    activations, solvers and losses, target scaling, ``device``, callbacks and a
    per-epoch ``history_`` with validation loss.
"""
        + _COMMON_DOC
        + """    loss : {"squared_error", "absolute_error", "huber", "poisson"}, \
default="squared_error"
        Loss optimised (on scaled targets). ``"poisson"`` uses a log link and needs
        non-negative targets.
    scale_target : bool, default=True
        Standardise the targets for training (divide by their mean for
        ``"poisson"``) and undo it at prediction, so raw targets in the hundreds
        train as well as scaled ones. ``loss_`` is then on the scaled targets.

    Attributes
    ----------"""
        + _COMMON_ATTRS
        + """
    See Also
    --------
    MLPClassifier : The classifier.
    sklearn.neural_network.MLPRegressor : The scikit-learn original.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from sknn import MLPRegressor
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = make_pipeline(StandardScaler(), MLPRegressor(max_iter=50, random_state=0))
    >>> reg.fit(X, y).score(X, y) > 0.4
    True
    """
    )

    _parameter_constraints = {
        **_mlp_constraints(),
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "scale_target": ["boolean"],
    }

    def __init__(
        self,
        hidden_layer_sizes: Sequence[int] | int = (100,),
        activation: str = "relu",
        *,
        loss: str = "squared_error",
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 200,
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
        dropout: float = 0.0,
        batch_norm: bool = False,
        scale_target: bool = True,
        device: str | torch.device = "auto",
        learning_rate_mode: str = "sklearn",
        dtype: str = "auto",
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
        embedding_dim: int | None = None,
        **kwargs,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.loss = loss
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.scale_target = scale_target
        self.device = device
        self.learning_rate_mode = learning_rate_mode
        self.dtype = dtype
        self.callbacks = callbacks
        self.scoring = scoring
        self.n_threads = n_threads
        self.optimizer = optimizer
        self.criterion = criterion
        self.data_placement = data_placement
        self.memory_budget = memory_budget
        self.autocast = autocast
        self.accumulation_steps = accumulation_steps
        self.compile = compile
        self.loader_kwargs = loader_kwargs
        self.embedding_dim = embedding_dim
        self._set_nested(kwargs)
