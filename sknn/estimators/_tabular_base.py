"""What TabularClassifier and TabularRegressor share: the recipe's glue to the engine.

The estimators reuse :class:`~sknn.base.BaseNeuralNet`'s fit template (validation,
target encoding, the validation split, the engine, best-epoch restore, the fitted
attributes) and :class:`~sknn.estimators._tables.TableMixin`'s reading of raw
DataFrames. What differs is gathered here:

* ``_meta`` reads the fit-time facts of the table (which categorical columns are
  one-hot encoded, which numeric columns are continuous) and keeps the fit rows for
  the network's data-dependent initialisation;
* ``_build_module`` builds a :class:`~sknn.modules.TabularNet` and initialises it
  from those rows (preprocessing statistics are buffers of the network: a saved or
  exported model carries them);
* ``_setup_fit`` replaces the optimiser with AdamW over the network's parameter
  groups (RealMLP's per-role rates and decays) and adds the step schedules of the
  rate, weight decay and dropout (:class:`~sknn.training.schedules.StepSchedule`);
* the loss trains every member; the validation score that picks the best epoch is
  computed on the members' average.
"""

from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import is_classifier

from sknn._archive import load_optimizer_into
from sknn.data.tables import TABLE_INPUTS
from sknn.estimators._tables import _is_table
from sknn.modules.activations import ACTIVATIONS
from sknn.modules.features import SCALINGS
from sknn.modules.tabm import ENSEMBLE_TYPES, NUMERIC_EMBEDDINGS, TabularNet
from sknn.targets import ClassTargets, RegressionTargets
from sknn.training import losses
from sknn.training.ensemble_loss import (
    member_loss,
    smoothed_binary_cross_entropy,
    smoothed_cross_entropy,
)
from sknn.training.schedules import SCHEDULES, StepSchedule
from sknn.utils._compat import (
    Interval,
    Options,
    StrOptions,
    _num_samples,
    optimizer_speed_kwargs,
)

#: Rows of the fit that the preprocessing statistics are computed on (at most).
_STAT_ROWS = 50_000
#: Fewest rows for which ``early_stopping="auto"`` holds rows out.
_AUTO_VALID_ROWS = 100


def tabular_constraints() -> dict:
    """The parameter constraints the two estimators share."""
    sizes = [Interval(Integral, 1, None, closed="left")]
    return {
        "hidden_layer_sizes": ["array-like", *sizes],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "parametric_activation": ["boolean"],
        "dropout": [Interval(Real, 0, 1, closed="left")],
        "dropout_schedule": [StrOptions(set(SCHEDULES))],
        "ensemble_size": sizes,
        "ensemble_type": [StrOptions(set(ENSEMBLE_TYPES))],
        "numeric_embedding": [StrOptions({e for e in NUMERIC_EMBEDDINGS if e}), None],
        "numeric_embedding_dim": sizes,
        "n_frequencies": sizes,
        "frequency_scale": [Interval(Real, 0, None, closed="neither")],
        "n_bins": [Interval(Integral, 2, None, closed="left")],
        "scaling": [StrOptions({s for s in SCALINGS if s}), None],
        "smooth_clip": [Interval(Real, 0, None, closed="neither"), None],
        "one_hot_max_categories": [Interval(Integral, 0, None, closed="left")],
        "embedding_dim": sizes,
        "missing_indicators": ["boolean"],
        "feature_scaling": ["boolean"],
        "learning_rate_init": [Interval(Real, 0, None, closed="neither")],
        "learning_rate_schedule": [StrOptions(set(SCHEDULES))],
        "weight_decay": [Interval(Real, 0, None, closed="left")],
        "weight_decay_schedule": [StrOptions(set(SCHEDULES))],
        "beta_1": [Interval(Real, 0, 1, closed="left")],
        "beta_2": [Interval(Real, 0, 1, closed="left")],
        "batch_size": [StrOptions({"auto"}), *sizes],
        "max_iter": [StrOptions({"auto"}), *sizes],
        "time_budget": [Interval(Real, 0, None, closed="neither"), None],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [*sizes, Options(Real, {np.inf})],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "warm_start": ["boolean"],
        "device": [str, torch.device],
        "dtype": [StrOptions({"float32", "float64"})],
        "callbacks": [list, tuple, None],
        "n_threads": [*sizes, None],
        "scoring": [str, callable, list, tuple, dict, None],
    }


