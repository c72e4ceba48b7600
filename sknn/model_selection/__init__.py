"""Model selection: Optuna search and default search spaces.

Examples
--------
>>> from sknn.model_selection import OptunaSearchCV, default_search_space
"""

from sknn.model_selection._optuna import OptunaSearchCV
from sknn.model_selection._spaces import decode_params, default_search_space
from sknn.model_selection._stacking import fit_stacked
from sknn.model_selection._vectorized import (
    GridSearchCV,
    RandomizedSearchCV,
    cross_val_score,
    cross_validate,
)

__all__ = [
    "GridSearchCV",
    "OptunaSearchCV",
    "RandomizedSearchCV",
    "cross_val_score",
    "cross_validate",
    "decode_params",
    "default_search_space",
    "fit_stacked",
]
