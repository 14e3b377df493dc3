"""The ``catembed`` command: train, predict, export-embeddings, report, serve.

Heavy imports (TensorFlow, pandas) happen inside the commands that need them, so
``catembed serve`` starts without TensorFlow and ``catembed --help`` is instant.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from features.errors import CatembedError

EXIT_USAGE = 2


def main(argv: list[str] | None = None, *, raise_errors: bool = False) -> int:
    """raise_errors: let a CatembedError propagate (a Ray worker hands it to the driver)."""
    parser = _parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return EXIT_USAGE
    try:
        return int(args.func(args) or 0)
    except CatembedError as exc:
        if raise_errors:
            raise
        print(f"error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def _train(args: argparse.Namespace) -> int:
    if args.workers < 1:
        raise CatembedError(f"--workers must be at least 1, got {args.workers}", field="workers", value=args.workers)
    if args.workers > 1:
        from training.ray_launch import WorkerFailed, train_on_ray  # Ray only when asked for

        try:
            # each worker runs the same command; the last --workers wins (abbreviations included)
            return train_on_ray([*args.argv[1:], "--workers", "1"], args.workers)
        except WorkerFailed as exc:
            print(f"error: training failed: {exc}", file=sys.stderr)
            return 1
    from training.native_log import held_native_log

    with held_native_log(verbose=args.verbose):  # TensorFlow's C++ log lines: only with --verbose or a crash
        from training.cluster import WorkerLost, cluster_from_env, join

        cluster = cluster_from_env()  # a malformed TF_CONFIG fails here, before any work
        if cluster is not None:
            join(cluster)  # before any TensorFlow op: the collective configures the runtime
        try:
            return _train_quietly(args)
        except WorkerLost as exc:  # not bad input (exit 2), and not a crash of ours (a traceback)
            print(f"error: training failed: {exc}", file=sys.stderr)
            return 1


def _train_quietly(args: argparse.Namespace) -> int:
    from training.config import PRESETS
    from training.data import DEMO_DATA, DEMO_SPEC, read_table
    from training.row_source import head_frame
    from training.spec import dump_spec, load_spec, resolve_spec
    from training.stream_trainer import should_stream, train_files
    from training.trainer import train

    if args.demo:
        args.data = args.data or str(DEMO_DATA)
        args.spec = args.spec or str(DEMO_SPEC)
        args.name = args.name or "flights"
    if not args.data:
        raise CatembedError("give the training data with --data PATH (or --demo)", field="data")
    if not args.name:
        raise CatembedError("name the model with --name NAME", field="name")
    from features.artifacts import check_name

    check_name(args.name)
    from training.cluster import cluster_from_env

    # a TF_CONFIG worker always streams: each reads only its share of the files, never the whole table
    streaming = should_stream(args.data, args.stream) or cluster_from_env() is not None
    # streaming: the spec is inferred from the first rows (give --spec or --categorical/--numeric to be explicit)
    frame = head_frame(args.data) if streaming else read_table(args.data)
    spec = resolve_spec(
        frame,
        target=args.target,
        task=args.task,
        categorical=_names(args.categorical),
        numeric=_names(args.numeric),
        embedding_dims=_dims(args.embedding_dims),
        spec=load_spec(args.spec) if args.spec else None,
    )
    print("resolved spec (saved as spec.yaml in the bundle; edit it and pass --spec to train again):")
    print("  " + dump_spec(spec).replace("\n", "\n  ").rstrip())
    config = PRESETS[args.architecture]().with_overrides(
        hidden_units=_ints(args.hidden),
        dropout=_floats(args.dropout),
        l2=args.l2,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        epochs=args.epochs,
        patience=args.patience,
        min_frequency=args.min_frequency,
        max_categories=args.max_categories,
        shrinkage=args.shrinkage,
        valid_fraction=args.valid_fraction,
        class_weight=args.class_weight,
        target_scale=args.target_scale,
        seed=args.seed,
        embedding_dim=args.embedding_dim,
    )
    if streaming:
        train_files(args.data, spec, config, name=args.name, out=args.out, valid=args.valid)
    else:
        valid = read_table(args.valid) if args.valid else None
        train(frame, spec, config, name=args.name, out=args.out, valid=valid, source=str(args.data))
    return 0


def _predict(args: argparse.Namespace) -> int:
    from scoring.run import predict_files  # pyarrow and NumPy only: no TensorFlow

    summary = predict_files(
        args.model_dir,
        args.data,
        Path(args.out),
        version=args.version,
        keep=_names(args.keep) or [],
        on_error=args.on_error,
        batch_rows=args.batch_rows,
        workers=args.workers,
    )
    print("\n".join(summary.lines()))
    return 0


def _export_embeddings(args: argparse.Namespace) -> int:
    from training.embeddings_export import export_embeddings

    written = export_embeddings(Path(args.model_dir), Path(args.out), args.format, args.version)
    for path in written:
        print(path)
    return 0


def _report(args: argparse.Namespace) -> int:
    from training.report_open import locate_report, open_report

    path = locate_report(Path(args.model_dir), args.version)
    why_not = open_report(path) if args.open else None
    print(path)
    if why_not:
        print(f"not opened: {why_not}", file=sys.stderr)
    return 0


def _serve(args: argparse.Namespace) -> int:
    import signal

    import uvicorn

    from app.logs import configure_logging
    from app.settings import load_settings

    # flags win over the environment; the workers uvicorn spawns read the same environment
    flags = (
        ("model_dir", "MODEL_DIR"),
        ("model_repository", "MODEL_REPOSITORY"),
        ("workers", "WORKERS"),
        ("log_level", "LOG_LEVEL"),
    )
    for flag, name in flags:
        if getattr(args, flag) is not None:
            os.environ[f"CATEMBED_{name}"] = str(getattr(args, flag))
    if args.access_log:
        os.environ["CATEMBED_ACCESS_LOG"] = "true"
    settings = load_settings()  # invalid settings: one clear line and exit 2, before anything starts
    configure_logging(settings.log_level, settings.log_format)
    # uvicorn drains in-flight requests on SIGTERM, then re-raises the signal; a drained
    # shutdown is a success, so the re-raised SIGTERM lands here and the exit code is 0
    signal.signal(signal.SIGTERM, lambda *_: None)
    uvicorn.run(
        "app.main:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=settings.workers,
        log_level=settings.log_level,
        log_config=None,  # create_app configures logging (JSON lines by default)
        access_log=False,  # ours is CATEMBED_ACCESS_LOG, with the request id
        timeout_graceful_shutdown=settings.graceful_timeout,
    )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="catembed", description="Entity embeddings for tabular data, trained and served.")
    parser.add_argument("--version", action="version", version=f"catembed {_version()}")
    commands = parser.add_subparsers(dest="command")

    t = commands.add_parser("train", help="train a model and write a versioned bundle")
    t.add_argument(
        "--data", help="training data: a .csv/.tsv/.parquet file, or a folder or glob of Parquet files (streamed from disk)"
    )
    t.add_argument(
        "--valid",
        help="holdout data (same forms as --data); default: a split of --data (stratified, or a row hash when streaming)",
    )
    t.add_argument(
        "--stream",
        action="store_true",
        help="stream --data from disk even when it is one small file (folders, globs and files over 512 MB always stream)",
    )
    t.add_argument("--spec", help="feature spec YAML (target, task, categorical, numeric, embedding_dims)")
    t.add_argument("--target", help="target column")
    t.add_argument("--task", choices=["binary", "multiclass", "regression"], help="default: inferred from the target")
    t.add_argument("--categorical", help="comma-separated categorical columns (default: inferred)")
    t.add_argument("--numeric", help="comma-separated numeric columns (default: inferred)")
    t.add_argument("--embedding-dims", help="per-feature embedding sizes, e.g. carrier=4,dest=8")
    t.add_argument("--embedding-dim", type=int, help="one embedding size for every feature")
    t.add_argument("--name", help="model name: the folder under --out")
    t.add_argument("--out", default="model_artifacts", help="artifact root (default: model_artifacts)")
    t.add_argument(
        "--architecture", choices=["default", "seed"], default="default", help="'seed' reproduces the original write-up's network"
    )
    t.add_argument("--hidden", help="dense layer sizes, e.g. 256,128")
    t.add_argument("--dropout", help="dropout rate, or one per hidden layer")
    t.add_argument("--l2", type=float, help="L2 penalty on hidden kernels")
    t.add_argument("--learning-rate", type=float)
    t.add_argument("--batch-size", type=int)
    t.add_argument("--epochs", type=int, help="upper bound; early stopping restores the best epoch")
    t.add_argument("--patience", type=int, help="epochs without validation improvement before stopping")
    t.add_argument(
        "--min-frequency",
        type=int,
        help="category values seen at least this often get their own vector (default 5); rarer ones train the unknown vector",
    )
    t.add_argument(
        "--max-categories",
        type=int,
        help="keep at most this many values per feature, the most frequent (a memory cap; default: no cap)",
    )
    t.add_argument(
        "--shrinkage",
        type=float,
        help="k of s = n/(n+k): pulls rare values toward the unknown vector (default: 0.5 %% of the rows; 0: off)",
    )
    t.add_argument("--valid-fraction", type=float)
    t.add_argument("--class-weight", choices=["balanced"])
    t.add_argument(
        "--target-scale",
        choices=["auto", "linear", "log"],
        help="regression: learn the target in log space (auto: when ≥ 0 and skewed)",
    )
    t.add_argument("--seed", type=int)
    t.add_argument("--demo", action="store_true", help="train the built-in NYC flights demo")
    t.add_argument("--verbose", action="store_true", help="also show TensorFlow's own log lines")
    t.add_argument(
        "--workers",
        type=int,
        default=1,
        help="N ≥ 2: train on N Ray workers (RAY_ADDRESS, else a local cluster); docs/distributed.md",
    )
    t.set_defaults(func=_train)

    p = commands.add_parser("predict", help="score Parquet or CSV files with a model, into a Parquet file")
    p.add_argument("model_dir", help="model_artifacts/<name>")
    p.add_argument("--data", required=True, help="a Parquet file, a folder or glob of Parquet files, or a CSV")
    p.add_argument("--out", required=True, help="output .parquet (written whole or not at all)")
    p.add_argument("--version", type=int, help="default: the newest")
    p.add_argument("--keep", help="comma-separated input columns to copy into the output (e.g. an id)")
    p.add_argument("--workers", type=int, default=1, help="N ≥ 2: score on Ray Data (RAY_ADDRESS, else a local cluster)")
    p.add_argument("--on-error", choices=["stop", "skip"], default="stop", help="skip: bad rows go to OUT.rejects.parquet")
    p.add_argument("--batch-rows", type=int, default=65_536, help="rows per record batch (bounds memory)")
    p.set_defaults(func=_predict)

    e = commands.add_parser("export-embeddings", help="write every feature's embedding table")
    e.add_argument("model_dir", help="model_artifacts/<name>")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--format", choices=["parquet", "csv", "projector"], default="parquet")
    e.add_argument("--version", type=int, help="default: the newest")
    e.set_defaults(func=_export_embeddings)

    r = commands.add_parser("report", help="print the path of a bundle's training report (report.html), or open it")
    r.add_argument("model_dir", help="model_artifacts/<name>")
    r.add_argument("--version", type=int, help="default: the newest")
    r.add_argument("--open", action="store_true", help="open it in a web browser when one is available")
    r.set_defaults(func=_report)

    s = commands.add_parser("serve", help="serve a model over HTTP (uvicorn)")
    s.add_argument("--model-dir", help="model_artifacts/<name> (default: CATEMBED_MODEL_DIR)")
    s.add_argument("--model-repository", help="serve every model under this folder (default: CATEMBED_MODEL_REPOSITORY)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, help="default: CATEMBED_WORKERS or 1")
    s.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="default: CATEMBED_LOG_LEVEL or info")
    s.add_argument("--access-log", action="store_true", help="log every request (CATEMBED_ACCESS_LOG)")
    s.set_defaults(func=_serve)
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("catembed")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def _names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def _ints(text: str | None) -> tuple[int, ...] | None:
    return None if text is None else tuple(int(x) for x in text.split(","))


def _floats(text: str | None) -> tuple[float, ...] | None:
    return None if text is None else tuple(float(x) for x in text.split(","))


def _dims(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    dims = {}
    for item in text.split(","):
        name, _, size = item.partition("=")
        if not size.strip().isdigit():
            raise CatembedError(f"--embedding-dims expects name=size pairs, got {item!r}", field="embedding-dims", value=item)
        dims[name.strip()] = int(size)
    return dims


if __name__ == "__main__":
    sys.exit(main())
