"""NeuralNetClassifier and NeuralNetRegressor: sknn's engine around a user's own module."""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable
from numbers import Integral

import torch
from torch import nn

from sknn._params import shared_params
from sknn.base import BaseNeuralNet
from sknn.data.adapters import StreamInput
from sknn.data.multi import (
    MultiInput,
    check_multi_input,
    example_inputs,
    multi_input_meta,
)
from sknn.estimators import _docs
from sknn.estimators._classifier import NeuralNetClassifierMixin
from sknn.estimators._regressor import NeuralNetRegressorMixin
from sknn.estimators._tables import TableMixin, check_targets
from sknn.modules import MLP, KeywordInputs
from sknn.training.losses import REGRESSION_LOSSES
from sknn.utils._compat import Interval, StrOptions

#: Fit-time facts a module may declare among its keyword arguments.
FIT_TIME_FACTS = ("n_features_in", "n_outputs", "input_shape")

_DOC_PARAMS = """
    Parameters
    ----------
    module : torch.nn.Module class, callable or instance, default=None
        The network. A class or a factory is called with ``module_kwargs`` plus the
        fit-time facts it declares among its keyword arguments: ``n_features_in``,
        ``n_outputs`` (the number of classes for a multiclass classifier, 1 for a
        binary one, the number of targets for a regressor) and ``input_shape``, so
        sizes are never hard-coded. An instance (for example with pretrained weights
        loaded from a file) is copied at each ``fit`` and trained as it is. ``None``
        is :class:`sknn.modules.MLP`. The module returns raw scores (logits); the
        loss applies the link.
    module_kwargs : dict, default=None
        Keyword arguments of ``module``.
""" + _docs.parameters(*_docs.ENGINE, *_docs.TAIL, "embedding_dim", style="torch")

# The nested parameters: the user's module's too.
_KWARGS_DOC = """    **kwargs : dict
        Nested parameters: ``optimizer__<option>`` (and ``optimizer__param_groups``,
        a list of ``(pattern, options)`` pairs matched against parameter names),
        ``criterion__<option>`` and ``module__<argument>`` (merged with
        ``module_kwargs``). Taken by ``get_params``, ``set_params`` and the searches
        like any other parameter.
"""

_DOC_ATTRS = _docs.attributes(*_docs.FIT_ATTRS) + (
    """    module_ : torch.nn.Module
        The trained network.
"""
)


