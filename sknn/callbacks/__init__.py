"""Callbacks: objects whose hooks the training engine calls during a fit.

A callback subclasses :class:`Callback` and overrides the hooks it needs. It stops
training by setting ``trainer.stop_training = True``; nothing raises.

The package sits above :mod:`sknn.io` (the trackers save the fitted model through it),
so it declares here the callbacks a model file may name (:func:`sknn._codec.declare`):
those that touch nothing outside the estimator are rebuilt by :func:`sknn.load`; those
that write files (checkpoints, logs, trackers) name paths that a hostile file could
point anywhere, so loading drops them with a warning and they come from the caller.
"""

from sknn._codec import declare
from sknn.callbacks.base import Callback
from sknn.callbacks.checkpoint import Checkpoint, load_checkpoint
from sknn.callbacks.early_stopping import EarlyStopping
from sknn.callbacks.gradient_clipping import GradientClipping
from sknn.callbacks.logger import CSVLogger, JSONLogger
from sknn.callbacks.lr_scheduler import LRScheduler
from sknn.callbacks.progress import ProgressBar
from sknn.callbacks.tracking import MLflowLogger, TensorBoardLogger
from sknn.scoring import ValidationPredictions

declare(
    "callback",
    (EarlyStopping, GradientClipping, LRScheduler, ProgressBar),
    restore=True,
)
declare(
    "callback",
    (Callback, Checkpoint, CSVLogger, JSONLogger, MLflowLogger, TensorBoardLogger),
    restore=False,
)

__all__ = [
    "CSVLogger",
    "Callback",
    "Checkpoint",
    "EarlyStopping",
    "GradientClipping",
    "JSONLogger",
    "LRScheduler",
    "MLflowLogger",
    "ProgressBar",
    "TensorBoardLogger",
    "ValidationPredictions",
    "load_checkpoint",
]
