"""A Parquet file that appears under its name complete, or not at all.

Batches go to a hidden temporary file in the same folder (so the final rename stays on one
filesystem and is atomic); ``commit`` closes, fsyncs and renames it. An error removes the
temporary file; a killed run leaves it hidden, and the next run in that folder deletes it once
its writer's process is gone.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from types import TracebackType

import pyarrow as pa
import pyarrow.parquet as pq

_TMP_MARK = ".tmp-"


class AtomicParquet:
    def __init__(self, path: Path, schema: pa.Schema) -> None:
        self.path = Path(path)
        self.schema = schema
        self.tmp = self.path.with_name(f".{self.path.name}{_TMP_MARK}{os.getpid()}-{uuid.uuid4().hex[:8]}")
        self.rows = 0
        remove_abandoned(self.path)
        self._writer: pq.ParquetWriter | None = pq.ParquetWriter(self.tmp, schema)

    def write(self, table: pa.Table) -> None:
        assert self._writer is not None, "written after commit or abort"
        self._writer.write_table(table)
        self.rows += table.num_rows

    def commit(self) -> None:
        assert self._writer is not None, "committed twice"
        self._writer.close()
        self._writer = None
        with open(self.tmp, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(self.tmp, self.path)
        fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def abort(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()
            finally:
                self._writer = None
                self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> AtomicParquet:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.abort()  # after commit, a no-op


def remove_abandoned(path: Path) -> None:
    """Delete temporary files of earlier writes to ``path`` whose process no longer exists."""
    for tmp in Path(path).parent.glob(f".{Path(path).name}{_TMP_MARK}*"):
        try:
            pid = int(tmp.name.rsplit(_TMP_MARK, 1)[1].split("-")[0])
            os.kill(pid, 0)
        except ProcessLookupError:
            tmp.unlink(missing_ok=True)
        except (ValueError, PermissionError):
            continue
