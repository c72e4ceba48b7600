"""One source for the documentation of what the network estimators share.

Each estimator's docstring is composed from these entries (its own architecture
parameters are written in its module). Two styles differ where the semantics differ:
``"sklearn"`` for the MLPs, drop-ins for scikit-learn's (its schedule and momentum
rules, ``dtype="auto"``), and ``"torch"`` for the CNN, RNN and ``NeuralNet*``
estimators (torch's rules, float32). ``tests/test_parameters.py`` checks that every
estimator's signature, defaults and docstring agree.
"""

from __future__ import annotations

from sknn._params import SHARED_PARAMS

__all__ = ["ENGINE", "FIT_ATTRS", "TAIL", "attributes", "parameters"]

_FIRST_TAIL = SHARED_PARAMS.index("device")
_ADAM = ("beta_1", "beta_2", "epsilon")  # one entry for the three

#: The engine's parameters, in the order the docstrings list them.
ENGINE = tuple(
    dict.fromkeys(
        ", ".join(_ADAM) if name in _ADAM else name
        for name in SHARED_PARAMS[:_FIRST_TAIL]
    )
)

#: The parameters after an estimator's own ones.
TAIL = SHARED_PARAMS[_FIRST_TAIL:]

_PARAMS = {
    "solver": """\
    solver : str, default="adam"
        ``"adam"``, ``"sgd"``, ``"lbfgs"`` (full batch, as in scikit-learn) or another
        torch optimiser: ``"adamw"``, ``"nadam"``, ``"radam"``, ``"rmsprop"``,
        ``"adagrad"``.
""",
    "alpha": """\
    alpha : float, default=0.0001
        L2 penalty on the weights (tensors of more than one dimension, not the
        biases), scaled as in scikit-learn: ``0.5 * alpha * ||W||^2 / batch_size`` is
        added to the loss. With ``solver="adamw"`` it is the decoupled weight decay
        instead.
""",
    "batch_size": """\
    batch_size : int or "auto", default="auto"
        Rows per mini-batch; ``"auto"`` is ``min(200, n_samples)``.
""",
    "learning_rate": """\
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule, as in scikit-learn: it applies to ``solver="sgd"``
        only (see ``learning_rate_mode``). ``"adaptive"`` divides the rate by 5 when
        ``n_iter_no_change`` epochs bring no ``tol`` improvement, until it falls below
        1e-6; with other solvers such a plateau ends training.
""",
    "learning_rate_init": """\
    learning_rate_init : float, default=0.001
        Initial learning rate.
""",
    "power_t": """\
    power_t : float, default=0.5
        Exponent of the ``"invscaling"`` schedule.
""",
    "max_iter": """\
    max_iter : int, default=200
        Maximum number of epochs; for ``solver="lbfgs"``, of L-BFGS iterations.
""",
    "shuffle": """\
    shuffle : bool, default=True
        Reshuffle the rows every epoch.
""",
    "random_state": """\
    random_state : int, RandomState instance or None, default=None
        Seeds everything: initialisation, shuffling, dropout and the validation split.
""",
    "tol": """\
    tol : float, default=1e-4
        Improvement below which an epoch counts as no progress. For
        ``solver="lbfgs"`` it is scikit-learn's ``gtol`` instead: L-BFGS stops when
        the largest gradient component is at most ``tol``.
""",
    "verbose": """\
    verbose : bool or int, default=False
        Print one line per epoch (loss, validation loss and score, rate, time).
""",
    "warm_start": """\
    warm_start : bool, default=False
        Reuse the previous solution as the starting point of the next ``fit``.
""",
    "momentum": """\
    momentum : float, default=0.9
        Momentum for ``"sgd"`` (and ``"rmsprop"``). The velocity holds the learning
        rate as in scikit-learn, so a schedule's new rate applies to the next
        gradients only (see ``learning_rate_mode``).
""",
    "nesterovs_momentum": """\
    nesterovs_momentum : bool, default=True
        Use Nesterov's momentum with ``"sgd"``.
""",
    "early_stopping": """\
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows (stratified for classifiers,
        seeded by ``random_state``), stop when the validation score stops improving,
        and restore the weights of the best epoch. As in scikit-learn it raises a
        ``ValueError`` when a class has one member or fewer than 2 rows would be
        held out, and it does not apply to ``solver="lbfgs"`` (ignored) nor to
        ``partial_fit`` (which raises).
""",
    "validation_fraction": """\
    validation_fraction : float, default=0.1
        Share of rows held out for early stopping or validation callbacks.
""",
    "beta_1, beta_2, epsilon": """\
    beta_1, beta_2, epsilon : float, default=0.9, 0.999, 1e-8
        Adam-family parameters.
""",
    "n_iter_no_change": """\
    n_iter_no_change : int or np.inf, default=10
        Epochs without ``tol`` improvement before stopping; ``np.inf`` never stops
        early. Not used by ``solver="lbfgs"``.
""",
    "max_fun": """\
    max_fun : int, default=15000
        ``solver="lbfgs"`` only: maximum number of loss evaluations (line searches
        included), as in scikit-learn; reaching it ends training with a
        ``ConvergenceWarning``.
""",
    "device": """\
    device : str or torch.device, default="auto"
        ``"auto"`` (CUDA when available), ``"cpu"``, ``"cuda"`` or ``"cuda:N"``.
""",
    "dtype": """\
    dtype : {"auto", "float32", "float64"}, default="auto"
        Floating precision of the weights, of the data on the device and of the
        predictions. ``"auto"`` keeps the input's precision as scikit-learn does:
        float32 input trains in float32, float64 (and integer) input in float64;
        on a GPU it is float32 (most GPUs are many times slower in float64).
        ``"float32"`` is faster on CPU too (about 1.5-2x on a 2-core machine).
""",
    "callbacks": """\
    callbacks : list of Callback, default=None
        Hooks into training (see :mod:`sknn.callbacks`); cloned at each fit.
""",
    "scoring": """\
    scoring : str, callable, list, tuple, dict or None, default=None
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
""",
    "n_threads": """\
    n_threads : int or None, default=None
        CPU threads torch uses during ``fit`` and ``predict``. ``None`` picks them
        from the work and the machine: one thread for small networks, never more
        than the idle cores, torch's current limit (``OMP_NUM_THREADS``,
        ``threadpoolctl``, joblib workers) or one in a worker thread. Set only for
        the duration of the call; torch's own setting is restored afterwards. See
        the "Speed and memory" page of the documentation.
""",
    "optimizer": """\
    optimizer : torch.optim.Optimizer class or callable, default=None
        The optimiser, built with ``lr=learning_rate_init`` and the ``optimizer__``
        options; replaces ``solver`` (then leave ``solver`` and its parameters at
        their defaults). ``None`` is the optimiser ``solver`` names. See the "Your
        own loss, optimiser and parameter groups" page of the documentation.
""",
    "criterion": """\
    criterion : torch loss class, instance or callable, default=None
        The training loss, ``criterion(output, target) -> scalar`` on the raw
        output (logits for classifiers); a class is built with the ``criterion__``
        options. ``None`` is the default loss.
""",
    "data_placement": """\
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
""",
    "memory_budget": """\
    memory_budget : int or None, default=None
        Bytes the training inputs may take on the device when
        ``data_placement="auto"`` (and the validation rows of a streamed fit);
        ``None`` is half of the device's free memory (of the available RAM on a
        CPU).
""",
    "autocast": """\
    autocast : {None, "bfloat16", "float16"}, default=None
        Mixed precision: the forward pass runs under ``torch.autocast`` in this
        dtype; the loss, the weights and the optimiser stay in float32.
        ``"float16"`` needs CUDA and scales the loss with a gradient scaler;
        ``"bfloat16"`` works on CUDA and on CPUs. Predictions are made in full
        precision. See the "Speed and memory" page.
""",
    "accumulation_steps": """\
    accumulation_steps : int, default=1
        Optimiser steps are taken every ``accumulation_steps`` batches, on the
        gradient of their union: ``batch_size=b, accumulation_steps=k`` trains as
        ``batch_size=k * b`` does (to float rounding; batch normalisation and
        dropout still see batches of ``b``) with the memory of ``b`` rows.
""",
    "compile": """\
    compile : bool or dict, default=False
        Train a ``torch.compile``-d module (a dict holds ``torch.compile``'s
        options, e.g. ``{"mode": "max-autotune"}``). The first epoch pays the
        compilation; measure before you keep it (see the "Speed and memory" page).
""",
    "embedding_dim": """\
    embedding_dim : int or None, default=None
        Width of each categorical column's embedding when ``X`` is a raw DataFrame
        (categorical, string or boolean columns, or missing values; see the "Raw
        tables" page). ``None`` sizes each column by its number of categories
        ``n``: ``min(50, round(1.6 * n ** 0.56))``. Not used for arrays.
""",
    "loader_kwargs": """\
    loader_kwargs : dict, default=None
        Options of the ``torch.utils.data.DataLoader`` that reads (or streams) a
        ``Dataset`` given as ``X``: ``num_workers``, ``pin_memory``, ``collate_fn``,
        ``batch_size`` (rows read per batch), ...; see the "Your data, your way"
        page. Arrays never go through a loader.
""",
    "learning_rate_mode": """\
    learning_rate_mode : {"sklearn", "torch"}, default="sklearn"
        ``"sklearn"``: ``learning_rate`` schedules apply to ``solver="sgd"`` only and
        the momentum velocity holds the rate, as in scikit-learn.
        ``"torch"``: schedules apply to every stochastic solver (``"adam"``
        included), and SGD keeps ``torch.optim.SGD``'s momentum buffer, which a
        change of rate rescales as a whole. The two are identical under a constant
        rate.
""",
    "class_weight": """\
    class_weight : dict, "balanced" or None, default=None
        Weights of the classes in the loss, as in scikit-learn's linear models.
""",
    "loss": """\
    loss : {"squared_error", "absolute_error", "huber", "poisson"}, \
default="squared_error"
        Loss optimised (on scaled targets). ``"poisson"`` uses a log link and needs
        non-negative targets.
""",
    "scale_target": """\
    scale_target : bool, default=True
        Standardise the targets for training (divide by their mean for
        ``"poisson"``) and undo it at prediction, so raw targets in the hundreds
        train as well as scaled ones. ``loss_`` is then on the scaled targets.
""",
    "**kwargs": """\
    **kwargs : dict
        Nested parameters: ``optimizer__<option>`` (and ``optimizer__param_groups``,
        a list of ``(pattern, options)`` pairs matched against parameter names),
        ``criterion__<option>``. Taken by ``get_params``, ``set_params`` and the
        searches like any other parameter.
""",
}

