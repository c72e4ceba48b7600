"""Callbacks: objects whose hooks the training engine calls during a fit.

A callback subclasses :class:`Callback` and overrides the hooks it needs. It stops
training by setting ``trainer.stop_training = True``; nothing raises.
"""

from sknn.callbacks.base import Callback
from sknn.callbacks.checkpoint import Checkpoint, load_checkpoint
from sknn.callbacks.early_stopping import EarlyStopping
from sknn.callbacks.gradient_clipping import GradientClipping
from sknn.callbacks.logger import CSVLogger, JSONLogger
from sknn.callbacks.lr_scheduler import LRScheduler
from sknn.callbacks.progress import ProgressBar
from sknn.callbacks.scoring import ValidationPredictions
from sknn.callbacks.tracking import MLflowLogger, TensorBoardLogger

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