def auto_batch_size(n_rows: int) -> int:
    """Rows per step for ``batch_size="auto"``: larger batches on larger tables.

    Examples
    --------
    >>> from sknn.estimators._tabular_base import auto_batch_size
    >>> [auto_batch_size(n) for n in (500, 5_000, 50_000, 500_000)]
    [128, 256, 512, 1024]
    """
    if n_rows <= 2_000:
        return 128
    if n_rows <= 20_000:
        return 256
    if n_rows <= 100_000:
        return 512
    return 1024


def auto_epochs(n_rows: int) -> int:
    """Epochs for ``max_iter="auto"``: ``clip(round(24 * sqrt(2000 / n)), 3, 64)``.

    24 epochs at 2,000 training rows; the rows read grow as ``sqrt(n)``, so that
    the fit time stays a small multiple of gradient boosting's, whose time grows
    about linearly with the rows (see the "Tables" page for the measured ratios).

    Examples
    --------
    >>> from sknn.estimators._tabular_base import auto_epochs
    >>> [auto_epochs(n) for n in (500, 2_000, 20_000, 200_000)]
    [48, 24, 8, 3]
    """
    return int(np.clip(round(24 * math.sqrt(2_000 / n_rows)), 3, 64))


def _flags(value, n: int, what: str) -> list:
    if not (
        isinstance(value, list)
        and len(value) == n
        and all(isinstance(v, bool) for v in value)
    ):
        raise ValueError(f"Malformed {what} of the network: {str(value)[:200]}.")
    return value


def tabular_facts(facts) -> dict:
    """The network facts of ``meta`` (as a model file may hold them), checked."""
    ok = (
        isinstance(facts, dict)
        and isinstance(facts.get("n_numeric"), int)
        and not isinstance(facts.get("n_numeric"), bool)
        and facts["n_numeric"] >= 0
        and isinstance(facts.get("cardinalities"), list)
        and all(
            isinstance(c, int) and not isinstance(c, bool) and c >= 1
            for c in facts["cardinalities"]
        )
        and facts.get("output") in ("softmax", "sigmoid", "identity")
    )
    if not ok:
        raise ValueError(f"Malformed table facts of the network: {str(facts)[:200]}.")
    n_cat = len(facts["cardinalities"])
    _flags(facts.get("one_hot"), n_cat, "one-hot flags")
    _flags(facts.get("continuous"), facts["n_numeric"], "continuous flags")
    _flags(facts.get("ignored"), facts["n_numeric"], "ignored flags")
    return facts


