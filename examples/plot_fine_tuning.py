"""
=============================================================
Fine-tuning a pretrained network on new Fashion-MNIST classes
=============================================================

The classic transfer-learning story, with an sknn estimator: pretrain a network on
many images of some classes, save it, load it later, replace its output layer with
a new one for *other* classes, freeze what was learnt and train briefly on a small
data set of the new task.

We pretrain on the Fashion-MNIST classes 0-4 (T-shirt, trouser, pullover, dress,
coat), then learn the classes 5-9 (sandal, shirt, sneaker, bag, ankle boot) from
only 500 images, comparing three networks on the same small budget of epochs:

* fine-tuned with a frozen body (only the new head trains),
* fine-tuned entirely (``freeze=False``),
* the same architecture trained from scratch.
"""

# %%
# Data
# ----
# :func:`sknn.datasets.load_fashion_mnist` reads the official files, installed
# locally (nothing is downloaded). We flatten the 28x28 images for an MLP and use
# subsets so the example runs in seconds.
import copy
import os
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

import sknn
from sknn import MLPClassifier
from sknn.datasets import load_fashion_mnist

# Each fit below runs a fixed budget of epochs on purpose: no warning when it ends.
warnings.simplefilter("ignore", ConvergenceWarning)

X_train, X_test, y_train, y_test = load_fashion_mnist(return_X_y=True)
X_train = X_train.reshape(len(X_train), -1).astype(np.float32) / 255
X_test = X_test.reshape(len(X_test), -1).astype(np.float32) / 255

rng = np.random.RandomState(0)
old_train = rng.permutation(np.flatnonzero(y_train < 5))[:6000]
new_train = rng.permutation(np.flatnonzero(y_train >= 5))[:300]
new_test = np.flatnonzero(y_test >= 5)[:2000]
X_old, y_old = X_train[old_train], y_train[old_train]
X_new, y_new = X_train[new_train], y_train[new_train]
X_new_test, y_new_test = X_test[new_test], y_test[new_test]

# %%
# Pretraining on classes 0-4, then saving
# ---------------------------------------
# :func:`sknn.save` writes weights (safetensors) and metadata (JSON); loading it
# never executes code from the file.
params = dict(hidden_layer_sizes=(128, 64), batch_size=32, random_state=0, device="cpu")
pretrained = MLPClassifier(
    **{**params, "batch_size": 128}, max_iter=10, learning_rate_init=1e-3
)
pretrained.fit(X_old, y_old)
print(
    f"accuracy on classes 0-4: {pretrained.score(X_test[y_test < 5], y_test[y_test < 5]):.3f}"
)

path = os.path.join(tempfile.mkdtemp(), "fashion_0_4.sknn")
sknn.save(pretrained, path)

# %%
# Fine-tuning on classes 5-9 versus training from scratch
# -------------------------------------------------------
# :meth:`~sknn.MLPClassifier.fine_tune` sees new classes in ``y``, so it replaces the
# output layer (``classes_`` becomes 5-9) and, with ``freeze=True``, trains only that
# head: the frozen body is not given to the optimiser. Each epoch after the first is
# one more pass with :meth:`~sknn.MLPClassifier.partial_fit`, so we can score the
# models after every epoch.
budget = 10


def accuracy_curve(first_epoch, more_epochs):
    model = first_epoch()
    scores = [model.score(X_new_test, y_new_test)]
    for _ in range(budget - 1):
        more_epochs(model)
        scores.append(model.score(X_new_test, y_new_test))
    return model, scores


frozen, acc_frozen = accuracy_curve(
    lambda: sknn.load(path).fine_tune(
        X_new, y_new, freeze=True, max_iter=1, learning_rate_init=1e-2
    ),
    lambda m: m.partial_fit(X_new, y_new),
)
full, acc_full = accuracy_curve(
    lambda: sknn.load(path).fine_tune(
        X_new, y_new, freeze=False, max_iter=1, learning_rate_init=1e-3
    ),
    lambda m: m.partial_fit(X_new, y_new),
)
scratch, acc_scratch = accuracy_curve(
    lambda: MLPClassifier(**params).partial_fit(X_new, y_new, classes=np.arange(5, 10)),
    lambda m: m.partial_fit(X_new, y_new),
)
print("classes after fine-tuning:", frozen.classes_)
print("frozen body :", np.round(acc_frozen, 3))
print("all layers  :", np.round(acc_full, 3))
print("from scratch:", np.round(acc_scratch, 3))
print(
    f"after {budget} epochs: frozen body {acc_frozen[-1]:.3f}, "
    f"all layers {acc_full[-1]:.3f}, from scratch {acc_scratch[-1]:.3f}"
)

# %%
# The frozen body really did not move
# -----------------------------------
original = sknn.load(path).module_.hidden.state_dict()
unchanged = all(
    np.array_equal(original[k].numpy(), v.numpy())
    for k, v in frozen.module_.hidden.state_dict().items()
)
print("frozen body unchanged:", unchanged)

# %%
# Accuracy against epochs
# -----------------------
# Transfer is not free: here the features an MLP learnt on tops, trousers, dresses
# and coats carry over poorly to sandals, sneakers, bags and boots. The frozen body
# is a linear probe of those features and stays lowest; training all layers does
# better, yet on this budget the network trained from scratch is ahead from the
# first epoch to the last. Fine-tuning pays when the
# old and new tasks share features (or when the new data set is far smaller than the
# network needs): measure it, as here, before relying on it.
epochs = np.arange(1, budget + 1)
fig, ax = plt.subplots(figsize=(6, 4))
ax.plot(epochs, acc_frozen, "o-", label="fine-tuned, frozen body")
ax.plot(epochs, acc_full, "s-", label="fine-tuned, all layers")
ax.plot(epochs, acc_scratch, "^-", label="from scratch")
ax.set_xlabel("epochs on the 500 images of classes 5-9")
ax.set_ylabel("test accuracy on classes 5-9")
ax.set_title("Transfer from Fashion-MNIST classes 0-4")
ax.legend()
fig.tight_layout()
plt.show()

# %%
# ``copy.deepcopy`` or :func:`sklearn.base.clone` work as usual; the fine-tuned model
# is saved like any other.
sknn.save(copy.deepcopy(frozen), os.path.join(tempfile.mkdtemp(), "fashion_5_9.sknn"))
