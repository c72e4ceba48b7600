"""TabularClassifier and TabularRegressor: a strong recipe for tables, by default.

RealMLP-TD's preprocessing and layers (Holzmüller et al., NeurIPS 2024) in a TabM-style
parameter-efficient ensemble (Gorishniy et al., ICLR 2025), fitted on a raw DataFrame
(or an array) with every element a documented parameter. See the "Tables: better than
boosting by default" page.
"""

from __future__ import annotations

from collections.abc import Sequence
from numbers import Real

import numpy as np
import torch

from sknn.base import BaseNeuralNet
from sknn.estimators import _docs
from sknn.estimators._classifier import NeuralNetClassifierMixin
from sknn.estimators._regressor import NeuralNetRegressorMixin
from sknn.estimators._tables import TableMixin
from sknn.estimators._tabular_base import (
    TabularClassTargets,
    TabularMixin,
    TabularRegressionTargets,
    tabular_constraints,
)
from sknn.training.losses import REGRESSION_LOSSES
from sknn.utils._compat import Interval, StrOptions

_RECIPE_DOC = (
    """
    Parameters
    ----------
    hidden_layer_sizes : array-like of int, default=(128, 128)
        Widths of the hidden layers, shared by the ensemble's members.
    activation : str, default="relu"
        Hidden activation (any of :data:`sknn.modules.ACTIVATIONS`; RealMLP uses
        ``"selu"`` for classification and ``"mish"`` for regression, which cost
        several times more than ``"relu"`` on CPUs).
    parametric_activation : bool, default=False
        RealMLP's parametric activation ``x + alpha * (f(x) - x)``, one learnt
        ``alpha`` per unit (starting at 1).
    dropout : float, default=0.0
        Dropout probability after each hidden activation (at its peak, see
        ``dropout_schedule``).
    dropout_schedule : {"flat_cos", "coslog4", "cosine", "constant"}, default="flat_cos"
        How dropout changes over the fit (``"flat_cos"``: constant for the first
        half, then down to 0 along a cosine, as RealMLP).
    ensemble_size : int, default=8
        Members ``k`` of the parameter-efficient ensemble (TabM's BatchEnsemble):
        the layers' weights are shared, each member has its own scalings of every
        layer's inputs and outputs, biases and output layer; each member's loss is
        trained, and predictions average the members' probabilities (values for
        regressors). ``1`` is a single network. The cost of a fit grows about
        linearly with ``k``.
    ensemble_type : {"batch", "mini"}, default="batch"
        ``"batch"``: every layer has per-member scalings of its inputs and outputs
        and per-member biases (TabM); ``"mini"``: only the first layer's inputs are
        scaled per member and the rest is shared (TabM-mini: fewer element-wise
        operations, less diversity).
    numeric_embedding : {"piecewise_linear", "periodic"} or None, \
default="piecewise_linear"
        Embedding of each continuous numeric column (more than two distinct values
        at fit) before the first layer: ``"piecewise_linear"`` is TabM's embedding
        of the piecewise-linear encoding of up to ``n_bins`` quantile bins (a
        network can bend on a column where a tree would split it), ``"periodic"``
        RealMLP's PBLD embedding ``[linear(cos(2 pi w x + b)), x]`` with learnt
        frequencies. ``None`` passes the scaled values as they are.
    numeric_embedding_dim : int, default=4
        Width of each continuous column's embedding.
    n_frequencies : int, default=16
        Frequencies per column of the periodic embedding.
    frequency_scale : float, default=0.1
        Standard deviation of the periodic embedding's initial frequencies (on the
        scaled values).
    n_bins : int, default=48
        Most quantile bins per column of the piecewise-linear embedding.
    scaling : {"robust", "quantile", "standard"} or None, default="robust"
        Scaling of the numeric columns (and one-hot columns) fitted on the training
        rows: ``"robust"`` subtracts the median and divides by the interquartile
        range (RealMLP), ``"quantile"`` maps to normal scores through the empirical
        quantiles (as scikit-learn's ``QuantileTransformer``, TabM's choice),
        ``"standard"`` standardises.
    smooth_clip : float or None, default=3.0
        After scaling, ``x / sqrt(1 + (x / smooth_clip) ** 2)`` (RealMLP's smooth
        clipping: outliers keep their order without dominating); ``None`` does not
        clip.
    one_hot_max_categories : int, default=8
        Categorical columns with at most this many categories at fit are one-hot
        encoded (a two-category column is one ``+-1`` value); the others get learnt
        embeddings of width ``embedding_dim``. Unseen categories at predict encode
        as zeros.
    embedding_dim : int, default=8
        Width of each embedded categorical column.
    missing_indicators : bool, default=True
        Give each numeric column that had missing values at fit a 0/1 indicator
        (missing values are filled with the column's mean either way).
    feature_scaling : bool, default=True
        RealMLP's learnt diagonal scaling of every input of the first layer (a
        feature-selection-like layer trained at 6 times the learning rate).
    learning_rate_init : float, default=LR_DEFAULT
        Peak learning rate of AdamW in the neural-tangent-kernel parametrisation:
        each layer's weights train at ``learning_rate_init / sqrt(fan_in)``,
        biases, activation slopes and numeric embeddings at a tenth of it, the
        diagonal scaling at 6 times (RealMLP's factors). The defaults are
        RealMLP-TD's: 0.04 for classification, 0.2 for regression.
    learning_rate_schedule : {"coslog4", "flat_cos", "cosine", "constant"}, \
default="coslog4"
        RealMLP's multi-cycle schedule by default: four cosine cycles whose lengths
        double (``0.5 * (1 - cos(2 pi log2(1 + 15 t)))`` at progress ``t``),
        applied before every step.
    weight_decay : float, default=0.02
        Decoupled weight decay of the weights and embeddings (AdamW), at its peak.
    weight_decay_schedule : {"flat_cos", "coslog4", "cosine", "constant"}, \
default="flat_cos"
        How weight decay changes over the fit.
    beta_1, beta_2 : float, default=0.9, 0.95
        AdamW's moment decays (``beta_2=0.95``, as RealMLP, adapts faster than the
        usual 0.999).
    batch_size : int or "auto", default="auto"
        Rows per step; ``"auto"`` grows with the table: 128 up to 2,000 rows, 256
        up to 20,000, 512 up to 100,000, then 1,024.
    max_iter : int or "auto", default="auto"
        Epochs of the fit; ``"auto"`` scales with the training rows ``n``:
        ``clip(round(24 * sqrt(2000 / n)), 3, 64)`` (48 at 500 rows, 24 at 2,000,
        8 at 20,000), so the rows read grow as ``sqrt(n)`` and the fit time stays
        a small multiple of gradient boosting's (see the "Tables" page).
    time_budget : float or None, default=None
        Seconds the training may take: after each epoch the planned epochs are cut
        to what fits at the pace so far (the schedules end with them). Fits with a
        budget depend on the machine's speed, so they are not reproducible.
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the rows (stratified for classifiers),
        score the members' average on them after every epoch and keep the best
        epoch's weights. ``False`` trains on every row and keeps the last epoch.
        ``"auto"`` holds out when there are at least 100 rows and every class has
        two rows or more.
    validation_fraction : float, default=0.2
        Share of rows held out with ``early_stopping=True``.
    n_iter_no_change : int or np.inf, default=np.inf
        Stop when the validation score has not improved for this many epochs;
        ``np.inf`` runs every planned epoch (the schedules are planned to end with
        the fit).
    random_state : int, RandomState instance or None, default=None
        Seeds everything: initialisation, shuffling, dropout and the validation
        split.
    verbose : bool or int, default=False
        Print one line per epoch.
    warm_start : bool, default=False
        Continue from the fitted network at the next ``fit`` (with a new schedule).
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
    dtype : {"float32", "float64"}, default="float32"
        Floating precision of the network and of the data on the device.
    callbacks : list of Callback, default=None
        Hooks into training (see :mod:`sknn.callbacks`); cloned at each fit.
    n_threads : int or None, default=None
        CPU threads torch uses during ``fit`` and ``predict``; ``None`` picks them
        from the work and the machine (see the "Speed and memory" page).
"""
    + _docs.parameters("scoring").rstrip("\n")
    + """
        The validation score is computed on the members' average."""
)