class TabularMixin:
    """The recipe's glue (see the module doc). Mixed in before ``TableMixin``."""

    # BaseNeuralNet settings these estimators fix (the optimiser, its schedules and
    # the loss are the recipe's own; see _setup_fit).
    solver = "adamw"
    alpha = 0.0
    learning_rate = "constant"
    learning_rate_mode = "torch"
    power_t = 0.5
    momentum = 0.9
    nesterovs_momentum = True
    epsilon = 1e-8
    max_fun = 15000
    shuffle = True
    tol = 0.0
    optimizer = None
    criterion = None
    autocast = None
    accumulation_steps = 1
    compile = False
    data_placement = "auto"
    memory_budget = None
    loader_kwargs = None
    _nested_prefixes: tuple[str, ...] = ()

    # ------------------------------------------------------------------ inputs
    def _validate_inputs(self, X, *, reset: bool, y=None):
        if hasattr(X, "tocsr") and hasattr(X, "nnz"):
            raise TypeError(
                f"Sparse data was passed for X, but dense data is required: "
                f"{type(self).__name__} reads tables (a DataFrame or a dense array). "
                "Use X.toarray() to convert to a dense numpy array."
            )
        return super()._validate_inputs(X, reset=reset, y=y)

    def _fit_dtype(self, X, device) -> str:
        return self.dtype

    def _batch_size(self, n_samples: int) -> int:
        size = (
            auto_batch_size(n_samples) if self.batch_size == "auto" else self.batch_size
        )
        return int(min(size, n_samples))

    def _epochs(self, n_samples: int) -> int:
        return auto_epochs(n_samples) if self.max_iter == "auto" else int(self.max_iter)

    def _meta(self, X) -> dict:
        table = self.__dict__.get("_table") if _is_table(X) else None
        if table is not None:
            numeric = np.asarray(X[0])
            codes = torch.as_tensor(X[1])
            n_seen = [len(c) for c in table.categories_]
            cards = table.cardinalities()
            indicator = _indicator_columns(table)
            meta = {
                "n_features_in": len(table.columns_),
                "input_shape": ((numeric.shape[1],), (len(cards),)),
                "input_names": list(TABLE_INPUTS),
                "keyword_inputs": False,
                "integer_inputs": ["categorical"],
            }
        else:
            numeric, codes, n_seen, cards = np.asarray(X), None, [], []
            indicator = [False] * numeric.shape[1]
            meta = {
                "n_features_in": numeric.shape[1],
                "input_shape": (numeric.shape[1],),
            }
        n = numeric.shape[0]
        rows = np.unique(np.linspace(0, n - 1, min(n, _STAT_ROWS)).astype(np.int64))
        sample = numeric[rows]
        weight = getattr(self._targets_, "fit_weight", None)
        weight = None if weight is None else np.asarray(weight, dtype=np.float64)[rows]
        seen = sample if weight is None else sample[weight > 0]
        continuous = [len(np.unique(seen[:, j])) > 2 for j in range(seen.shape[1])]
        if is_classifier(self):
            multiclass = self._targets_.target_type == "multiclass"
            output = "softmax" if multiclass else "sigmoid"
        else:
            output = "identity"
        if table is not None:  # what sknn.load and export_onnx read of a table fit
            meta["table"] = {"n_numeric": int(numeric.shape[1]), "cardinalities": cards}
        meta["tabular"] = {
            "n_numeric": int(numeric.shape[1]),
            "cardinalities": cards,
            "one_hot": [m <= self.one_hot_max_categories for m in n_seen],
            "continuous": continuous,
            "ignored": [bool(i) and not self.missing_indicators for i in indicator],
            "output": output,
        }
        self.__dict__["_tabular_init"] = (
            torch.as_tensor(sample, dtype=torch.float64),
            None if codes is None else codes[torch.as_tensor(rows)],
            None if weight is None else torch.as_tensor(weight),
        )
        return meta

    def _build_module(self, meta: dict) -> torch.nn.Module:
        facts = tabular_facts(meta.get("tabular"))
        sizes = self.hidden_layer_sizes
        sizes = (
            (sizes,) if isinstance(sizes, Integral) else tuple(int(s) for s in sizes)
        )
        net = TabularNet(
            facts["n_numeric"],
            int(meta["n_outputs"]),
            cardinalities=facts["cardinalities"],
            one_hot=facts["one_hot"],
            continuous=facts["continuous"],
            ignored=facts["ignored"],
            embedding_dim=self.embedding_dim,
            hidden_layer_sizes=sizes,
            activation=self.activation,
            parametric_activation=self.parametric_activation,
            dropout=self.dropout,
            ensemble_size=self.ensemble_size,
            ensemble_type=self.ensemble_type,
            numeric_embedding=self.numeric_embedding,
            numeric_embedding_dim=self.numeric_embedding_dim,
            n_frequencies=self.n_frequencies,
            frequency_scale=self.frequency_scale,
            n_bins=self.n_bins,
            scaling=self.scaling,
            clip=self.smooth_clip,
            feature_scaling=self.feature_scaling,
            output=facts["output"],
        )
        init = self.__dict__.pop("_tabular_init", None)
        if init is not None:  # in the fit's precision (as the network will train)
            net = net.to(self._torch_dtype())
            net.init_from_data(*init)
        bounds = getattr(self.__dict__.get("_targets_"), "bounds", None)
        if init is not None and bounds is not None:
            net.set_output_bounds(*bounds)
        return net

    # ------------------------------------------------------------------ training
    def _label_smoothing(self) -> float:
        """``label_smoothing="auto"``: 0.1 when ``scoring`` reads hard labels
        (``None``, accuracy, F1, ...), else 0 (it would blunt the probabilities
        that log-loss, ROC AUC or Brier scores read)."""
        if self.label_smoothing != "auto":
            return float(self.label_smoothing)
        return 0.1 if _hard_label_scoring(self.scoring) else 0.0

    def _make_optimizer(self, device: torch.device) -> torch.optim.Optimizer:
        groups = [
            {
                "params": g["params"],
                "lr": self.learning_rate_init * g["lr_scale"],
                "weight_decay": self.weight_decay * g["wd_scale"],
                "lr_scale": g["lr_scale"],
                "wd_scale": g["wd_scale"],
            }
            for g in self.module_.parameter_groups()
        ]
        speed = optimizer_speed_kwargs("AdamW", device)
        if device.type == "cpu" and "fused" not in speed:
            speed = {"fused": True}
        try:
            return torch.optim.AdamW(
                groups, betas=(self.beta_1, self.beta_2), eps=self.epsilon, **speed
            )
        except (RuntimeError, TypeError, ValueError):  # no fused kernel here
            return torch.optim.AdamW(groups, betas=(self.beta_1, self.beta_2))

    def _check_solver(self) -> bool:
        raise AttributeError(
            f"{type(self).__name__} has no partial_fit: its schedules span a whole "
            "fit. Use warm_start=True to continue from a fitted network."
        )

    def _resolved_early_stopping(self, X, y) -> bool:
        """``early_stopping="auto"``: hold out rows when there are at least 100 and
        every class can be stratified (two rows or more)."""
        if self.early_stopping != "auto":
            return bool(self.early_stopping)
        try:
            n = _num_samples(X)
        except TypeError:
            return False
        if n < _AUTO_VALID_ROWS:
            return False
        if is_classifier(self):
            labels = np.asarray(y)
            if labels.ndim == 1:
                counts = np.unique(labels, return_counts=True)[1]
                n_valid = math.ceil(self.validation_fraction * n)
                return counts.min() >= 2 and min(n_valid, n - n_valid) >= len(counts)
        return True

    def _setup_fit(self, X, y, **kwargs):
        incremental = kwargs.get("incremental", False)
        saved_state = self.__dict__.pop("_optimizer_state", None)
        keep_optimizer = incremental and getattr(self, "optimizer_", None) is not None
        asked = self.early_stopping
        try:
            # The base template reads the flag; "auto" is decided per fit.
            self.early_stopping = self._resolved_early_stopping(X, y)
            run = super()._setup_fit(X, y, **kwargs)
        finally:
            self.early_stopping = asked
            self.__dict__.pop("_tabular_init", None)
            targets = self.__dict__.get("_targets_")
            if targets is not None:  # fit-time facts, not fitted state
                targets.fit_weight = targets.bounds = None
        trainer = run.trainer
        if not keep_optimizer:
            optimizer = self._make_optimizer(torch.device(self.device_))
            if incremental and saved_state is not None:
                load_optimizer_into(optimizer, saved_state, "The saved estimator")
            trainer.optimizer = optimizer  # the fitted optimiser_ (see _finish_fit)
        n_train = run.train.n_samples
        steps = math.ceil(n_train / trainer.config.batch_size)
        epochs = 1 if incremental else self._epochs(n_train)
        trainer.config.max_epochs = epochs
        fixed = "constant" if incremental else None
        trainer.callbacks.append(
            StepSchedule(
                epochs * steps,
                steps,
                lr=self.learning_rate_init,
                weight_decay=self.weight_decay,
                dropout=self.dropout,
                lr_schedule=fixed or self.learning_rate_schedule,
                weight_decay_schedule=fixed or self.weight_decay_schedule,
                dropout_schedule=fixed or self.dropout_schedule,
                time_budget=None if incremental else self.time_budget,
            )
        )
        return run

    def _warn_on_stop(self, trainer, incremental: bool) -> None:
        # A fit runs its planned epochs by design (the schedules end there): only a
        # Ctrl-C or a divergence is worth a warning.
        if trainer.stop_reason in ("interrupted", "diverged", "non-finite"):
            super()._warn_on_stop(trainer, incremental)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = False
        tags.input_tags.categorical = True
        tags.input_tags.string = True
        return tags