class _ModuleMixin:
    """Build the user's module from the fit-time facts it declares."""

    _nested_prefixes = ("module__", "optimizer__", "criterion__")

    #: A dict or MultiInput feeds forward(**inputs) (sknn.data.adapters).
    _multi_input = True

    def _validate_inputs(self, X, *, reset: bool, y=None):
        names = (
            None if reset else (getattr(self, "_meta_", None) or {}).get("input_names")
        )
        if not isinstance(X, MultiInput):
            if names:
                raise ValueError(
                    f"{type(self).__name__} was fitted on several inputs {names}; "
                    "pass them as a dict or a sknn.data.MultiInput."
                )
            return super()._validate_inputs(X, reset=reset, y=y)
        if not reset and not names:
            raise ValueError(
                f"{type(self).__name__} was fitted on one input; X holds "
                f"{len(X.names)} ({X!r})."
            )
        Xv = check_multi_input(X, None if reset else self._meta_)
        if reset:  # array facts of an earlier fit do not describe these inputs
            for attr in ("n_features_in_", "feature_names_in_"):
                self.__dict__.pop(attr, None)
        if y is None:
            return Xv, None
        return Xv, check_targets(self, y, Xv.shape[0])

    def _meta(self, X) -> dict:
        inputs = X.example if isinstance(X, StreamInput) else X
        if isinstance(inputs, tuple):  # validated several inputs
            return multi_input_meta(inputs)
        return super()._meta(X)

    def _build_module(self, meta: dict) -> nn.Module:
        net = self._build_user_module(meta)
        if meta.get("keyword_inputs"):
            net = KeywordInputs(net, meta["input_names"])
        return net

    def _build_user_module(self, meta: dict) -> nn.Module:
        factory = MLP if self.module is None else self.module
        nested = self._nested("module")
        if isinstance(factory, nn.Module):
            if nested or self.module_kwargs:
                raise ValueError(
                    "module is an instance: module_kwargs and module__ options need "
                    "a module class or factory."
                )
            return copy.deepcopy(factory)
        kwargs = dict(self.module_kwargs or {})
        both = sorted(set(kwargs) & set(nested))
        if both:
            raise ValueError(
                f"module_kwargs and module__{both[0]} both set {both[0]!r}: use one."
            )
        kwargs.update(nested)
        try:
            params = inspect.signature(factory).parameters
        except (TypeError, ValueError):  # builtins without a signature
            params = {}
        for name in FIT_TIME_FACTS:
            if name in params and name not in kwargs:
                kwargs[name] = meta[name]
        name = getattr(factory, "__name__", type(factory).__name__)
        try:
            net = factory(**kwargs)
        except (TypeError, ValueError, RuntimeError) as exc:  # e.g. a negative width
            raise ValueError(
                f"Could not build the module {name} with arguments "
                f"{ {k: kwargs[k] for k in sorted(kwargs)} }: {exc}. Check module_kwargs; "
                f"fit-time facts are passed only when declared among its keyword "
                f"arguments ({', '.join(FIT_TIME_FACTS)})."
            ) from exc
        if not isinstance(net, nn.Module):
            raise ValueError(
                f"module must be a torch.nn.Module class, instance or a factory "
                f"returning one; {name} returned {type(net).__name__}."
            )
        return net

    def _check_module(self, module: nn.Module, meta: dict) -> None:
        # A freshly built module is tried on two rows before training (not when
        # sknn.load rebuilds one, whose head the file may then replace).
        factory = self.module
        name = getattr(factory, "__name__", type(factory).__name__)
        _checked(module, meta, "MLP" if factory is None else name)


def _checked(net: nn.Module, meta: dict, name: str) -> nn.Module:
    """Run ``net`` in eval mode on two rows of zeros shaped like ``X``: a module whose
    input or output width does not fit the data gets a ``ValueError`` naming the
    widths, before training (not a torch error in the middle of it)."""
    p = next(net.parameters(), None)
    xs = example_inputs(
        meta,
        2,
        torch.float32 if p is None or not p.is_floating_point() else p.dtype,
        None if p is None else p.device,
    )
    was_training = net.training
    net.eval()
    try:
        with torch.no_grad():
            out = net(*xs)
    except (RuntimeError, ValueError, TypeError, IndexError) as exc:
        shapes = [tuple(x.shape) for x in xs]
        raise ValueError(
            f"The module {name} cannot read X: it fails on a batch of shape "
            f"{shapes[0] if len(xs) == 1 else shapes} ({exc}). Its input width "
            f"must be n_features_in="
            f"{meta['n_features_in']}; declare n_features_in among its keyword "
            "arguments to receive it."
        ) from exc
    finally:
        net.train(was_training)
    n_out = meta["n_outputs"]
    if not isinstance(out, torch.Tensor) or out.ndim not in (1, 2) or out.shape[0] != 2:
        shape = (
            tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        )
        raise ValueError(
            f"The module {name} must return a tensor of shape (n_samples, {n_out}); "
            f"it returned {shape} for a batch of 2 rows."
        )
    width = out.shape[1] if out.ndim == 2 else 1
    if width != n_out:
        raise ValueError(
            f"The module {name} returns {width} output(s) per sample but the targets "
            f"need n_outputs={n_out}; declare n_outputs among its keyword arguments "
            "to receive it."
        )
    return net


def _constraints() -> dict:
    return {
        **BaseNeuralNet._parameter_constraints,
        "module": [callable, None],
        "module_kwargs": [dict, None],
        "embedding_dim": [Interval(Integral, 1, None, closed="left"), None],
    }


