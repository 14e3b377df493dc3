"""``catembed predict --workers N``: the same scoring loop on Ray Data, one predictor per worker.

The work units are the input's Parquet row groups (a CSV is one unit): ``map_batches`` hands
them to N long-lived workers, a callable class that loads the bundle once and reads and scores
its units with ``scoring.plan.score_source``, so the rows, warnings and rejects are those of the
single-process run. Reading inside the workers means no separate Ray read tasks that could be
starved of CPU. Each result travels back as one envelope row (scores and rejects as Arrow IPC
bytes, counts and errors as JSON), so the driver keeps the one atomic writer of the output.

Imported only when ``--workers`` ≥ 2: a one-process run never imports Ray.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from features.errors import CatembedError, DataError, InvalidInput
from features.sources import Source
from features.tally import WarningTally
from scoring.plan import Plan, score_source


def work_units(sources: Sequence[Source]) -> list[dict[str, Any]]:
    """One unit per Parquet row group, with its first row's number in the file (for rejects)."""
    units = []
    for source in sources:
        if source.kind != "parquet":
            units.append({"path": str(source.path), "kind": source.kind, "row_group": -1, "first_row": 0})
            continue
        metadata, first = pq.ParquetFile(source.path).metadata, 0
        for group in range(metadata.num_row_groups):
            units.append({"path": str(source.path), "kind": source.kind, "row_group": group, "first_row": first})
            first += metadata.row_group(group).num_rows
    return units


class ScoringWorker:
    """A Ray Data actor: the bundle is loaded once, in the constructor, then units stream through."""

    def __init__(self, plan: Plan) -> None:
        from features.artifacts import load_bundle
        from scoring.scorer import BatchScorer

        self.plan = plan
        self.scorer = BatchScorer(load_bundle(Path(plan.model_dir), plan.version))

    def __call__(self, units: dict[str, np.ndarray]) -> Iterator[dict[str, np.ndarray]]:
        for path, kind, group, first in zip(units["path"], units["kind"], units["row_group"], units["first_row"], strict=True):
            source = Source(Path(str(path)), str(kind))
            self.scorer.counts = self.scorer.zero_counts()
            try:
                groups = None if int(group) < 0 else [int(group)]
                for what, table in score_source(self.scorer, self.plan, source, groups, int(first)):
                    yield _envelope(what, _ipc(table))
            except CatembedError as exc:
                yield _envelope(
                    "error", json.dumps({"message": exc.message, "field": exc.field, "value": str(exc.value)}).encode()
                )
                return
            yield _envelope("counts", json.dumps(self.scorer.counts.to_dict()).encode())


def score_on_ray(plan: Plan, sources: Sequence[Source], workers: int) -> Iterator[tuple[str, Any]]:
    import ray

    started_here = _connect(workers)
    try:
        context = ray.data.DataContext.get_current()
        context.execution_options.preserve_order = True  # the output rows keep the input's order
        units = work_units(sources)
        cpus = 1.0 if not started_here else min(1.0, (os.cpu_count() or 1) / (workers + 1))
        dataset = ray.data.from_items(units, override_num_blocks=len(units)).map_batches(
            ScoringWorker,
            fn_constructor_args=(plan,),
            batch_size=1,
            batch_format="numpy",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=cpus,
        )
        for row in dataset.iter_rows():
            kind, payload = str(row["kind"]), bytes(row["payload"])
            if kind == "error":
                raise _error(json.loads(payload))
            if kind == "counts":
                yield kind, WarningTally.from_dict(json.loads(payload))
            else:
                yield kind, pa.ipc.open_stream(payload).read_all()
    finally:
        if started_here:
            ray.shutdown()


def _connect(workers: int) -> bool:
    """Join RAY_ADDRESS when set, else start a local cluster sized to this machine; True if local."""
    import ray

    if os.environ.get("RAY_ADDRESS"):
        ray.init(address=os.environ["RAY_ADDRESS"], log_to_driver=False)
        return False
    ray.init(
        num_cpus=max(os.cpu_count() or 1, 1),
        include_dashboard=False,
        log_to_driver=False,
        _temp_dir=os.environ.get("RAY_TMPDIR"),  # else /tmp/ray
    )
    return True


def _envelope(kind: str, payload: bytes) -> dict[str, np.ndarray]:
    holder = np.empty(1, dtype=object)
    holder[0] = payload
    return {"kind": np.asarray([kind]), "payload": holder}


def _ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return bytes(sink.getvalue().to_pybytes())


def _error(facts: dict[str, Any]) -> CatembedError:
    kind = InvalidInput if facts.get("field") not in (None, "data") else DataError
    return kind(facts["message"], field=facts.get("field"), value=facts.get("value"))