_ATTRS_DOC = """
    n_features_in_ : int
        Number of columns seen in ``fit``.
    feature_names_in_ : ndarray of str
        Column names seen in ``fit`` (DataFrames with string column names).
    n_outputs_ : int
        Outputs of each member.
    n_iter_ : int
        Epochs run by the last ``fit``.
    loss_curve_ : list of float
        Training loss of each epoch (mean over the members).
    validation_scores_ : list of float or None
        Validation score of the members' average, per epoch (``early_stopping``).
    best_validation_score_ : float or None
        Best of ``validation_scores_`` (its epoch's weights are kept).
    history_ : History
        One record per epoch: ``train_loss``, ``valid_loss``, ``valid_score``,
        ``lr``, ``dur``.
    module_ : sknn.modules.TabularNet
        The trained network (preprocessing statistics included, as buffers).
    device_ : str
        The device the network lives on.
    stop_reason_ : str or None
        Why training stopped before its planned epochs (``None`` when it did not).
"""


def _init_common(est, params: dict) -> None:
    for key, value in params.items():
        setattr(est, key, value)


class TabularClassifier(
    TabularMixin, TableMixin, NeuralNetClassifierMixin, BaseNeuralNet
):
    __doc__ = (
        """Neural-network classifier for tables, with a strong recipe by default.

    Fits a raw DataFrame as it is (numbers, nullable numbers, categories, strings,
    booleans and missing values; categories unseen at fit are read at predict) or
    an array, with RealMLP-TD's preprocessing and layers (robust scaling and smooth
    clipping, one-hot or embedded categories, missing-value indicators, a learnt
    diagonal scaling, the NTK parametrisation, AdamW with ``beta_2=0.95`` and
    RealMLP's schedules, label smoothing, best-epoch restore) with TabM's
    piecewise-linear numeric embeddings, in a TabM-style ensemble of ``k`` members
    trained in one pass, with a fit budget that scales with the rows. Every element
    is a parameter below, to switch off or search (:class:`sknn.OptunaSearchCV` has
    a default space).
"""
        + _RECIPE_DOC.replace("LR_DEFAULT", "0.04")
        + """
    label_smoothing : float or "auto", default="auto"
        Train each member against ``(1 - eps) * one_hot + eps / n_classes``;
        ``"auto"`` is 0.1 when ``scoring`` reads predicted labels (``None``, which
        is accuracy, ``"accuracy"``, ``"balanced_accuracy"``, ``"f1..."``, ...:
        smoothing helps them, as in RealMLP) and 0 for scores of probabilities
        (``"neg_log_loss"``, ``"roc_auc"``, ``"loss"``, ...: it would blunt them).
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn's linear models.

    Attributes
    ----------
    classes_ : ndarray or list of ndarray
        Class labels."""
        + _ATTRS_DOC
        + """
    See Also
    --------
    TabularRegressor : The regressor.
    MLPClassifier : scikit-learn's MLP, with its defaults.

    References
    ----------
    .. [1] D. Holzmüller, L. Grinsztajn and I. Steinwart, "Better by default: strong
       pre-tuned MLPs and boosted trees on tabular data", NeurIPS 2024.
    .. [2] Y. Gorishniy, A. Kotelnikov and A. Babenko, "TabM: advancing tabular deep
       learning with parameter-efficient ensembling", ICLR 2025.

    Examples
    --------
    >>> import pandas as pd
    >>> from sklearn.datasets import load_breast_cancer
    >>> from sknn import TabularClassifier
    >>> X, y = load_breast_cancer(return_X_y=True, as_frame=True)
    >>> clf = TabularClassifier(max_iter=10, ensemble_size=4, random_state=0)
    >>> clf.fit(X, y).score(X, y) > 0.95
    True
    >>> clf.predict_proba(X.iloc[:2]).sum(axis=1).round(6).tolist()
    [1.0, 1.0]
    """
    )

    _parameter_constraints = {
        **tabular_constraints(),
        "label_smoothing": [StrOptions({"auto"}), Interval(Real, 0, 1, closed="left")],
        "class_weight": [dict, StrOptions({"balanced"}), None],
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes: Sequence[int] | int = (128, 128),
        activation: str = "relu",
        parametric_activation: bool = False,
        dropout: float = 0.0,
        dropout_schedule: str = "flat_cos",
        ensemble_size: int = 8,
        ensemble_type: str = "batch",
        numeric_embedding: str | None = "piecewise_linear",
        numeric_embedding_dim: int = 4,
        n_frequencies: int = 16,
        frequency_scale: float = 0.1,
        n_bins: int = 48,
        scaling: str | None = "robust",
        smooth_clip: float | None = 3.0,
        one_hot_max_categories: int = 8,
        embedding_dim: int = 8,
        missing_indicators: bool = True,
        feature_scaling: bool = True,
        learning_rate_init: float = 0.04,
        learning_rate_schedule: str = "coslog4",
        weight_decay: float = 0.02,
        weight_decay_schedule: str = "flat_cos",
        beta_1: float = 0.9,
        beta_2: float = 0.95,
        label_smoothing: float | str = "auto",
        class_weight: dict | str | None = None,
        batch_size: int | str = "auto",
        max_iter: int | str = "auto",
        time_budget: float | None = None,
        early_stopping: bool | str = "auto",
        validation_fraction: float = 0.2,
        n_iter_no_change: float = np.inf,
        random_state=None,
        verbose: bool | int = False,
        warm_start: bool = False,
        device: str | torch.device = "auto",
        dtype: str = "float32",
        callbacks: list | None = None,
        n_threads: int | None = None,
        scoring=None,
    ) -> None:
        _init_common(self, {k: v for k, v in locals().items() if k != "self"})

    _targets_type = TabularClassTargets

    def _new_targets(self) -> TabularClassTargets:
        return TabularClassTargets(self.class_weight, self._label_smoothing())