class NeuralNetClassifier(
    TableMixin, _ModuleMixin, NeuralNetClassifierMixin, BaseNeuralNet
):
    __doc__ = (
        """A classifier around your own PyTorch module, with sknn's whole engine.

    Early stopping, callbacks, devices, class weights, the per-epoch history,
    ``warm_start``, ``partial_fit``, :meth:`fine_tune` and :func:`sknn.save` work as
    for the MLP. Inputs are 2-D tables ``(n_samples, n_features)``.
"""
        + _DOC_PARAMS
        + _docs.parameters("class_weight")
        + _KWARGS_DOC
        + """
    Attributes
    ----------
"""
        + _docs.attributes("classes_")
        + _DOC_ATTRS
        + """
    See Also
    --------
    NeuralNetRegressor : The regressor.
    MLPClassifier : The same engine with scikit-learn's MLP parameters.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_iris
    >>> from sknn import NeuralNetClassifier
    >>> class TwoLayer(torch.nn.Module):
    ...     def __init__(self, n_features_in, n_outputs, width=16):
    ...         super().__init__()
    ...         self.body = torch.nn.Sequential(
    ...             torch.nn.Linear(n_features_in, width), torch.nn.ReLU())
    ...         self.output = torch.nn.Linear(width, n_outputs)
    ...     def forward(self, x):
    ...         return self.output(self.body(x))
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = NeuralNetClassifier(TwoLayer, module_kwargs={"width": 32},
    ...                           max_iter=200, learning_rate_init=0.01,
    ...                           random_state=0).fit(X, y)
    >>> clf.module_.output.out_features, clf.score(X, y) > 0.9
    (3, True)
    """
    )

    _parameter_constraints = {
        **_constraints(),
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        module=None,
        module_kwargs: dict | None = None,
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
        embedding_dim: int | None = None,
        class_weight: dict | str | None = None,
        **kwargs,
    ) -> None:
        self.module = module
        self.module_kwargs = module_kwargs
        self.embedding_dim = embedding_dim
        self.class_weight = class_weight
        super().__init__(**shared_params(locals()))


class NeuralNetRegressor(
    TableMixin, _ModuleMixin, NeuralNetRegressorMixin, BaseNeuralNet
):
    __doc__ = (
        """A regressor around your own PyTorch module, with sknn's whole engine.

    Targets are standardised for training (``scale_target``) and predictions come
    back on the original scale, 1-D for a single target.
"""
        + _DOC_PARAMS
        + _docs.parameters("loss", "scale_target")
        + _KWARGS_DOC
        + """
    Attributes
    ----------
"""
        + _DOC_ATTRS
        + """
    See Also
    --------
    NeuralNetClassifier : The classifier.

    Examples
    --------
    >>> import torch
    >>> from sklearn.datasets import load_diabetes
    >>> from sknn import NeuralNetRegressor
    >>> def linear(n_features_in, n_outputs):
    ...     return torch.nn.Linear(n_features_in, n_outputs)
    >>> X, y = load_diabetes(return_X_y=True)
    >>> reg = NeuralNetRegressor(linear, max_iter=100, learning_rate_init=0.05,
    ...                          random_state=0).fit(X, y)
    >>> reg.predict(X[:3]).shape, reg.score(X, y) > 0.4
    ((3,), True)
    """
    )

    _parameter_constraints = {
        **_constraints(),
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "scale_target": ["boolean"],
    }

    def __init__(
        self,
        module=None,
        module_kwargs: dict | None = None,
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
        embedding_dim: int | None = None,
        loss: str = "squared_error",
        scale_target: bool = True,
        **kwargs,
    ) -> None:
        self.module = module
        self.module_kwargs = module_kwargs
        self.embedding_dim = embedding_dim
        self.loss = loss
        self.scale_target = scale_target
        super().__init__(**shared_params(locals()))


__all__ = ["FIT_TIME_FACTS", "NeuralNetClassifier", "NeuralNetRegressor"]
