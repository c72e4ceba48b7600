"""The training engine: batching, optimisers and schedules, the loop, history.

Nothing here imports scikit-learn; the estimators in :mod:`sknn.estimators` translate
their parameters into the objects below.
"""

from sknn.training.data import TensorData
from sknn.training.engine import TrainConfig, Trainer
from sknn.training.history import History
from sknn.training.inference import predict_batched
from sknn.training.optim import SOLVERS, build_optimizer

__all__ = [
    "SOLVERS",
    "History",
    "TensorData",
    "TrainConfig",
    "Trainer",
    "build_optimizer",
    "predict_batched",
]
