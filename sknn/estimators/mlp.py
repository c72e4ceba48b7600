"""MLPClassifier and MLPRegressor: scikit-learn's MLP, on PyTorch."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from sknn._params import shared_params
from sknn.base import BaseNeuralNet
from sknn.estimators import _docs
from sknn.estimators._classifier import NeuralNetClassifierMixin
from sknn.estimators._regressor import NeuralNetRegressorMixin
from sknn.estimators._sizes import as_sizes
from sknn.estimators._tables import TableMixin
from sknn.modules import ACTIVATIONS, MLP
from sknn.training.losses import REGRESSION_LOSSES
from sknn.utils._compat import Interval, StrOptions

_PARAMS = (
    """
    Parameters
    ----------
    hidden_layer_sizes : array-like of shape (n_layers - 2,), default=(100,)
        The ith element is the number of neurons in the ith hidden layer.
    activation : str, default="relu"
        Hidden-layer activation: scikit-learn's ``"identity"``, ``"logistic"``,
        ``"tanh"``, ``"relu"``, plus ``"leaky_relu"``, ``"elu"``, ``"selu"``, ``"gelu"``,
        ``"silu"``, ``"mish"``, ``"softplus"``.
"""
    + _docs.parameters(*_docs.ENGINE, "learning_rate_mode")
    + """    dropout : float, default=0.0
        Dropout probability after each hidden activation.
    batch_norm : bool, default=False
        Batch normalisation before each hidden activation.
"""
    + _docs.parameters(*_docs.TAIL, "embedding_dim")
)

_ATTRS = (
    _docs.attributes(*_docs.FIT_ATTRS)
    + """    coefs_ : list of ndarray
        Weight matrices, ``coefs_[i]`` of shape ``(n_in, n_out)`` as in scikit-learn.
        Assignable: ``est.coefs_ = [...]`` sets the network's weights (on a fitted
        estimator at once; on an unfitted one at the first ``partial_fit``, or
        ``fit`` with ``warm_start=True``).
    intercepts_ : list of ndarray
        Bias vectors (zeros for layers before batch norm, which have no bias);
        assignable like ``coefs_``.
    n_layers_ : int
        Number of layers (input and output included).
    module_ : torch.nn.Module
        The trained network (:class:`sknn.modules.MLP`).
"""
)


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
        + _PARAMS
        + _docs.parameters("class_weight", "**kwargs")
        + """
    Attributes
    ----------
"""
        + _docs.attributes("classes_")
        + _ATTRS
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
        learning_rate_mode: str = "sklearn",
        dropout: float = 0.0,
        batch_norm: bool = False,
        device: str | torch.device = "auto",
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
        class_weight: dict | str | None = None,
        **kwargs,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate_mode = learning_rate_mode
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.embedding_dim = embedding_dim
        self.class_weight = class_weight
        super().__init__(**shared_params(locals()))


class MLPRegressor(TableMixin, _MLPMixin, NeuralNetRegressorMixin, BaseNeuralNet):
    __doc__ = (
        """Multi-layer perceptron regressor, a drop-in for scikit-learn's, on PyTorch.

    Same parameters, defaults and fitted attributes as
    :class:`sklearn.neural_network.MLPRegressor`, plus dropout, batch norm, more
    activations, solvers and losses, target scaling, ``device``, callbacks and a
    per-epoch ``history_`` with validation loss.
"""
        + _PARAMS
        + _docs.parameters("loss", "scale_target", "**kwargs")
        + """
    Attributes
    ----------
"""
        + _ATTRS
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
        learning_rate_mode: str = "sklearn",
        dropout: float = 0.0,
        batch_norm: bool = False,
        device: str | torch.device = "auto",
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
        loss: str = "squared_error",
        scale_target: bool = True,
        **kwargs,
    ) -> None:
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.learning_rate_mode = learning_rate_mode
        self.dropout = dropout
        self.batch_norm = batch_norm
        self.embedding_dim = embedding_dim
        self.loss = loss
        self.scale_target = scale_target
        super().__init__(**shared_params(locals()))
