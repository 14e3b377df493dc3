"""The ``catembed`` command: train, predict, export-embeddings, report, serve, upgrade-bundle.

Heavy imports (TensorFlow, pandas) happen inside the commands that need them, so
``catembed serve`` starts without TensorFlow and ``catembed --help`` is instant.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cli.parser import build_parser, names
from features.errors import CatembedError

EXIT_USAGE = 2


def main(argv: list[str] | None = None, *, raise_errors: bool = False) -> int:
    """raise_errors: let a CatembedError propagate (a Ray worker hands it to the driver)."""
    parser = command_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.entry = main  # what a Ray worker runs: this command again (training never imports the CLI)
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


def _predict(args: argparse.Namespace) -> int:
    from scoring.run import predict_files  # pyarrow and NumPy only: no TensorFlow

    summary = predict_files(
        args.model_dir,
        args.data,
        Path(args.out),
        version=args.version,
        keep=names(args.keep) or [],
        on_error=args.on_error,
        batch_rows=args.batch_rows,
        workers=args.workers,
    )
    print("\n".join(summary.lines()))
    return 0


def _export_embeddings(args: argparse.Namespace) -> int:
    from training.export.embeddings import export_embeddings

    written = export_embeddings(Path(args.model_dir), Path(args.out), args.format, args.version)
    for path in written:
        print(path)
    return 0


def _report(args: argparse.Namespace) -> int:
    from cli.report_open import locate_report, open_report

    path = locate_report(Path(args.model_dir), args.version)
    why_not = open_report(path) if args.open else None
    print(path)
    if why_not:
        print(f"not opened: {why_not}", file=sys.stderr)
    return 0


def command_parser() -> argparse.ArgumentParser:
    from cli.export import export_command
    from cli.serve import serve_command
    from cli.train import train_command
    from cli.upgrade_bundle import upgrade_command

    handlers = {
        "train": train_command,
        "predict": _predict,
        "export-embeddings": _export_embeddings,
        "report": _report,
        "serve": serve_command,
        "upgrade-bundle": upgrade_command,
        "export": export_command,
    }
    return build_parser(handlers)


if __name__ == "__main__":
    sys.exit(main())
