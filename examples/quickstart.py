"""
Quick start: sknn as a drop-in for scikit-learn's MLP
=====================================================

Three real data sets bundled with scikit-learn, three everyday jobs:

* breast cancer: 5-fold cross-validation of a ``Pipeline(StandardScaler(), MLPClassifier())``,
  next to scikit-learn's own MLP;
* handwritten digits: dropout and early stopping on a stratified, seeded validation
  split, with the per-epoch validation curve scikit-learn's MLP does not record;
* diabetes: regression on raw targets in the hundreds, which sknn scales for you.

Needs about a minute of CPU time (58 s measured on a 2-core machine; wall time grows
when other work shares the cores), printing each step as it starts.
"""

# %%
# Cross-validation in a pipeline: change the import, keep the code
# ------------------------------------------------------------------
import time
import warnings

from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import cross_val_score, train_test_split
from sklearn.neural_network import MLPClassifier as SklearnMLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sknn import MLPClassifier, MLPRegressor

warnings.simplefilter("ignore", ConvergenceWarning)

print("Quick start: three data sets, three everyday jobs.", flush=True)
X, y = load_breast_cancer(return_X_y=True)
for name, clf in [
    ("sknn.MLPClassifier", MLPClassifier(random_state=0)),
    ("sklearn MLPClassifier", SklearnMLPClassifier(random_state=0)),
]:
    print(f"breast_cancer  {name}: 5-fold cross-validation ...", flush=True)
    tic = time.perf_counter()
    scores = cross_val_score(make_pipeline(StandardScaler(), clf), X, y, cv=5)
    print(
        f"breast_cancer  {name:<22} accuracy {scores.mean():.3f} +- {scores.std():.3f}"
        f"  ({time.perf_counter() - tic:.1f} s)"
    )

# %%
# Dropout, early stopping and the validation curve
# ------------------------------------------------
print("digits         dropout and early stopping, up to 300 epochs ...", flush=True)
X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X / 16.0, y, stratify=y, random_state=0
)
clf = MLPClassifier(
    hidden_layer_sizes=(256, 128),
    dropout=0.2,
    early_stopping=True,
    n_iter_no_change=10,
    max_iter=300,
    random_state=0,
).fit(X_train, y_train)
print(
    f"digits         stopped after {clf.n_iter_} epochs, best validation accuracy "
    f"{clf.best_validation_score_:.3f}, test accuracy {clf.score(X_test, y_test):.3f}"
)
last = clf.history_[-1]
print(
    f"               last epoch: train_loss {last['train_loss']:.4f}, "
    f"valid_loss {last['valid_loss']:.4f}, on {clf.device_}"
)

# %%
# Regression on raw targets
# -------------------------
print("diabetes       5-fold cross-validation of a regressor ...", flush=True)
X, y = load_diabetes(return_X_y=True)
reg = make_pipeline(StandardScaler(), MLPRegressor(random_state=0))
r2 = cross_val_score(reg, X, y, cv=5, scoring="r2")
print(
    f"diabetes       5-fold R2 {r2.mean():.3f} (targets range {y.min():.0f}-{y.max():.0f})"
)