class TabularRegressor(
    TabularMixin, TableMixin, NeuralNetRegressorMixin, BaseNeuralNet
):
    __doc__ = (
        """Neural-network regressor for tables, with a strong recipe by default.

    The regression counterpart of :class:`TabularClassifier` (same recipe and
    parameters): targets are standardised for training, the members' predictions
    are averaged and, by default, clipped to the range of the training targets.
"""
        + _RECIPE_DOC.replace("LR_DEFAULT", "0.2")
        + """
    loss : {"squared_error", "absolute_error", "huber"}, default="squared_error"
        Loss of each member (on the standardised targets); the best epoch is picked
        by the R2 of the members' average.
    clip_predictions : bool, default=True
        Clip predictions to the range of the training targets (RealMLP).

    Attributes
    ----------"""
        + _ATTRS_DOC
        + """
    See Also
    --------
    TabularClassifier : The classifier.
    MLPRegressor : scikit-learn's MLP, with its defaults.

    Examples
    --------
    >>> from sklearn.datasets import load_diabetes
    >>> from sknn import TabularRegressor
    >>> X, y = load_diabetes(return_X_y=True, as_frame=True)
    >>> reg = TabularRegressor(max_iter=20, ensemble_size=4, random_state=0)
    >>> reg.fit(X, y).score(X, y) > 0.4
    True
    """
    )

    _parameter_constraints = {
        **tabular_constraints(),
        "loss": [StrOptions(set(REGRESSION_LOSSES) - {"poisson"})],
        "clip_predictions": ["boolean"],
    }

    def __init__(
        self,
        *,
        hidden_layer_sizes: Sequence[int] | int = (128, 128),
        activation: str = "relu",
        parametric_activation: bool = False,
        dropout: float = 0.0,
        dropout_schedule: str = "flat_cos",
        ensemble_size: int = 8,
        ensemble_type: str = "batch",
        numeric_embedding: str | None = "piecewise_linear",
        numeric_embedding_dim: int = 4,
        n_frequencies: int = 16,
        frequency_scale: float = 0.1,
        n_bins: int = 48,
        scaling: str | None = "robust",
        smooth_clip: float | None = 3.0,
        one_hot_max_categories: int = 8,
        embedding_dim: int = 8,
        missing_indicators: bool = True,
        feature_scaling: bool = True,
        learning_rate_init: float = 0.2,
        learning_rate_schedule: str = "coslog4",
        weight_decay: float = 0.02,
        weight_decay_schedule: str = "flat_cos",
        beta_1: float = 0.9,
        beta_2: float = 0.95,
        loss: str = "squared_error",
        clip_predictions: bool = True,
        batch_size: int | str = "auto",
        max_iter: int | str = "auto",
        time_budget: float | None = None,
        early_stopping: bool | str = "auto",
        validation_fraction: float = 0.2,
        n_iter_no_change: float = np.inf,
        random_state=None,
        verbose: bool | int = False,
        warm_start: bool = False,
        device: str | torch.device = "auto",
        dtype: str = "float32",
        callbacks: list | None = None,
        n_threads: int | None = None,
        scoring=None,
    ) -> None:
        _init_common(self, {k: v for k, v in locals().items() if k != "self"})

    _targets_type = TabularRegressionTargets

    def _new_targets(self) -> TabularRegressionTargets:
        return TabularRegressionTargets(self.loss, self.clip_predictions)
