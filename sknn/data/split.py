"""Seeded, stratified train / validation splits."""

from __future__ import annotations

import numpy as np
from sklearn.model_selection import train_test_split


def validation_split(
    n_samples: int,
    fraction: float,
    *,
    stratify: np.ndarray | None = None,
    random_state=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Split row indices into training and validation parts.

    Parameters
    ----------
    n_samples : int
        Number of rows.
    fraction : float
        Share of rows held out, in (0, 1).
    stratify : ndarray, optional
        Class indices to stratify on (single-output classification). Ignored, with an
        unstratified split, when some class has fewer than two members.
    random_state : int, RandomState or None
        Seed of the split.

    Returns
    -------
    train_idx, valid_idx : ndarray of int

    Raises
    ------
    ValueError
        If either part would be empty.

    Examples
    --------
    >>> import numpy as np
    >>> from sknn.data import validation_split
    >>> tr, va = validation_split(10, 0.2, stratify=np.array([0, 1] * 5), random_state=0)
    >>> len(tr), len(va)
    (8, 2)
    """
    n_valid = int(np.ceil(fraction * n_samples))
    if n_valid < 1 or n_samples - n_valid < 1:
        raise ValueError(
            f"validation_fraction={fraction} leaves an empty training or validation set "
            f"with n_samples={n_samples}; use more samples or another fraction."
        )
    if stratify is not None:
        _, counts = np.unique(stratify, return_counts=True)
        if counts.min() < 2 or n_valid < len(counts):
            stratify = None
    idx = np.arange(n_samples)
    train_idx, valid_idx = train_test_split(
        idx, test_size=n_valid, stratify=stratify, random_state=random_state
    )
    return np.sort(train_idx), np.sort(valid_idx)
