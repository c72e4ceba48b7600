"""The fit plan: everything ``fit`` decides before its first epoch, as named steps.

``fit`` reads as four steps: adapt the input, **plan the fit**, train, finish.
:func:`plan_fit` runs the planning steps in order and
returns a :class:`FitRun` (a frozen record: the :class:`~sknn.training.Trainer`, the
training and validation batch sources, the random streams, the callbacks). The steps
live in :mod:`sknn.plan.steps` (1-6), :mod:`sknn.plan.sources` (7),
:mod:`sknn.plan.optim` (8-10) and :mod:`sknn.plan.loss` (11):

1. ``check_params``: settings that contradict each other;
2. ``adapt_input``: Datasets, loaders, dicts, raw tables (:mod:`sknn.data`);
3. ``validate_input``: scikit-learn's checks (through the estimator's
   ``_validate_inputs``), ``sample_weight``;
4. ``encode_targets``: the estimator's target handler (:mod:`sknn.targets`);
5. ``runtime``: device, data-parallel processes, precision checks, the seed;
6. ``network``: the module built (seeded) or kept, the fine-tuning head; adopted by
   the estimator (``_adopt_network``);
7. ``sources``: the batch sources of the rows, the validation split or
   ``eval_set``, augmentation, sharding;
8. ``decay``: scikit-learn's L2 arithmetic (weight decay or a loss term);
9. ``optimizer``: built, or continued by ``partial_fit``;
10. ``schedule``: the learning-rate schedule, the random streams, the loop's
    settings;
11. ``losses``: the loss, the validation score and metrics, the L2 term; then the
    :class:`~sknn.training.Trainer`, whose ``owner`` is the estimator.

Every step is a function of explicit values, testable alone; only the estimator
writes its own attributes (``_adopt_targets``, ``_adopt_network``, ``_finish_fit``).
The clients are the estimator's ``fit`` / ``partial_fit`` / ``_fit_steps``,
:meth:`~sknn.finetune.FineTuneMixin.fine_tune`, the stacked search
(:func:`sknn.model_selection.fit_stacked`) and epoch-level pruning. :mod:`sknn.plan`
belongs to the estimator layer: it imports the training, callback and data layers,
and they never import it.
"""

from sknn.plan.finish import fitted_attributes, warn_on_stop
from sknn.plan.run import FitRun, plan_fit

__all__ = ["FitRun", "fitted_attributes", "plan_fit", "warn_on_stop"]
