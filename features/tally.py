"""WarningTally: per feature, how many encoded values the model had to paper over.

An ``EncodedBatch`` carries a mask per warning: categories unknown to the vocabulary or missing,
numbers imputed with the training median or clipped to the training range. The service counts
them for ``/metrics`` and ``/model`` (the drift signals), ``catembed predict`` for its summary; both
count here, with ``np.count_nonzero`` over the masks, never row by row.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Self

import numpy as np

if TYPE_CHECKING:
    from features.encoder import EncodedBatch

KINDS = ("unknown", "missing", "imputed", "clipped")


@dataclass
class WarningTally:
    """Rows counted, and per feature the values of each warning kind. Build it with
    ``for_features``: every feature starts at 0, in the encoder's order, which ``count`` relies on."""

    rows: int = 0
    unknown: dict[str, int] = field(default_factory=dict)  # categorical: not in the vocabulary
    missing: dict[str, int] = field(default_factory=dict)  # categorical: null, NaN or blank
    imputed: dict[str, int] = field(default_factory=dict)  # numeric: missing, replaced by the median
    clipped: dict[str, int] = field(default_factory=dict)  # numeric: outside the training range

    @classmethod
    def for_features(cls, categorical: Sequence[str], numeric: Sequence[str]) -> Self:
        cat, num = list(categorical), list(numeric)
        return cls(0, dict.fromkeys(cat, 0), dict.fromkeys(cat, 0), dict.fromkeys(num, 0), dict.fromkeys(num, 0))

    def count(self, batch: EncodedBatch) -> None:
        """Add one encoded batch."""
        self.rows += batch.n_rows
        for name, unknown, missing in zip(self.unknown, batch.unknown, batch.missing, strict=True):
            self.unknown[name] += int(np.count_nonzero(unknown))
            self.missing[name] += int(np.count_nonzero(missing))
        if batch.imputed is not None and batch.clipped is not None:
            imputed, clipped = np.count_nonzero(batch.imputed, axis=0).tolist(), np.count_nonzero(batch.clipped, axis=0).tolist()
            for name, n_imputed, n_clipped in zip(self.imputed, imputed, clipped, strict=True):
                self.imputed[name] += n_imputed
                self.clipped[name] += n_clipped

    def add(self, other: WarningTally) -> None:
        """Add another tally (a Ray worker's)."""
        self.rows += other.rows
        for kind in KINDS:
            mine = getattr(self, kind)
            for name, n in getattr(other, kind).items():
                mine[name] = mine.get(name, 0) + n

    def to_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, **{kind: getattr(self, kind) for kind in KINDS}}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> WarningTally:
        return WarningTally(data["rows"], *(data[kind] for kind in KINDS))
