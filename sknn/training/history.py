"""Per-epoch training records."""

from __future__ import annotations

from typing import Any


class History(list):
    """A list of per-epoch records (dicts) that can also be read by column.

    Each record holds ``epoch``, ``train_loss``, ``lr``, ``dur`` (seconds) and, when a
    validation set is used, ``valid_loss`` and ``valid_score``; callbacks may add keys.

    Examples
    --------
    >>> from sknn.training import History
    >>> h = History([{"epoch": 1, "train_loss": 0.9}, {"epoch": 2, "train_loss": 0.5}])
    >>> h["train_loss"]
    [0.9, 0.5]
    >>> h[-1]["epoch"]
    2
    """

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return [record.get(key) for record in self]
        result = super().__getitem__(key)
        return History(result) if isinstance(key, slice) else result

    def keys(self) -> list[str]:
        """Return every key recorded in at least one epoch, in first-seen order."""
        seen: dict[str, None] = {}
        for record in self:
            seen.update(dict.fromkeys(record))
        return list(seen)
