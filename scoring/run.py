"""``catembed predict``: score files with a bundle, in one process or on Ray, and summarise.

One loop, shared by both, scores a file (``scoring.plan.score_source``); this module checks the
inputs, runs it here or on Ray (``scoring.distributed``) and writes what it yields: output and
rejects atomically (``scoring.output``).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from pathlib import Path

import pyarrow as pa

from features.artifacts import load_bundle
from features.errors import DataError
from features.sources import Source, check_columns, resolve, schema
from features.tally import WarningTally
from scoring import rejects as rejects_
from scoring.output import AtomicParquet
from scoring.plan import Plan, score_source
from scoring.scorer import BatchScorer
from scoring.summary import Summary

ON_ERROR = ("stop", "skip")


def rejects_path(out: Path) -> Path:
    return out.with_name(out.name.removesuffix(".parquet") + ".rejects.parquet")


def prepare(
    model_dir: str, data: str, out: Path, *, version: int | None, keep: Sequence[str], on_error: str, batch_rows: int
) -> tuple[Plan, BatchScorer, list[Source]]:
    """Load the bundle and check every input file's columns before anything is written."""
    if on_error not in ON_ERROR:
        raise DataError(f"--on-error is {on_error!r}; choose stop or skip", field="on-error", value=on_error)
    if batch_rows < 1:
        raise DataError("--batch-rows must be at least 1", field="batch-rows", value=batch_rows)
    if not out.parent.is_dir():
        raise DataError(f"the folder of --out {out.parent} does not exist", field="out", value=str(out))
    bundle = load_bundle(Path(model_dir), version)
    scorer = BatchScorer(bundle)
    sources = resolve(data)
    outputs = [f.name for f in scorer.output_fields]
    clash = [name for name in keep if name in outputs]
    if clash:
        raise DataError(
            f"--keep {clash[0]!r} clashes with a prediction column ({', '.join(outputs)})", field="keep", value=clash[0]
        )
    written = {out.resolve(), rejects_path(out).resolve()}
    if any(source.path.resolve() in written for source in sources):
        raise DataError(f"--out {out} is one of the input files; write it elsewhere", field="out", value=str(out))
    kept: pa.Schema | None = None
    for source in sources:
        found = schema(source, scorer.features)
        check_columns(source, found, scorer.features, "the model needs")
        check_columns(source, found, keep, "--keep asks for")
        kept = kept or pa.schema([found.field(name) for name in keep])
    assert kept is not None
    plan = Plan(str(model_dir), bundle.version, list(keep), pa.schema([*kept, *scorer.output_fields]), on_error, batch_rows)
    return plan, scorer, sources


def predict_files(
    model_dir: str,
    data: str,
    out: Path,
    *,
    version: int | None = None,
    keep: Sequence[str] = (),
    on_error: str = "stop",
    batch_rows: int = 65_536,
    workers: int = 1,
) -> Summary:
    out = Path(out)
    plan, scorer, sources = prepare(model_dir, data, out, version=version, keep=keep, on_error=on_error, batch_rows=batch_rows)
    started, cpu = time.perf_counter(), time.process_time()  # the scoring itself: not the bundle's load
    try:
        counts, rejects = _write(plan, scorer, sources, out, workers)
    except OSError as exc:  # a full disk, a read-only folder: one line, and nothing half-written
        raise DataError(f"could not write {out}: {exc}", field="out", value=str(out)) from None
    cpu_seconds = time.process_time() - cpu if workers == 1 else None  # Ray's workers are other processes
    return Summary(out, len(sources), counts, rejects, time.perf_counter() - started, workers, cpu_seconds)


def _write(plan: Plan, scorer: BatchScorer, sources: list[Source], out: Path, workers: int) -> tuple[WarningTally, int]:
    with ExitStack() as stack:
        writer = stack.enter_context(AtomicParquet(out, plan.schema))
        rejected = stack.enter_context(AtomicParquet(rejects_path(out), rejects_.SCHEMA)) if plan.on_error == "skip" else None
        if workers > 1:
            from scoring.distributed import score_on_ray  # Ray only when asked for

            stream = score_on_ray(plan, sources, workers)
        else:
            from threadpoolctl import threadpool_limits

            stack.enter_context(threadpool_limits(limits=1, user_api="blas"))  # one core per process; scale with --workers
            stream = (item for source in sources for item in score_source(scorer, plan, source))
        counts = scorer.counts
        for kind, table in stream:
            if kind == "scores":
                writer.write(table)
            elif kind == "rejects" and rejected is not None:
                rejected.write(table)
            elif kind == "counts":
                counts.add(table)  # a worker's tally
        if rejected is not None:
            rejected.commit()
        writer.commit()
    return counts, rejected.rows if rejected else 0
