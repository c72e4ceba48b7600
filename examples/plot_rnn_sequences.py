"""
===================================================
Sequences with an RNN: ragged input and forecasting
===================================================

Two everyday uses of :class:`sknn.RNNClassifier` and :class:`sknn.RNNRegressor`:

* classifying sequences of *different lengths*, passed as a plain list of arrays
  (padded and packed internally, so the padding never influences a prediction);
* forecasting a time series, turned into a regression problem by
  :func:`sknn.data.make_windows`.
"""

# %%
# Ragged sequences: a list of (T_i, F) arrays
# -------------------------------------------
# Each sequence is a 2-D random walk of 5 to 40 steps; its class says whether it
# ended up to the right (x > 0) or to the left. Only the whole sequence tells.
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.exceptions import ConvergenceWarning

from sknn import RNNClassifier, RNNRegressor
from sknn.data import make_windows

# Each fit below runs a fixed budget of epochs on purpose: no warning when it ends.
warnings.simplefilter("ignore", ConvergenceWarning)

rng = np.random.RandomState(0)
walks = [
    np.cumsum(rng.normal(size=(rng.randint(5, 41), 2)), axis=0) / 5 for _ in range(400)
]
labels = np.array(["right" if w[-1, 0] > 0 else "left" for w in walks])
train, test = slice(0, 300), slice(300, None)

clf = RNNClassifier(hidden_size=16, max_iter=30, random_state=0, device="cpu")
clf.fit(walks[train], labels[train])
print(f"held-out accuracy: {clf.score(walks[test], labels[test]):.3f}")
print(
    "lengths in the test set:",
    min(map(len, walks[test])),
    "to",
    max(map(len, walks[test])),
)

# %%
# A sequence predicts the same alone or in a batch of longer ones:
one = clf.predict_proba(walks[300:301])
batch = clf.predict_proba(walks[test])[:1]
print(np.allclose(one, batch, atol=1e-6))

# %%
# Forecasting: windows and next values
# ------------------------------------
# A noisy series with two seasonalities. ``make_windows`` cuts it into windows of
# 32 steps and the value that follows each; the model is trained on the past and
# scored on the last 200 steps.
t = np.arange(800)
series = np.sin(2 * np.pi * t / 50) + 0.5 * np.sin(2 * np.pi * t / 170)
series = series + 0.1 * rng.normal(size=t.size)

X, y = make_windows(series, window=32)
split = len(X) - 200
reg = RNNRegressor(hidden_size=16, max_iter=20, random_state=0, device="cpu")
reg.fit(X[:split], y[:split])
print(
    f"R2 of one-step forecasts on the last 200 steps: {reg.score(X[split:], y[split:]):.3f}"
)

fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(t[-200:], y[split:], label="series", lw=1)
ax.plot(t[-200:], reg.predict(X[split:]), label="one-step forecast", lw=1)
ax.set(xlabel="time step")
ax.legend()
fig.tight_layout()
plt.show()
