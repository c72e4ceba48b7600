"""CNNClassifier and CNNRegressor: convolutional networks for images and signals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from sklearn.utils.validation import validate_data

from sknn._params import shared_params
from sknn.base import BaseNeuralNet
from sknn.data.augment import Transform, batch_transform
from sknn.data.inputs import IMAGE_LAYOUTS, image_sample_shape
from sknn.estimators import _docs
from sknn.estimators._classifier import NeuralNetClassifierMixin
from sknn.estimators._regressor import NeuralNetRegressorMixin
from sknn.estimators._sizes import as_sizes as _as_list
from sknn.modules import ACTIVATIONS
from sknn.modules.cnn import CNN
from sknn.training.augment import AugmentedData, augment_generator
from sknn.training.data import TensorData
from sknn.training.losses import REGRESSION_LOSSES
from sknn.utils._compat import Interval, StrOptions

_CNN_DOC = """
    Parameters
    ----------
    channels : sequence of int, default=(32, 64)
        Output channels of each convolution block. A block is ``Conv -> BatchNorm ->
        activation -> pooling -> dropout``.
    kernel_size : int, default=3
        Convolution window (square for images).
    stride : int, default=1
        Convolution stride.
    padding : int or "same", default="same"
        Zero padding of each convolution; ``"same"`` is ``kernel_size // 2``.
    pooling : {"max", "avg"} or None, default="max"
        Pooling after each block, with window and stride ``pool_size``; skipped where
        the feature maps are already smaller than the window.
    pool_size : int, default=2
        Pooling window.
    batch_norm : bool, default=True
        Batch normalisation after each convolution.
    dropout : float, default=0.0
        Dropout after each convolution block and each dense hidden layer.
    global_pooling : {"flatten", "avg", "max"}, default="flatten"
        How the last feature maps become one vector per sample. ``"flatten"`` keeps
        positions (best on small images and short signals; the dense head grows with
        the input size); global ``"avg"`` or ``"max"`` pooling gives a head whose size
        does not depend on the input, better for large images.
    hidden_layer_sizes : sequence of int, default=(128,)
        Dense layers between the pooled features and the output.
    activation : str, default="relu"
        Activation of every block (see :data:`sknn.modules.ACTIVATIONS`).
    input_shape : tuple of int or None, default=None
        Shape of one sample: ``(C, H, W)`` for images, ``(C, T)`` for signals. The
        columns of a 2-D table are reshaped to it (C order), so the estimator works
        after scikit-learn transformers. Without it, a 2-D table is read as a
        one-channel signal ``(1, n_features)`` and a 3-D array as one-channel images
        ``(n, H, W)``; a 3-D array of signals ``(n, C, T)`` needs
        ``input_shape=(C, T)``.
    augment : transform, list of transforms, callable or None, default=None
        Training-time augmentation: each training batch is transformed on the device
        (:class:`~sknn.data.RandomCrop`, :class:`~sknn.data.RandomFlip`,
        :class:`~sknn.data.RandomShift`, :class:`~sknn.data.GaussianNoise`, a list
        or :class:`~sknn.data.Compose` of them, or ``f(X_batch, generator)`` /
        ``f(X_batch)`` returning a batch of the same shape), drawing from a stream
        seeded by the fit's seed. Validation rows, ``predict`` and ``score`` are
        never augmented. Nested parameters (``augment__std``) can be searched.
        Needs a stochastic solver.
