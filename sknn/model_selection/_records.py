"""Per-trial cross-validation results stored as JSON in the trial's user attributes.

Every worker of a study writes its trials' fold scores there, so any worker can
build ``cv_results_`` over the whole study with scikit-learn's own formatting.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import rankdata

CV_ATTR = "sknn:cv"
PRUNED_KEY = "pruned"  # in a record: scores reached before the trial was pruned
FAILED_KEY = "failed"  # in a record: the trial is failed by its own worker


def _float(v) -> float:
    return float(v) if v is not None else float("nan")


def _scores(value, names: list[str] | None) -> dict[str, float]:
    if isinstance(value, dict):
        return {k: _float(v) for k, v in value.items()}
    return {n: _float(value) for n in names or ["score"]}


def to_record(outs: list[dict], names: list[str] | None) -> dict:
    """Per-fold results as JSON for the trial's user attributes."""
    if names is None:
        first = next((o["test_scores"] for o in outs if o["fit_error"] is None), None)
        if isinstance(first, dict):
            names = list(first)
    tests = [_scores(o["test_scores"], names) for o in outs]
    record = {
        "test": {k: [t[k] for t in tests] for k in tests[0]},
        "fit_time": [float(o["fit_time"]) for o in outs],
        "score_time": [float(o["score_time"]) for o in outs],
        "n_test_samples": [int(o["n_test_samples"]) for o in outs],
        "fit_error": [o["fit_error"] for o in outs],
    }
    if "train_scores" in outs[0]:
        trains = [_scores(o["train_scores"], list(tests[0])) for o in outs]
        record["train"] = {k: [t[k] for t in trains] for k in trains[0]}
    return record


def from_record(record: dict, n_splits: int, number: int) -> list[dict]:
    """The per-fold dicts of ``_fit_and_score`` back from a stored record."""
    if len(record["fit_time"]) != n_splits:
        raise ValueError(
            f"Trial {number} of the study was cross-validated with "
            f"{len(record['fit_time'])} splits, this search with {n_splits}: every "
            "worker of a study must use the same cv."
        )
    outs = []
    for k in range(n_splits):
        out = {
            "test_scores": {n: v[k] for n, v in record["test"].items()},
            "fit_time": record["fit_time"][k],
            "score_time": record["score_time"][k],
            "n_test_samples": record["n_test_samples"][k],
            "fit_error": record["fit_error"][k],
        }
        if "train" in record:
            out["train_scores"] = {n: v[k] for n, v in record["train"].items()}
        outs.append(out)
    return outs


def rank_finished_first(means, pruned) -> np.ndarray:
    """scikit-learn's ranks of ``means`` (1 is best; ties share the lowest rank; NaN
    last) among the finished trials, then among the pruned ones after them."""
    means = np.asarray(means, dtype=np.float64)
    pruned = np.asarray(pruned, dtype=bool)
    ranks = np.zeros(len(means), dtype=np.int32)
    offset = 0
    for rows in (np.flatnonzero(~pruned), np.flatnonzero(pruned)):
        if not len(rows):
            continue
        values = means[rows]
        if np.isnan(values).all():
            ranks[rows] = offset + 1
        else:
            values = np.nan_to_num(values, nan=np.nanmin(values) - 1)
            ranks[rows] = offset + rankdata(-values, method="min")
        offset += len(rows)
    return ranks
