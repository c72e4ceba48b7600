"""Input adapters and validation, target encoding and validation splits."""

from sknn.data.adapters import MultiInput, SliceDataset
from sknn.data.augment import (
    Compose,
    GaussianNoise,
    RandomCrop,
    RandomFlip,
    RandomShift,
    Transform,
)
from sknn.data.split import validation_split
from sknn.data.targets import ClassTargetEncoder, RegressionTargetScaler
from sknn.data.windows import make_windows

__all__ = [
    "ClassTargetEncoder",
    "Compose",
    "GaussianNoise",
    "MultiInput",
    "RandomCrop",
    "RandomFlip",
    "RandomShift",
    "RegressionTargetScaler",
    "SliceDataset",
    "Transform",
    "make_windows",
    "validation_split",
]