def _indicator_columns(table) -> list[bool]:
    """Per column of the encoder's float block: whether it is a missing-value
    indicator (the block holds each numeric column, its indicator when it had missing
    values at fit, then the ranks of ordered categoricals)."""
    flags: list[bool] = []
    for kind, missing in zip(table.kinds_, table.missing_):
        if kind == "numeric":
            flags.append(False)
            if missing:
                flags.append(True)
    flags += [False] * sum(len(levels) > 0 for levels in table.levels_)
    return flags


_HARD_LABEL_SCORERS = ("accuracy", "balanced_accuracy", "matthews_corrcoef")


def _hard_label_scoring(scoring) -> bool:
    """Whether ``scoring`` reads predicted labels only (not probabilities)."""
    if scoring is None:
        return True
    if not isinstance(scoring, str):
        return False
    return scoring in _HARD_LABEL_SCORERS or scoring.startswith(
        ("f1", "precision", "recall", "jaccard")
    )


class TabularClassTargets(ClassTargets):
    """Class targets of :class:`~sknn.TabularClassifier`: every member trained on
    the (label-smoothed) log-loss; the sample weights kept for the preprocessing
    statistics of the fit (``fit_weight``, dropped after the network is built).

    Parameters
    ----------
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss.
    label_smoothing : float, default=0.0
        ``eps`` of the smoothed targets ``(1 - eps) * one_hot + eps / n_classes``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from sknn.estimators._tabular_base import TabularClassTargets
    >>> targets = TabularClassTargets(label_smoothing=0.1)
    >>> y = targets.encode(np.array(["a", "b", "c"]))
    >>> loss, score = targets.losses()
    >>> out = torch.zeros(3, 4, 3)  # 3 rows, 4 members, 3 classes
    >>> round(loss(out, torch.as_tensor(y), None).item(), 4)  # log(3)
    1.0986
    """

    def __init__(self, class_weight=None, label_smoothing: float = 0.0) -> None:
        super().__init__(class_weight=class_weight)
        self.label_smoothing = label_smoothing
        self.fit_weight = self.bounds = None

    def encode(self, y, *, previous=None, sample_weight=None, **context):
        if previous is None:
            self.fit_weight = sample_weight
        return super().encode(
            y, previous=previous, sample_weight=sample_weight, **context
        )

    def losses(self) -> tuple:
        eps = self.label_smoothing
        if self.target_type == "multiclass":
            loss = smoothed_cross_entropy(eps) if eps else losses.softmax_cross_entropy
            return member_loss(loss), losses.accuracy_indices
        loss = (
            smoothed_binary_cross_entropy(eps) if eps else losses.binary_cross_entropy
        )
        return member_loss(loss), losses.accuracy_logits


