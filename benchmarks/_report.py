"""What every benchmark script does last: write its report as JSON and say where."""

from __future__ import annotations

import json
import os


def write_report(report: dict, path: str) -> dict:
    """Write ``report`` as indented JSON to ``path`` (creating its folder), say so,
    and return it."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as fh:
        json.dump(report, fh, indent=2)
    print(f"JSON written to {path}")
    return report
