"""
===================================================================
Picking a learning rate, then serving the network with ONNX Runtime
===================================================================

Two steps around one fit of a small CNN on scikit-learn's digits: a learning-rate
range test picks ``learning_rate_init`` before training, and the fitted estimator is
exported to ONNX, with its input preparation and label decoding, to be served by ONNX
Runtime alone.
"""

# %%
# A learning-rate range test
# --------------------------
# :func:`sknn.lr_finder.find_lr` trains a clone of the estimator for 100 mini-batches
# while the rate grows from 1e-7 to 10, and suggests the rate where the smoothed loss
# falls fastest. The estimator passed in is not changed.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sknn import CNNClassifier
from sknn.lr_finder import find_lr

warnings.simplefilter("ignore", ConvergenceWarning)  # a fixed budget of epochs

digits = load_digits()
# 8-bit images, as a camera or a file would give them; the CNN divides uint8 by 255.
images = (digits.images * 255 / 16).astype(np.uint8)
labels = np.array(digits.target_names).astype(str)[digits.target]  # "0" ... "9"
X_train, X_test, y_train, y_test = train_test_split(images, labels, random_state=0)

cnn = CNNClassifier(channels=(16,), batch_size=32, max_iter=10, random_state=0)
finder = find_lr(cnn, X_train, y_train)
finder.plot()
plt.show()
print(f"suggested learning_rate_init: {finder.suggestion_:.3g}")

# %%
# Train with the suggestion, and with the default rate for comparison:
tuned = CNNClassifier(**{**cnn.get_params(), "learning_rate_init": finder.suggestion_})
tuned.fit(X_train, y_train)
default = CNNClassifier(**cnn.get_params()).fit(X_train, y_train)
print(
    f"test accuracy: {tuned.score(X_test, y_test):.3f} with the suggested rate, "
    f"{default.score(X_test, y_test):.3f} with the default 0.001"
)

# %%
# Export to ONNX
# --------------
# The graph takes the same ``uint8`` images of shape ``(n, 8, 8)`` that ``predict``
# takes (``input_shape`` and ``input_dtype`` put the reshape and the division by 255
# into the graph) and returns the string labels and the probabilities.
import os
import tempfile

import onnxruntime as ort

from sknn import export_onnx

path = export_onnx(
    tuned,
    os.path.join(tempfile.mkdtemp(), "digits_cnn.onnx"),
    input_shape=(8, 8),
    input_dtype="uint8",
)
session = ort.InferenceSession(path)
label, proba = session.run(None, {"X": X_test})
print("labels equal predict:", bool(np.all(label == tuned.predict(X_test))))
print(
    "largest probability difference:", np.abs(proba - tuned.predict_proba(X_test)).max()
)