""" + _docs.parameters(
    *_docs.ENGINE,
    *_docs.TAIL,
    style="torch",
    max_iter="""    max_iter : int, default=30
        Maximum number of epochs (convolutional nets need far fewer passes than
        scikit-learn's 200 for an MLP).
""",
)

_CNN_ATTRS = (
    _docs.attributes(*_docs.FIT_ATTRS)
    + """    input_shape_ : tuple of int
        Shape of one sample as the network reads it, ``(C, H, W)`` or ``(C, T)``.
    module_ : torch.nn.Module
        The trained network (:class:`sknn.modules.CNN`).
"""
)

_INPUT_NOTE = """
    Inputs: images ``(n, H, W)`` or ``(n, C, H, W)``, signals ``(n, C, T)`` (with
    ``input_shape=(C, T)``), or 2-D tables ``(n, n_features)`` reshaped to
    ``input_shape``. ``uint8`` arrays are divided by 255 (the rule looks at the dtype
    only); other dtypes are used as they are, so scale float images yourself.
"""


class _CNNMixin:
    """Image / signal inputs and the convolutional module."""

    _scales_uint8 = True

    def _validate_inputs(self, X, *, reset: bool, y=None):
        shape_param = self.input_shape if reset else self.input_shape_
        kwargs = dict(dtype=self._input_dtypes(reset), reset=reset)
        if y is not None:
            kwargs.update(multi_output=True, y_numeric=self._targets_type.y_numeric)
        arr = _as_array(X)
        if arr is not None and arr.ndim >= 2 and arr.shape[0] == 0:
            raise ValueError(
                f"Found array with 0 sample(s) (shape={arr.shape}) while a minimum of "
                f"1 is required by {type(self).__name__}."
            )
        if arr is not None and arr.ndim >= 3:
            sample = image_sample_shape(arr.shape[1:], shape_param)
            flat = arr.reshape(arr.shape[0], -1) if arr.shape[0] else arr.reshape(0, 0)
            out = validate_data(self, flat, *(() if y is None else (y,)), **kwargs)
        else:
            out = validate_data(self, X, *(() if y is None else (y,)), **kwargs)
            Xv = out if y is None else out[0]
            sample = image_sample_shape(Xv.shape[1:], shape_param)
        Xv, yv = (out, None) if y is None else out
        if getattr(arr, "dtype", None) == np.uint8:
            Xv = Xv / Xv.dtype.type(255)
        if reset:
            self.input_shape_ = sample
        return Xv.reshape(Xv.shape[0], *sample), yv

    def _meta(self, X) -> dict:
        return {
            "n_features_in": self.n_features_in_,
            "input_shape": tuple(X.shape[1:]),
            "n_channels": X.shape[1],
        }

    def _build_module(self, meta: dict) -> torch.nn.Module:
        return CNN(
            meta["input_shape"],
            meta["n_outputs"],
            channels=[int(c) for c in _as_list(self.channels, "channels")],
            kernel_size=self.kernel_size,
            stride=self.stride,
            padding=self.padding,
            pooling=self.pooling,
            pool_size=self.pool_size,
            batch_norm=self.batch_norm,
            dropout=self.dropout,
            global_pooling=self.global_pooling,
            hidden_layer_sizes=_as_list(self.hidden_layer_sizes, "hidden_layer_sizes"),
            activation=self.activation,
        )

    def _train_data(self, data: TensorData, seed: int, device: torch.device):
        """The training rows, augmented batch by batch when ``augment`` is set."""
        if self.augment is None:
            return data
        if self.solver == "lbfgs":
            raise ValueError(
                "augment needs a stochastic solver ('adam', 'adamw' or 'sgd'): "
                "L-BFGS minimises one fixed objective, and augmented batches change it "
                "at every evaluation."
            )
        transform = batch_transform(self.augment, tuple(self.input_shape_))
        # Its own stream (offset from the shuffling and dropout seeds): a fit with
        # the same seed draws the same transforms.
        out = AugmentedData(data, transform, augment_generator(device, seed + 3))
        out.check()
        return out

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.three_d_array = True
        return tags


def _as_array(X):
    """``X`` as an ndarray when it is a dense array-like (``None`` for sparse input
    and DataFrames, which go through scikit-learn's validation as tables)."""
    if sp.issparse(X) or hasattr(X, "iloc") or hasattr(X, "__dataframe__"):
        return None
    if isinstance(X, np.ndarray):
        return X
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy()
    try:
        return np.asarray(X)
    except ValueError:
        raise ValueError(
            f"X could not be read as an array of equally shaped samples; expected "
            f"{IMAGE_LAYOUTS}."
        ) from None


def _cnn_constraints() -> dict:
    return {
        **BaseNeuralNet._parameter_constraints,
        "channels": ["array-like", Interval(Integral, 1, None, closed="left")],
        "kernel_size": [Interval(Integral, 1, None, closed="left")],
        "stride": [Interval(Integral, 1, None, closed="left")],
        "padding": [StrOptions({"same"}), Interval(Integral, 0, None, closed="left")],
        "pooling": [StrOptions({"max", "avg"}), None],
        "pool_size": [Interval(Integral, 1, None, closed="left")],
        "batch_norm": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "global_pooling": [StrOptions({"avg", "max", "flatten"})],
        "hidden_layer_sizes": [
            "array-like",
            Interval(Integral, 1, None, closed="left"),
        ],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "input_shape": ["array-like", None],
        "augment": [None, callable, list, tuple],
        "dtype": [StrOptions({"float32", "float64"})],
    }


class CNNClassifier(_CNNMixin, NeuralNetClassifierMixin, BaseNeuralNet):
    __doc__ = (
        """Convolutional network classifier for images and signals, on PyTorch.

    Convolution blocks, global pooling and a dense head, trained with the same engine,
    parameters and fitted attributes as :class:`~sknn.MLPClassifier` (early stopping,
    ``warm_start``, ``partial_fit``, ``class_weight``, ``device``, callbacks,
    ``history_``). The defaults do well on small images without tuning.
"""
        + _INPUT_NOTE
        + _CNN_DOC
        + _docs.parameters("class_weight", "**kwargs")
        + """
    Attributes
    ----------
"""
        + _docs.attributes("classes_")
        + _CNN_ATTRS
        + """
    See Also
    --------
    CNNRegressor : The regressor.
    MLPClassifier : Fully connected networks for tables.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from sknn import CNNClassifier
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = CNNClassifier(channels=(16,), global_pooling="flatten",
    ...                     input_shape=(1, 8, 8), learning_rate_init=0.01,
    ...                     max_iter=10, random_state=0)
    >>> clf.fit(X[:500] / 16, y[:500]).score(X[500:700] / 16, y[500:700]) > 0.8
    True
    >>> [type(layer).__name__ for layer in clf.module_.blocks[0]]
    ['Conv2d', 'BatchNorm2d', 'ReLU', 'Pool']
    """
    )

    _parameter_constraints = {
        **_cnn_constraints(),
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        channels: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        *,
        stride: int = 1,
        padding: int | str = "same",
        pooling: str | None = "max",
        pool_size: int = 2,
        batch_norm: bool = True,
        dropout: float = 0.0,
        global_pooling: str = "flatten",
        hidden_layer_sizes: Sequence[int] = (128,),
        activation: str = "relu",
        input_shape: Sequence[int] | None = None,
        augment: Transform | Sequence | Callable | None = None,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 30,
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
        self.channels = channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.pooling = pooling
        self.pool_size = pool_size
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.global_pooling = global_pooling
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.input_shape = input_shape
        self.augment = augment
        self.class_weight = class_weight
        super().__init__(**shared_params(locals()))


class CNNRegressor(_CNNMixin, NeuralNetRegressorMixin, BaseNeuralNet):
    __doc__ = (
        """Convolutional network regressor for images and signals, on PyTorch.

    Convolution blocks, global pooling and a dense head, trained with the same engine,
    parameters and fitted attributes as :class:`~sknn.MLPRegressor` (target scaling,
    early stopping, ``warm_start``, ``partial_fit``, ``device``, callbacks,
    ``history_``). One or several outputs.
"""
        + _INPUT_NOTE
        + _CNN_DOC
        + _docs.parameters("loss", "scale_target", "**kwargs")
        + """
    Attributes
    ----------
"""
        + _CNN_ATTRS
        + """
    See Also
    --------
    CNNClassifier : The classifier.
    MLPRegressor : Fully connected networks for tables.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn import CNNRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(200, 2, 16))  # 200 signals, 2 channels, 16 steps
    >>> y = X[:, 0].mean(axis=1) + X[:, 1].mean(axis=1)
    >>> reg = CNNRegressor(channels=(16,), input_shape=(2, 16),
    ...                    learning_rate_init=0.01, max_iter=20, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.8
    True
    """
    )

    _parameter_constraints = {
        **_cnn_constraints(),
        "loss": [StrOptions(set(REGRESSION_LOSSES))],
        "scale_target": ["boolean"],
    }

    def __init__(
        self,
        channels: Sequence[int] = (32, 64),
        kernel_size: int = 3,
        *,
        stride: int = 1,
        padding: int | str = "same",
        pooling: str | None = "max",
        pool_size: int = 2,
        batch_norm: bool = True,
        dropout: float = 0.0,
        global_pooling: str = "flatten",
        hidden_layer_sizes: Sequence[int] = (128,),
        activation: str = "relu",
        input_shape: Sequence[int] | None = None,
        augment: Transform | Sequence | Callable | None = None,
        solver: str = "adam",
        alpha: float = 0.0001,
        batch_size: int | str = "auto",
        learning_rate: str = "constant",
        learning_rate_init: float = 0.001,
        power_t: float = 0.5,
        max_iter: int = 30,
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
        self.channels = channels
        self.kernel_size = kernel_size
        self.stride = stride
        self.padding = padding
        self.pooling = pooling
        self.pool_size = pool_size
        self.batch_norm = batch_norm
        self.dropout = dropout
        self.global_pooling = global_pooling
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.input_shape = input_shape
        self.augment = augment
        self.loss = loss
        self.scale_target = scale_target
        super().__init__(**shared_params(locals()))
