"""
=================================
Tuning an MLP with Optuna pruning
=================================

:class:`sknn.model_selection.OptunaSearchCV` tunes an :class:`sknn.MLPClassifier`
on the digits data set. Every fold reports its validation accuracy after every
epoch, and Optuna's median pruner stops the trials that fall behind, so the
search spends its epochs on the promising ones. The study is an ordinary Optuna
study: we plot its history and the per-epoch curves of every trial.
"""

# %%
# Data and search
# ---------------
# The search space is the estimator's default one (learning rate, weight decay,
# batch size, dropout, layer sizes, activation); only the epoch budget is ours.
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
import optuna
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, train_test_split

from sknn import MLPClassifier
from sknn.model_selection import OptunaSearchCV, default_search_space

warnings.simplefilter("ignore", ConvergenceWarning)
X, y = load_digits(return_X_y=True)
X = (X / 16.0).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, train_size=600, random_state=0, stratify=y
)

mlp = MLPClassifier(max_iter=15, random_state=0, device="cpu")
print(sorted(default_search_space(mlp)))

# %%
# The study lives in an SQLite file: another process could join it with the same
# ``storage`` and ``study_name`` (and ``load_if_exists=True``) and share the trials.
folder = tempfile.mkdtemp()
search = OptunaSearchCV(
    mlp,
    n_trials=12,
    cv=StratifiedKFold(3, shuffle=True, random_state=0),
    pruner=optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=3),
    random_state=0,
    storage=f"sqlite:///{folder}/tuning.db",
    study_name="digits-mlp",
)
search.fit(X_train, y_train)
print("best parameters:", search.best_params_)
print(f"best CV accuracy: {search.best_score_:.3f}")
print(f"test accuracy:    {search.score(X_test, y_test):.3f}")
print(
    f"{search.n_trials_} trials completed, {search.n_pruned_trials_} pruned, "
    f"{search.n_epochs_} epochs trained (without pruning: "
    f"{len(search.study_.trials) * 3 * mlp.max_iter} at most)"
)

# %%
# ``cv_results_`` reads as in scikit-learn's searches.
import pandas as pd

columns = ["trial_number", "mean_test_score", "std_test_score", "rank_test_score"]
pd.DataFrame(search.cv_results_)[columns].sort_values("rank_test_score").head()

# %%
# Seeing the search
# -----------------
# Optuna's matplotlib plots work on ``search.study_`` (so does ``optuna-dashboard``
# on the SQLite file). The intermediate values are the mean fold accuracies after
# each epoch; the pruned trials stop early.
fig, ax = plt.subplots(figsize=(7, 4))
for trial in search.study_.trials:
    steps = sorted(trial.intermediate_values)
    values = [trial.intermediate_values[s] for s in steps]
    pruned = trial.state == optuna.trial.TrialState.PRUNED
    ax.plot(
        np.array(steps) + 1,
        values,
        color="tab:red" if pruned else "tab:blue",
        alpha=0.6,
        label="pruned" if pruned else "completed",
    )
handles, labels = ax.get_legend_handles_labels()
unique = dict(zip(labels, handles))
ax.legend(unique.values(), unique.keys())
ax.set_xlabel("epoch")
ax.set_ylabel("mean fold validation accuracy")
ax.set_title("Per-epoch scores of each trial")
plt.tight_layout()

# %%
with warnings.catch_warnings():
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    optuna.visualization.matplotlib.plot_optimization_history(search.study_)
plt.tight_layout()
plt.show()
