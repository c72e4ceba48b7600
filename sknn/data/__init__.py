"""Input validation, target encoding and validation splits."""

from sknn.data.split import validation_split
from sknn.data.targets import ClassTargetEncoder, RegressionTargetScaler

__all__ = ["ClassTargetEncoder", "RegressionTargetScaler", "validation_split"]
