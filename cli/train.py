"""``catembed train``: check the options, then train here, on Ray workers (``--workers N``) or as
one TF_CONFIG worker; TensorFlow is imported only once the options are known to be usable."""

from __future__ import annotations

import argparse
import glob
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from cli.parser import dims, floats, ints, names
from features.errors import CatembedError, DataError
from training import tracking

_HEAD_BYTES = 1 << 20  # a text table's first MB: its header and a row, or it is a header of that size

if TYPE_CHECKING:
    from training.loop.config import TrainConfig


def train_command(args: argparse.Namespace) -> int:
    tracking.check(args.mlflow, args.register)  # MLflow asked for but not installed: refused before any training
    if args.workers < 1:
        raise CatembedError(f"--workers must be at least 1, got {args.workers}", field="workers", value=args.workers)
    _demo_defaults(args)
    if not args.data:
        raise CatembedError("give the training data with --data PATH (or --demo)", field="data")
    if not args.name:
        raise CatembedError("name the model with --name NAME", field="name")
    from features.artifacts import check_name
    from training.data.training_data import DataRoute, should_stream
    from training.loop.compatibility import check_compatible

    check_name(args.name)
    config = _config(args)  # the settings are checked before anything is read
    check_inputs(args)
    if args.out_of_fold:
        from training.loop.out_of_fold import check_folds, check_output

        check_folds(args.folds)  # before any training: a refused option costs nothing
        check_output(Path(args.out_of_fold))
    if args.workers > 1:
        # every Ray worker is a TF_CONFIG worker, and those stream their share of the files
        check_compatible(config, DataRoute(True, bool(args.valid)), args.workers, out_of_fold=bool(args.out_of_fold))
        from training.distributed.ray_launch import WorkerFailed, train_on_ray  # Ray only when asked for

        try:
            # each worker runs the same command; the last --workers wins (abbreviations included)
            return train_on_ray([*args.argv[1:], "--workers", "1"], args.workers, args.entry)
        except WorkerFailed as exc:
            print(f"error: training failed: {exc}", file=sys.stderr)
            return 1
    from cli.native_log import held_native_log

    step("loading TensorFlow")
    with held_native_log(verbose=args.verbose):  # TensorFlow's C++ log lines: only with --verbose or a crash
        from training.distributed.cluster import WorkerLost, cluster_from_env, join

        cluster = cluster_from_env()  # a malformed TF_CONFIG fails here, before any work
        # a TF_CONFIG worker always streams: each reads only its share of the files, never the whole table
        route = DataRoute(should_stream(args.data, args.stream) or cluster is not None, bool(args.valid))
        workers = cluster.workers if cluster is not None else 1
        check_compatible(config, route, workers, out_of_fold=bool(args.out_of_fold))  # before joining: the others would wait
        if cluster is not None:
            join(cluster)  # before any TensorFlow op: the collective configures the runtime
        try:
            return _train_here(args, config, route.streamed)
        except WorkerLost as exc:  # not bad input (exit 2), and not a crash of ours (a traceback)
            print(f"error: training failed: {exc}", file=sys.stderr)
            return 1


def check_inputs(args: argparse.Namespace) -> None:
    """Refuse a path that does not exist and a table without rows before TensorFlow and pandas are
    imported: that takes seconds, this takes milliseconds (docs/training.md)."""
    for option in ("data", "valid", "spec"):
        given = getattr(args, option, None)
        if not given:
            continue
        path = Path(given)
        if path.is_dir():
            continue
        if not path.exists():
            if option != "spec" and glob.has_magic(given):
                if not glob.glob(given, recursive=True):
                    raise DataError(f"{option} pattern {given!r} matches no file", field=option, value=given)
                continue
            raise DataError(f"{option} {given} does not exist", field=option, value=given)
        if option != "spec" and not _has_rows(path):
            raise DataError(f"{given} has no rows", field=option, value=given)


def step(what: str) -> None:
    """One line before a step that takes seconds, shown at once also when stdout is a pipe (make run, CI logs)."""
    print(f"{what} …", flush=True)