# Where the CNN, RNN and NeuralNet* estimators (no scikit-learn drop-ins) differ:
# torch's schedule and momentum rules, float32 by default.
_TORCH_PARAMS = {
    "learning_rate": """\
    learning_rate : {"constant", "invscaling", "adaptive"}, default="constant"
        Learning-rate schedule, applied to every stochastic solver. ``"adaptive"``
        divides the rate by 5 when ``n_iter_no_change`` epochs bring no ``tol``
        improvement, until it falls below 1e-6.
""",
    "momentum": """\
    momentum : float, default=0.9
        Momentum for ``"sgd"`` (and ``"rmsprop"``), as in ``torch.optim.SGD``.
""",
    "dtype": """\
    dtype : {"float32", "float64"}, default="float32"
        Floating precision of the weights and of the data on the device (inputs of
        any numeric dtype are accepted and converted).
""",
}

_ATTRS = {
    "loss_": """\
    loss_ : float
        The training loss of the last epoch (with the L2 term).
""",
    "best_loss_": """\
    best_loss_ : float or None
        Lowest training loss; ``None`` with ``early_stopping=True``.
""",
    "loss_curve_": """\
    loss_curve_ : list of float
        Training loss of each epoch.
""",
    "validation_scores_": """\
    validation_scores_ : list of float or None
        Validation score of each epoch with ``early_stopping=True``.
""",
    "best_validation_score_": """\
    best_validation_score_ : float or None
        Best validation score with ``early_stopping=True``.
""",
    "history_": """\
    history_ : History
        One record per epoch: ``train_loss``, ``valid_loss``, ``valid_score``
        (when validating), ``lr``, ``dur``.
""",
    "n_iter_": """\
    n_iter_ : int
        Number of epochs run by the last ``fit`` (a warm-started ``fit`` counts its
        own, as in scikit-learn), or by all ``partial_fit`` calls.
""",
    "t_": """\
    t_ : int
        Number of training rows seen by the solver.
""",
    "n_outputs_": """\
    n_outputs_ : int
        Number of output units.
""",
    "out_activation_": """\
    out_activation_ : str
        Output activation.
""",
    "n_features_in_": """\
    n_features_in_ : int
        Number of features seen in ``fit``.
""",
    "feature_names_in_": """\
    feature_names_in_ : ndarray of str
        Feature names seen in ``fit`` (DataFrames with string columns only).
""",
    "device_": """\
    device_ : str
        The device the network lives on.
""",
    "callbacks_": """\
    callbacks_ : list of Callback
        The callbacks as fitted.
""",
    "stop_reason_": """\
    stop_reason_ : str or None
        Why training stopped before ``max_iter``.
""",
    "classes_": """\
    classes_ : ndarray or list of ndarray
        Class labels.
""",
}

