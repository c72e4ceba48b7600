"""Model selection: Optuna search and default search spaces.

Examples
--------
>>> from sknn.model_selection import OptunaSearchCV, default_search_space
"""

from sknn.model_selection._optuna import OptunaSearchCV
from sknn.model_selection._spaces import decode_params, default_search_space

__all__ = ["OptunaSearchCV", "decode_params", "default_search_space"]
