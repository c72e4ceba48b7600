""":func:`plan_fit` and its result, :class:`FitRun`."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from sklearn.base import clone

from sknn.finetune import FineTuneOptions, FrozenNormEval
from sknn.plan import loss, optim, sources, steps
from sknn.training import TensorData, Trainer, distributed
from sknn.training.precision import compile_module, make_step_plan
from sknn.utils.random import RNGScope

__all__ = ["FitRun", "plan_fit"]


@dataclass(frozen=True)
class FitRun:
    """Everything a fit decided before its first epoch.

    Attributes
    ----------
    trainer : Trainer
        The loop, ready to run (its ``owner`` is the estimator).
    train : TensorData
        The batch source of the training rows.
    valid : TensorData or None
        The rows scored after each epoch.
    rng : RNGScope
        The fit's stream of torch's global generator (dropout); enter it around
        training.
    generator : torch.Generator
        The shuffling stream (``partial_fit`` keeps its state for the next call).
    callbacks : list of Callback
        The user's callbacks as cloned for this fit (``callbacks_``).
    early_stopping : bool
        The fit stops on (and reports) validation scores.
    incremental : bool
        A ``partial_fit`` call.
    epoch0 : int
        Epochs of earlier calls that ``n_iter_`` does not count.
    """

    trainer: Trainer
    train: TensorData
    valid: TensorData | None
    rng: RNGScope
    generator: torch.Generator
    callbacks: list
    early_stopping: bool
    incremental: bool
    epoch0: int


def plan_fit(
    estimator,
    X,
    y,
    *,
    sample_weight=None,
    incremental: bool = False,
    classes=None,
    eval_set: tuple | None = None,
    fine_tune: FineTuneOptions | None = None,
) -> FitRun:
    """Plan a fit of ``estimator`` on ``X``, ``y``: the steps of :mod:`sknn.plan`.

    The estimator adopts its target handler and its network as they are decided
    (``_adopt_targets``, ``_adopt_network``: later steps validate ``eval_set`` against
    them); the fitted attributes come after training (``_finish_fit``).

    Parameters
    ----------
    estimator : BaseNeuralNet
        The estimator being fitted.
    X, y, sample_weight
        As its ``fit`` receives them.
    incremental : bool, default=False
        A ``partial_fit`` call: one epoch, the network, optimiser and shuffling stream
        continued.
    classes : array-like, default=None
        ``partial_fit``'s ``classes``.
    eval_set : tuple, default=None
        ``(X_val, y_val)`` scored after each epoch instead of a split of ``X``.
    fine_tune : FineTuneOptions, default=None
        :meth:`~sknn.finetune.FineTuneMixin.fine_tune`'s options.

    Returns
    -------
    FitRun

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sknn import MLPClassifier
    >>> from sknn.plan import plan_fit
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = MLPClassifier((8,), max_iter=5, random_state=0)
    >>> run = plan_fit(clf, X, y)
    >>> run.trainer.config.batch_size, run.train.n_samples, run.trainer.owner is clf
    (150, 150, True)
    """
    est = estimator
    targets = est._new_targets()
    spec = steps.check_params(est, targets)
    X, y = steps.adapt_input(est, X, y)
    given = X  # what a callable scorer's validation rows are taken from
    if incremental and est.early_stopping:
        raise ValueError("partial_fit does not support early_stopping=True")
    keep = hasattr(est, "module_") and (
        incremental or est.warm_start or fine_tune is not None
    )
    X, y, sample_weight = steps.validate_input(
        est, X, y, sample_weight, targets, reset=not keep
    )
    first = not keep or (fine_tune is not None and fine_tune.new_head)
    y_enc, weights = steps.encode_targets(
        targets,
        y,
        sample_weight,
        previous=None if first else est._targets_,
        incremental=incremental,
        classes=classes,
        warm_start=est.warm_start,
    )
    est._adopt_targets(targets)

    previous = est._network() if keep else None
    run = steps.runtime(est, X, previous=previous)
    est._adopt_runtime(run)
    # n_iter_ counts this call's epochs (scikit-learn's rule for warm starts);
    # partial_fit keeps counting all of its epochs.
    epoch0 = previous.state.epoch if keep and not (incremental or fine_tune) else 0
    net = steps.network(
        est,
        X,
        previous=previous,
        n_outputs=targets.n_outputs,
        run=run,
        use_assigned=incremental or est.warm_start,
        fine_tune=fine_tune,
    )
    est._adopt_network(net)

    callbacks = [clone(cb) for cb in (est.callbacks or ())]
    validation = sources.validation(
        est, callbacks, eval_set=eval_set, incremental=incremental, rows=given
    )
    train, valid, y_true, w_valid, x_valid = sources.fit_sources(
        X,
        y,
        y_enc,
        weights,
        device=run.device,
        x_dtype=net.torch_dtype,
        targets=targets,
        validation=validation,
        validate_inputs=est._validate_inputs,
        train_data=est._train_data,
        seed=run.seed,
        placement=est.data_placement,
        budget=est.memory_budget,
        parallel=run.parallel,
    )

    batch_size = est._batch_size(train.n_samples)
    decay = optim.decay(
        solver=est.solver,
        alpha=est.alpha,
        batch_size=batch_size,
        accumulation_steps=est.accumulation_steps,
        weighted=weights is not None,
        weight_decay_option=spec.weight_decay_option,
    )
    lr = est.learning_rate_init if fine_tune is None else fine_tune.learning_rate_init
    continued = est._continued_training() if incremental else None
    optimizer = optim.optimizer(
        spec,
        net.module,
        weight_decay=decay.weight_decay,
        lr=lr,
        device=run.device,
        max_fun=est.max_fun,
        previous=None if continued is None else continued.optimizer,
        saved_state=None if continued is None else continued.optimizer_state,
    )
    fns = loss.losses(
        est,
        targets,
        device=run.device,
        dtype=net.torch_dtype,
        weighted=weights is not None,
        y_true=y_true,
        w_valid=w_valid,
        x_valid=x_valid,
    )
    generator, rng = optim.streams(run.seed, continued)
    module = net.module
    forward = distributed.wrap_module(module, run.device) if run.parallel else module
    trainer = Trainer(
        module,
        fns.loss,
        optimizer,
        optim.train_config(
            est,
            batch_size=batch_size,
            decay=decay,
            incremental=incremental,
            early_stopping=validation.early_stopping,
            fine_tune=fine_tune,
        ),
        schedule=optim.schedule(
            solver=est.solver,
            learning_rate=est.learning_rate,
            learning_rate_init=lr,
            power_t=est.power_t,
            mode=est._learning_rate_mode(),
        ),
        score_fn=fns.score,
        penalty_fn=loss.l2_penalty(module, est.alpha) if decay.report_penalty else None,
        callbacks=[*callbacks, *([FrozenNormEval(net.frozen)] if fine_tune else [])],
        history=net.history,
        state=net.state,
        generator=generator,
        printer=print if est.verbose else None,
        forward_module=compile_module(forward, est.compile),
        plan=make_step_plan(
            run.device,
            est.autocast,
            est.accumulation_steps,
            # partial_fit keeps float16's loss scale from call to call.
            scaler=None if continued is None else continued.grad_scaler,
            compile=est.compile,
        ),
        validation_view=fns.view if valid is not None else None,
        metrics_fn=fns.metrics if valid is not None else None,
        owner=est,
    )
    return FitRun(
        trainer=trainer,
        train=train,
        valid=valid,
        rng=rng,
        generator=generator,
        callbacks=callbacks,
        early_stopping=valid is not None and validation.early_stopping,
        incremental=incremental,
        epoch0=epoch0,
    )