#: Fitted attributes every network estimator has.
FIT_ATTRS = (
    "loss_",
    "best_loss_",
    "loss_curve_",
    "validation_scores_",
    "best_validation_score_",
    "history_",
    "n_iter_",
    "t_",
    "n_outputs_",
    "out_activation_",
    "n_features_in_",
    "feature_names_in_",
    "device_",
    "callbacks_",
    "stop_reason_",
)


def parameters(*names: str, style: str = "sklearn", **own: str) -> str:
    """The ``Parameters`` entries of ``names``, in order.

    Parameters
    ----------
    *names : str
        Shared parameter names (see the module's tables), or names given in ``own``.
    style : {"sklearn", "torch"}, default="sklearn"
        Which entries of the parameters whose semantics differ.
    **own : str
        An estimator's own entry for a name (a default of its own), used instead.

    Returns
    -------
    str
        The entries, numpydoc-formatted, each ending with a newline.

    Examples
    --------
    >>> from sknn.estimators._docs import parameters
    >>> parameters("shuffle").split()[:3]
    ['shuffle', ':', 'bool,']
    >>> parameters("dtype", style="torch").split()[4]
    'default="float32"'
    """
    table = {**_PARAMS, **(_TORCH_PARAMS if style == "torch" else {})}
    return "".join(own[n] if n in own else table[n] for n in names)


def attributes(*names: str) -> str:
    """The ``Attributes`` entries of ``names``, in order.

    Examples
    --------
    >>> from sknn.estimators._docs import attributes
    >>> attributes("n_iter_").split()[:3]
    ['n_iter_', ':', 'int']
    """
    return "".join(_ATTRS[n] for n in names)
