"""The ``catembed`` command line: every subcommand's options and their parsing helpers.

Kept apart from ``cli.main``, which runs the commands, so the options read as one list.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from typing import Any

from features.errors import CatembedError
from training.loop.config import NUMERIC_ENCODINGS

Handler = Callable[[argparse.Namespace], int]


def build_parser(handlers: Mapping[str, Handler]) -> argparse.ArgumentParser:
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
    t.add_argument(
        "--embedding-cap",
        type=int,
        metavar="N",
        help="at most N dimensions per feature's embedding (default: the size rule's own cap, 600; bounds memory)",
    )
    t.add_argument("--name", help="model name: the folder under --out")
    t.add_argument("--out", default="model_artifacts", help="artifact root (default: model_artifacts)")
    t.add_argument(
        "--architecture", choices=["default", "seed"], default="default", help="'seed' reproduces the original write-up's network"
    )
    t.add_argument(
        "--hidden", help="dense layer sizes, e.g. 256,128 (default 256,128; 512,256 from 20,000 training rows; --demo 256,128)"
    )
    t.add_argument("--dropout", help="dropout rate, or one per hidden layer")
    t.add_argument(
        "--input-dropout", type=float, metavar="RATE", help="dropout on the concatenated embeddings and numerics (default 0)"
    )
    t.add_argument("--l2", type=float, help="L2 penalty on hidden kernels")
    t.add_argument("--learning-rate", type=float)
    t.add_argument(
        "--lr-factor",
        type=float,
        metavar="FACTOR",
        help="the plateau schedule multiplies the learning rate by this after patience/2 flat epochs (default 0.3)",
    )
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
    t.add_argument(
        "--deviation-l2",
        type=float,
        metavar="L2",
        help="shrunk features: L2 penalty on each value's deviation from the unknown vector (default 0.001)",
    )
    t.add_argument(
        "--fold-k",
        type=float,
        metavar="K",
        help="shrunk features: during training, value c stands in for the unknown value with probability "
        "K/(n_c+K) (stochastic folding; default 0: off)",
    )
    t.add_argument("--valid-fraction", type=float)
    t.add_argument("--class-weight", choices=["balanced"])
    t.add_argument(
        "--target-scale",
        choices=["linear", "log", "loglink", "auto"],
        help="regression: linear (default), log space, a log-link exp head, or auto (log when ≥ 0 and skewed)",
    )
    t.add_argument(
        "--numeric-encoding",
        choices=list(NUMERIC_ENCODINGS),
        help="ple: also feed each numeric score as piecewise-linear ramps; auto: only the features whose effect "
        "is a staircase (the default); plr: learned periodic embeddings of every numeric score; none: the scores "
        "alone (docs/training.md)",
    )
    t.add_argument(
        "--plr-sigma",
        type=float,
        metavar="SIGMA",
        help="periodic embeddings (plr, auto+plr): spread of the initial frequencies over the standard-normal "
        "scores (default 0.1; larger starts sharper)",
    )
    t.add_argument(
        "--plr-step-sigma",
        type=float,
        metavar="SIGMA",
        help="auto+plr: the same for the staircase features that also get ramps (default 3: sharper steps)",
    )
    t.add_argument(
        "--weight-average",
        type=float,
        metavar="EPOCHS",
        help="serve the moving average of the weights over about this many epochs (default 1; 0: the last step's)",
    )
    t.add_argument(
        "--ensemble",
        type=int,
        help="K: train K networks from different seeds and serve their mean (K× the time; default auto: "
        "5 for regression under 100,000 training rows, else 1; docs/training.md)",
    )
    t.add_argument(
        "--ensemble-holdout",
        choices=["folds", "shared"],
        help="shared (default): all members train on the same rows and early-stop on one holdout; "
        "folds: member k early-stops on the k-th fold of every row and trains on the rest",
    )
    t.add_argument(
        "--batch-ensemble",
        type=int,
        metavar="K",
        help="K ≥ 2: one network of K members sharing every hidden weight (TabM-mini), trained once, "
        "serving their mean (default 1: off; docs/training.md)",
    )
    t.add_argument(
        "--out-of-fold",
        metavar="PATH",
        help="also write leak-free vectors of the training rows for another model (.parquet or .csv): "
        "--folds networks, each trained without one fold, give that fold its vectors (docs/training.md)",
    )
    t.add_argument("--folds", type=int, default=5, help="networks for --out-of-fold (default 5; K+1 trainings in all)")
    t.add_argument("--seed", type=int)
    t.add_argument("--demo", action="store_true", help="train the built-in NYC flights demo")
    t.add_argument("--verbose", action="store_true", help="also show TensorFlow's own log lines")
    t.add_argument(
        "--workers",
        type=int,
        default=1,
        help="N ≥ 2: train on N Ray workers (RAY_ADDRESS, else a local cluster); docs/distributed.md",
    )
    t.add_argument(
        "--mlflow",
        nargs="?",
        const="",
        metavar="URI",
        help="log the run to MLflow: this tracking URI, else MLFLOW_TRACKING_URI, else ./mlflow.db "
        "(on by itself when MLFLOW_TRACKING_URI is set; the mlflow extra; docs/mlflow.md)",
    )
    t.add_argument("--register", metavar="NAME", help="also register the logged model in MLflow's registry as NAME")
    t.set_defaults(func=handlers["train"])

    p = commands.add_parser("predict", help="score Parquet or CSV files with a model, into a Parquet file")
    p.add_argument("model_dir", help="model_artifacts/<name>")
    p.add_argument("--data", required=True, help="a Parquet file, a folder or glob of Parquet files, or a CSV")
    p.add_argument("--out", required=True, help="output .parquet (written whole or not at all)")
    p.add_argument("--version", type=int, help="default: the newest")
    p.add_argument("--keep", help="comma-separated input columns to copy into the output (e.g. an id)")
    p.add_argument("--workers", type=int, default=1, help="N ≥ 2: score on Ray Data (RAY_ADDRESS, else a local cluster)")
    p.add_argument("--on-error", choices=["stop", "skip"], default="stop", help="skip: bad rows go to OUT.rejects.parquet")
    p.add_argument("--batch-rows", type=int, default=65_536, help="rows per record batch (bounds memory)")
    p.set_defaults(func=handlers["predict"])

    e = commands.add_parser("export-embeddings", help="write every feature's embedding table")
    e.add_argument("model_dir", help="model_artifacts/<name>")
    e.add_argument("--out", required=True, help="output folder")
    e.add_argument("--format", choices=["parquet", "csv", "projector"], default="parquet")
    e.add_argument("--version", type=int, help="default: the newest")
    e.set_defaults(func=handlers["export-embeddings"])

    x = commands.add_parser("export", help="the whole model as one ONNX graph (onnxruntime, Triton); docs/onnx.md")
    x.add_argument("model_dir", help="model_artifacts/<name>")
    x.add_argument(
        "--format", choices=["onnx", "triton"], default="onnx", help="onnx: one file; triton: a model repository folder"
    )
    x.add_argument("--out", required=True, help="the .onnx file (onnx), or the Triton model repository (triton)")
    x.add_argument("--version", type=int, help="default: the newest")
    x.set_defaults(func=handlers["export"])

    r = commands.add_parser("report", help="print the path of a bundle's training report (report.html), or open it")
    r.add_argument("model_dir", help="model_artifacts/<name>")
    r.add_argument("--version", type=int, help="default: the newest")
    r.add_argument("--open", action="store_true", help="open it in a web browser when one is available")
    r.set_defaults(func=handlers["report"])

    s = commands.add_parser("serve", help="serve a model over HTTP (uvicorn)")
    s.add_argument("--model-dir", help="model_artifacts/<name> (default: CATEMBED_MODEL_DIR)")
    s.add_argument("--model-repository", help="serve every model under this folder (default: CATEMBED_MODEL_REPOSITORY)")
    s.add_argument("--host", default="127.0.0.1")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--workers", type=int, help="default: CATEMBED_WORKERS or 1")
    s.add_argument(
        "--grpc-port", type=int, help="also serve the v2 protocol over gRPC on this port (default: CATEMBED_GRPC_PORT; off)"
    )
    s.add_argument("--log-level", choices=["debug", "info", "warning", "error"], help="default: CATEMBED_LOG_LEVEL or info")
    s.add_argument("--access-log", action="store_true", help="log every request (CATEMBED_ACCESS_LOG)")
    s.set_defaults(func=handlers["serve"])

    u = commands.add_parser(
        "upgrade-bundle",
        help="rewrite format-1 versions (pickled encoders) as data-only format 2; run it only on files you trust",
    )
    u.add_argument("model_dir", help="model_artifacts/<name>")
    u.add_argument("--version", type=int, help="default: every version")
    u.set_defaults(func=handlers["upgrade-bundle"])
    return parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("catembed")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def names(text: str | None) -> list[str] | None:
    return None if text is None else [n.strip() for n in text.split(",") if n.strip()]


def ints(text: str | None) -> tuple[int, ...] | None:
    return None if text is None else tuple(int(x) for x in text.split(","))


def floats(text: str | None) -> tuple[float, ...] | None:
    return None if text is None else tuple(float(x) for x in text.split(","))


def dims(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    dims = {}
    for item in text.split(","):
        name, _, size = item.partition("=")
        if not size.strip().isdigit():
            raise CatembedError(f"--embedding-dims expects name=size pairs, got {item!r}", field="embedding-dims", value=item)
        dims[name.strip()] = int(size)
    return dims
