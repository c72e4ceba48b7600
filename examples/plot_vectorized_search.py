"""
==================================================
Grid search and deep ensembles in stacked passes
==================================================

:class:`sknn.model_selection.GridSearchCV` is scikit-learn's grid search, but the
(candidate, fold) fits of an sknn network are trained together, as one batched
model whose weights carry an extra "model" axis. The results are those of
scikit-learn's search (same folds, same seeds); only the way the networks are
trained changes. :class:`sknn.ensemble.DeepEnsembleClassifier` uses the same
engine to train several seeds at once and average them.
"""

# %%
# The same search, two ways
# -------------------------
# Six candidates (learning rate x L2 penalty) and three folds: 18 small networks.
import time
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn import model_selection as skms
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split

from sknn import MLPClassifier
from sknn.ensemble import DeepEnsembleClassifier
from sknn.model_selection import GridSearchCV

warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.4, random_state=0, stratify=y
)

net = MLPClassifier((32, 32), max_iter=15, random_state=0, device="cpu")
grid = {"learning_rate_init": [1e-3, 3e-3, 1e-2], "alpha": [1e-4, 1e-1]}

times = {}
tic = time.perf_counter()
stacked = GridSearchCV(net, grid, cv=3, refit=False).fit(X_train, y_train)
times["sknn GridSearchCV\n(stacked)"] = time.perf_counter() - tic
tic = time.perf_counter()
one_by_one = skms.GridSearchCV(net, grid, cv=3, refit=False).fit(X_train, y_train)
times["sklearn GridSearchCV\n(one by one)"] = time.perf_counter() - tic

print("best (stacked):    ", stacked.best_params_)
print("best (one by one): ", one_by_one.best_params_)
gap = np.abs(
    stacked.cv_results_["mean_test_score"] - one_by_one.cv_results_["mean_test_score"]
).max()
print(f"largest difference in mean_test_score: {gap:.2e}")

# %%
# Scores and times
# ----------------
# The mean cross-validated accuracy of each candidate is the same both ways. On a
# CPU the stacked search saves the per-fit overhead; on a GPU, where one small
# network leaves most of the device idle, the gain is much larger.
fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.8))
labels = [
    f"lr={p['learning_rate_init']:g}\nalpha={p['alpha']:g}"
    for p in stacked.cv_results_["params"]
]
pos = np.arange(len(labels))
ax1.bar(pos - 0.2, stacked.cv_results_["mean_test_score"], 0.4, label="stacked")
ax1.bar(pos + 0.2, one_by_one.cv_results_["mean_test_score"], 0.4, label="one by one")
ax1.set_xticks(pos, labels, fontsize=7)
ax1.set_ylim(0.5, 1.0)
ax1.set_ylabel("mean CV accuracy")
ax1.legend()
ax2.bar(list(times), list(times.values()), color=["C0", "C1"])
ax2.set_ylabel("wall time (s)")
fig.tight_layout()

# %%
# A deep ensemble
# ---------------
# Five networks that differ only in their seed, trained in one pass; their averaged
# probabilities beat each member on held-out data.
ensemble = DeepEnsembleClassifier(
    MLPClassifier((32,), max_iter=20, device="cpu"), n_estimators=5, random_state=0
).fit(X_train, y_train)
members = [m.score(X_test, y_test) for m in ensemble.estimators_]
print("member accuracies:", np.round(members, 3))
print(f"ensemble accuracy: {ensemble.score(X_test, y_test):.3f}")
