"""Callbacks: objects whose hooks the training engine calls during a fit.

A callback subclasses :class:`Callback` and overrides the hooks it needs. It stops
training by setting ``trainer.stop_training = True``; nothing raises.
"""

from sknn.callbacks.base import Callback
from sknn.callbacks.early_stopping import EarlyStopping

__all__ = ["Callback", "EarlyStopping"]
