"""Write the model files of ``tests/test_legacy_files.py`` with the sknn on the path.

Run from the repository root, with the sknn whose files are to be kept::

    python tests/data/make_legacy_models.py <commit id of that sknn>

It fits every case, saves it with ``sknn.save`` and records its predictions in
``tests/data/legacy_models/expected.json``.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
ATTRIBUTES = ("n_iter_", "n_outputs_", "out_activation_", "n_features_in_")


def main(commit: str) -> None:
    import torch

    import sknn

    sys.path.insert(0, str(HERE.parent))
    from test_legacy_files import CASES, EST_KW, LEGACY, _outputs

    LEGACY.mkdir(parents=True, exist_ok=True)
    cases = {}
    for name, make in CASES.items():
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est, X = make(EST_KW)
        sknn.save(est, LEGACY / f"{name}.sknn")
        out = _outputs(est, X)
        out["estimator"] = type(est).__name__
        out["attributes"] = {
            a: np.asarray(getattr(est, a)).tolist() for a in ATTRIBUTES
        }
        if hasattr(est, "classes_"):
            out["attributes"]["classes_"] = np.asarray(est.classes_).tolist()
        cases[name] = out
    meta = {
        "commit": commit,
        "sknn": sknn.__version__,
        "torch": torch.__version__,
        "cases": cases,
    }
    (LEGACY / "expected.json").write_text(json.dumps(meta, indent=0) + "\n")


if __name__ == "__main__":
    main(sys.argv[1])
