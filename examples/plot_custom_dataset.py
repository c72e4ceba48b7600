"""
===================================================
Your own torch Dataset, in scikit-learn's tools
===================================================

PyTorch users keep their data in a ``torch.utils.data.Dataset``. sknn's estimators
take one directly: ``fit(dataset)`` reads its ``(x, y)`` items once (through a
``DataLoader``) and trains on them as on arrays. For cross-validation and searches,
:class:`sknn.data.SliceDataset` gives scikit-learn the sliceable ``X`` and ``y`` it
needs, with stratified folds.

We wrap scikit-learn's digits (1,797 images of 8x8 pixels) in a Dataset that prepares
each image on access, fit a CNN on it, cross-validate it, and then feed a network
with two inputs (the image and two hand-made features) from a Dataset of dicts.
"""

# %%
# A Dataset that prepares its items
# ---------------------------------
# Each item is ``(image, label)``: the image scaled to ``[0, 1]`` with a channel
# axis, as a ``(1, 8, 8)`` tensor.
import warnings

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score, train_test_split
from torch import nn
from torch.utils.data import Dataset

from sknn import CNNClassifier, NeuralNetClassifier
from sknn.data import SliceDataset

# Each fit below runs a fixed budget of epochs on purpose: no warning when it ends.
warnings.filterwarnings("ignore", category=ConvergenceWarning)

digits = load_digits()
train_idx, test_idx = train_test_split(
    np.arange(len(digits.target)),
    test_size=0.25,
    stratify=digits.target,
    random_state=0,
)


class Digits(Dataset):
    """Digits images of the given rows, prepared one item at a time."""

    def __init__(self, rows):
        self.rows = rows

    def __len__(self):
        return len(self.rows)

    def __getitem__(self, i):
        r = self.rows[i]
        image = torch.tensor(digits.images[r] / 16.0, dtype=torch.float32)
        return image[None], int(digits.target[r])


train, test = Digits(train_idx), Digits(test_idx)
x0, y0 = train[0]
print(f"{len(train)} training items; the first is {tuple(x0.shape)}, label {y0}")

# %%
# Fit and predict on Datasets
# ---------------------------
# ``fit(train)`` takes the labels from the items; ``predict(test)`` ignores them.
cnn = CNNClassifier(max_iter=15, random_state=0).fit(train)
y_test = digits.target[test_idx]
accuracy = np.mean(cnn.predict(test) == y_test)
print(f"CNN on the Dataset: test accuracy {accuracy:.3f}")

# %%
# Cross-validation with SliceDataset
# ----------------------------------
# scikit-learn indexes ``X`` and ``y`` with arrays of rows, which a Dataset does not
# take. ``SliceDataset(ds)`` (the images) and ``SliceDataset(ds, idx=1)`` (the
# labels) are lazy views it can index; a classifier's ``cv=3`` is stratified on the
# labels as with arrays. Each item is read once per fit.
X_sl, y_sl = SliceDataset(train), SliceDataset(train, idx=1)
scores = cross_val_score(CNNClassifier(max_iter=10, random_state=0), X_sl, y_sl, cv=3)
print(f"3-fold accuracy: {scores.round(3)}")


# %%
# Several inputs from a Dataset of dicts
# --------------------------------------
# A Dataset may yield ``x`` as a dict: its keys feed ``forward(**x)`` of your own
# module through :class:`sknn.NeuralNetClassifier`, which hands the module each
# input's width (``n_features_in["extra"]``).
class DigitsWithFeatures(Digits):
    def __getitem__(self, i):
        image, label = super().__getitem__(i)
        extra = torch.stack([image.mean(), (image > 0.5).float().mean()])
        return {"image": image.flatten(), "extra": extra}, label


class ImagePlusFeatures(nn.Module):
    def __init__(self, n_features_in, n_outputs, width=64):
        super().__init__()
        self.image = nn.Sequential(nn.Linear(n_features_in["image"], width), nn.ReLU())
        self.extra = nn.Linear(n_features_in["extra"], width)
        self.head = nn.Linear(width, n_outputs)

    def forward(self, image, extra):
        return self.head(self.image(image) + self.extra(extra))


net = NeuralNetClassifier(
    ImagePlusFeatures, max_iter=40, learning_rate_init=0.01, random_state=0
).fit(DigitsWithFeatures(train_idx))
two_inputs = np.mean(net.predict(DigitsWithFeatures(test_idx)) == y_test)
print(f"two-input network: test accuracy {two_inputs:.3f}")

# %%
# The CNN's training curve
# ------------------------
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(cnn.loss_curve_, label="CNN (Dataset)")
ax.plot(net.loss_curve_, label="two inputs (Dataset of dicts)")
ax.set_xlabel("epoch")
ax.set_ylabel("training loss")
ax.legend()
fig.tight_layout()
plt.show()