def _has_rows(path: Path) -> bool:
    """False for an empty file, a text table with a header and nothing else, and a Parquet file of
    0 rows; True when unsure (a header longer than what is read, an unreadable footer, an unknown
    format: the reader says why)."""
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".tsv", ".txt", ".parquet", ".pq"):
        return True  # a format catembed does not read: the reader names it
    if path.stat().st_size == 0:
        return False
    if suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq  # a fraction of a second, and only its footer is read

        try:
            return bool(pq.read_metadata(path).num_rows)
        except (OSError, ValueError):  # Arrow's errors are these too
            return True
    with path.open("rb") as file:
        head = file.read(_HEAD_BYTES)
    return len(head) == _HEAD_BYTES or sum(1 for line in head.splitlines() if line.strip()) >= 2


def _demo_defaults(args: argparse.Namespace) -> None:
    if not args.demo:
        return
    from training.data.tables import DEMO_DATA, DEMO_HIDDEN, DEMO_SPEC

    args.data = args.data or str(DEMO_DATA)
    args.spec = args.spec or str(DEMO_SPEC)
    args.name = args.name or "flights"
    if args.architecture == "default":  # the seed preset keeps its own 88-128
        args.hidden = args.hidden or ",".join(map(str, DEMO_HIDDEN))


def _config(args: argparse.Namespace) -> TrainConfig:
    from training.loop.config import PRESETS

    return PRESETS[args.architecture]().with_overrides(
        hidden_units=ints(args.hidden),
        dropout=floats(args.dropout),
        input_dropout=args.input_dropout,
        l2=args.l2,
        embedding_dim=args.embedding_dim,
        embedding_cap=args.embedding_cap,
        learning_rate=args.learning_rate,
        lr_factor=args.lr_factor,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=args.patience,
        min_frequency=args.min_frequency,
        max_categories=args.max_categories,
        shrinkage=args.shrinkage,
        deviation_l2=args.deviation_l2,
        fold_k=args.fold_k,
        valid_fraction=args.valid_fraction,
        class_weight=args.class_weight,
        target_scale=args.target_scale,
        numeric_encoding=args.numeric_encoding,
        plr_sigma=args.plr_sigma,
        plr_step_sigma=args.plr_step_sigma,
        ensemble=args.ensemble,
        batch_ensemble=args.batch_ensemble,
        ensemble_holdout=args.ensemble_holdout,
        weight_average=args.weight_average,
        seed=args.seed,
    )


def _train_here(args: argparse.Namespace, config: TrainConfig, streaming: bool) -> int:
    from training.data.row_source import head_frame
    from training.data.spec import dump_spec, load_spec, resolve_spec
    from training.data.tables import read_table
    from training.loop.trainer import train, train_files

    # streaming: the spec is inferred from the first rows (give --spec or --categorical/--numeric to be explicit)
    step(f"reading {args.data}")
    frame = head_frame(args.data) if streaming else read_table(args.data)
    spec = resolve_spec(
        frame,
        target=args.target,
        task=args.task,
        categorical=names(args.categorical),
        numeric=names(args.numeric),
        embedding_dims=dims(args.embedding_dims),
        spec=load_spec(args.spec) if args.spec else None,
    )
    if args.out_of_fold:
        from training.loop.out_of_fold import check_spec

        check_spec(spec)  # before training, not after it
    print("resolved spec (saved as spec.yaml in the bundle; edit it and pass --spec to train again):")
    print("  " + dump_spec(spec).replace("\n", "\n  ").rstrip())
    if streaming:
        result = train_files(args.data, spec, config, name=args.name, out=args.out, valid=args.valid)
    else:
        valid = read_table(args.valid) if args.valid else None
        result = train(frame, spec, config, name=args.name, out=args.out, valid=valid, source=str(args.data))
        if args.out_of_fold:
            from training.loop.out_of_fold import out_of_fold_features

            crossed = out_of_fold_features(frame, spec, config, result.path, folds=args.folds, valid=valid)
            crossed.save(Path(args.out_of_fold))
            print(f"out-of-fold vectors of {len(crossed.rows):,} rows × {len(crossed.names)} columns: {args.out_of_fold}")
    if result is not None and tracking.requested(args.mlflow, args.register):  # None: a TF_CONFIG worker that wrote nothing
        from scoring.mlflow_model import log_model  # mlflow only now

        tracking.track(result.path, args.mlflow, args.register, log_model)
    return 0
