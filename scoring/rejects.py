"""Finding the rows of a batch that cannot be scored, and what is wrong with each.

Only a batch that failed its vectorised conversion comes here, so the per-row Python loop costs
nothing on clean data. Each bad row is reported once, for its first bad field in feature order.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from features import cells
from features.errors import InvalidInput

SCHEMA = pa.schema(
    [
        pa.field("file", pa.string()),
        pa.field("row", pa.int64()),  # 0-based data row within the file (a CSV's header is not a row)
        pa.field("field", pa.string()),
        pa.field("reason", pa.string()),
        pa.field("value", pa.string()),
    ]
)


@dataclass(frozen=True)
class Reject:
    file: str
    row: int
    field: str
    reason: str
    value: str

    def error(self) -> InvalidInput:
        """The one line that stops a run on its first bad row: the row counted from 1, and a CSV's line."""
        return InvalidInput(
            f"{cells.where(self.file, self.row)}, field {self.field!r}: {self.reason}", field=self.field, value=self.value
        )


def find(batch: pa.RecordBatch, categorical: Sequence[str], numeric: Sequence[str], file: str, first_row: int) -> list[Reject]:
    """Every row of the batch that the scorer cannot take, with its first bad field."""
    found: dict[int, Reject] = {}
    for name in [*categorical, *numeric]:
        check = _category_problem if name in categorical else cells.number_problem
        for i, value in enumerate(batch.column(name).to_pylist()):
            if i in found:
                continue
            problem = check(value)
            if problem is not None:
                found[i] = Reject(file, first_row + i, name, problem, _shown(value))
    return [found[i] for i in sorted(found)]


def table(rejects: Sequence[Reject]) -> pa.Table:
    columns = {name: [getattr(r, name) for r in rejects] for name in SCHEMA.names}
    return pa.Table.from_pydict(columns, schema=SCHEMA)


def _category_problem(value: Any) -> str | None:
    problem = cells.category_problem(value)
    return None if problem is None else f"{problem}; expected {cells.CATEGORY_EXPECTED}"


def _shown(value: Any, limit: int = 200) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[:limit] + f"… ({len(text)} chars)"
