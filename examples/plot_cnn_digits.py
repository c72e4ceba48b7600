"""
===================================================
Classifying digits as images with a CNN
===================================================

scikit-learn's digits are 1,797 images of 8x8 pixels. An MLP sees them as 64
unrelated columns; :class:`sknn.CNNClassifier` sees them as images: its
convolutions look at neighbouring pixels, whatever the position of the stroke.

We train it with its defaults on 75 % of the images, compare it on the held-out
quarter with scikit-learn's MLP, and look at its training curve and its mistakes.
"""

# %%
# Data: images of shape (n, 8, 8)
# -------------------------------
# A 3-D array is read as one-channel images. (A 2-D table works too, with
# ``input_shape=(1, 8, 8)``, for instance after a scikit-learn transformer.)
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLP

from sknn import CNNClassifier

# Each fit below runs a fixed budget of epochs on purpose: no warning when it ends.
warnings.simplefilter("ignore", ConvergenceWarning)

X, y = load_digits(return_X_y=True)
images = X.reshape(-1, 8, 8) / 16.0
X_train, X_test, y_train, y_test = train_test_split(
    images, y, test_size=0.25, stratify=y, random_state=0
)
print(X_train.shape)

# %%
# Train the CNN with its defaults
# -------------------------------
# Two convolution blocks (32 and 64 channels, batch norm, max pooling), the maps
# flattened, a dense layer of 128: the defaults for small images.
cnn = CNNClassifier(max_iter=15, random_state=0, device="cpu")
cnn.fit(X_train, y_train)
print(f"CNN held-out accuracy: {cnn.score(X_test, y_test):.3f}")
print(cnn.module_)

# %%
# Compare with scikit-learn's MLP on the flattened pixels
# -------------------------------------------------------
mlp = SklearnMLP(max_iter=300, random_state=0)
mlp.fit(X_train.reshape(len(X_train), -1), y_train)
print(
    f"MLP held-out accuracy: {mlp.score(X_test.reshape(len(X_test), -1), y_test):.3f}"
)

# %%
# Training curve and mistakes
# ---------------------------
# ``history_`` holds one record per epoch; ``loss_curve_`` is scikit-learn's.
pred = cnn.predict(X_test)
wrong = np.flatnonzero(pred != y_test)[:6]

fig = plt.figure(figsize=(9, 3))
ax = fig.add_subplot(1, 4, 1)
ax.plot(range(1, cnn.n_iter_ + 1), cnn.loss_curve_)
ax.set(xlabel="epoch", ylabel="training loss", yscale="log")
for k, i in enumerate(wrong[:3]):
    ax = fig.add_subplot(1, 4, k + 2)
    ax.imshow(X_test[i], cmap="gray_r")
    ax.set_title(f"true {y_test[i]}, predicted {pred[i]}", fontsize=9)
    ax.axis("off")
fig.tight_layout()
plt.show()