class TabularRegressionTargets(RegressionTargets):
    """Regression targets of :class:`~sknn.TabularRegressor`: standardised, every
    member trained on the loss, the bounds of the training targets kept
    (``bounds``, scaled) when predictions are clipped.

    Parameters
    ----------
    loss : {"squared_error", "absolute_error", "huber"}, default="squared_error"
        Each member's loss.
    clip_predictions : bool, default=True
        Record the range of the training targets (of positive weight).

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.estimators._tabular_base import TabularRegressionTargets
    >>> targets = TabularRegressionTargets()
    >>> targets.encode(np.array([1.0, 2.0, 3.0])).ravel().tolist(), targets.bounds
    ([-1.224744871391589, 0.0, 1.224744871391589], ([-1.224744871391589], [1.224744871391589]))
    """

    def __init__(
        self, loss: str = "squared_error", clip_predictions: bool = True
    ) -> None:
        super().__init__(loss=loss, scale_target=True)
        self.clip_predictions = clip_predictions
        self.fit_weight = self.bounds = None

    def encode(self, y, *, previous=None, sample_weight=None, **context):
        y_enc = super().encode(
            y, previous=previous, sample_weight=sample_weight, **context
        )
        if previous is None:
            self.fit_weight = sample_weight
            seen = (
                y_enc if sample_weight is None else y_enc[np.asarray(sample_weight) > 0]
            )
            if self.clip_predictions and len(seen):
                self.bounds = (seen.min(axis=0).tolist(), seen.max(axis=0).tolist())
        return y_enc

    def losses(self) -> tuple:
        loss, score = super().losses()
        return member_loss(loss), score
