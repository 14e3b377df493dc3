"""One command for the quality table: catembed defaults vs LightGBM vs CatBoost vs LightGBM + embeddings.

    python -m bench.quality.run                       # every set, 3 seeds
    python -m bench.quality.run --sets ames --seeds 1 --quick
    python -m bench.quality.run --sets flights --max-rows 100000 --methods catembed \
        --set hidden_units=(512,256) --out /tmp/sweep.json         # a lever sweep

Results are merged into the JSON file by (set, method, seed, overrides), so sets can be run
one at a time; the Markdown table is printed from everything in the file.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from bench.quality import datasets
from bench.quality.methods import Score, embedding_columns, run_catboost, run_catembed, run_lightgbm

# LightGBM's training rows get catembed's vectors three ways. lightgbm+emb: the bundle's own, fitted
# on those very rows; lightgbm+emb-pc1: the same, each feature's vector cut to its first principal
# component (EmbeddingFeatures(components=1)); lightgbm+emb-oof: out-of-fold, from FOLDS networks
# that never saw the row (`catembed train --out-of-fold`). The last costs FOLDS more trainings and
# did not win on the six sets (docs/decisions.md: out-of-fold), so it runs only when asked for.
METHODS = ("catembed", "lightgbm", "catboost", "lightgbm+emb", "lightgbm+emb-pc1", "lightgbm+emb-oof")
DEFAULT_METHODS = METHODS[:5]
FOLDS = 5
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "results" / "quality.json"
QUICK_ROWS, QUICK_EPOCHS, QUICK_FOLDS = 1500, 3, 2


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sets = [s.strip() for s in args.sets.split(",") if s.strip()]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise SystemExit(f"unknown method {unknown[0]!r}; methods are {', '.join(METHODS)}")
    overrides = dict(_override(text) for text in args.set)
    if args.quick:
        overrides.setdefault("epochs", QUICK_EPOCHS)
    max_rows = QUICK_ROWS if args.quick else args.max_rows
    label = args.label if args.label is not None else ",".join(f"{k}={v}" for k, v in sorted(overrides.items()) if args.set)

    results = _read(args.out)
    for name in sets:
        data = datasets.load(name)
        for seed in range(args.first_seed, args.first_seed + args.seeds):
            train, test = data.split(seed, max_rows)
            with tempfile.TemporaryDirectory(prefix="catembed-quality-") as tmp:
                for method, result in _run_methods(data, train, test, seed, methods, overrides, Path(tmp), args.quick):
                    row = {
                        "set": name,
                        "method": method,
                        "seed": seed,
                        "overrides": label,
                        "metric": data.metric,
                        "score": round(result.value, 6),
                        "seconds": round(result.seconds, 2),
                        "rows": {"train": len(train), "test": len(test)},
                        "detail": {k: v for k, v in result.detail.items() if k != "bundle"},
                        "quick": args.quick,
                    }
                    print(json.dumps(row), flush=True)
                    results = [r for r in results if _key(r) != _key(row)] + [row]
                    _write(args.out, results)
    print()
    print(table(results))
    return 0


def _run_methods(
    data: datasets.Dataset,
    train: Any,
    test: Any,
    seed: int,
    methods: list[str],
    overrides: dict[str, Any],
    tmp: Path,
    quick: bool,
) -> Iterator[tuple[str, Score]]:
    """Each requested method's score; LightGBM + embeddings reuses this seed's catembed bundle."""
    boosted_methods = [m for m in methods if m.startswith("lightgbm+emb")]
    if "catembed" in methods or boosted_methods:
        catembed = run_catembed(data, train, test, seed, tmp, **overrides)
        if "catembed" in methods:
            yield "catembed", catembed
    if "lightgbm" in methods:
        yield "lightgbm", run_lightgbm(data, train, test, seed, quick=quick)
    if "catboost" in methods:
        yield "catboost", run_catboost(data, train, test, seed, quick=quick)
    for method in boosted_methods:
        folds = (QUICK_FOLDS if quick else FOLDS) if method.endswith("-oof") else None
        started = time.perf_counter()
        bundle = Path(catembed.detail["bundle"])
        components = 1 if method.endswith("-pc1") else None
        columns = embedding_columns(data, train, test, seed, bundle, folds=folds, components=components, **overrides)
        boosted = run_lightgbm(data, train, test, seed, quick=quick, embeddings=columns)
        # the embeddings (and the fold networks) had to be trained first
        boosted.seconds = catembed.seconds + time.perf_counter() - started
        boosted.detail["catembed_score"] = catembed.value
        boosted.detail["folds"] = folds
        boosted.detail["components"] = components
        yield method, boosted


def table(results: list[dict[str, Any]]) -> str:
    """Markdown: one row per (set, overrides), mean ± std over seeds and training seconds per method."""
    groups: dict[tuple[str, str], dict[str, list[dict[str, Any]]]] = {}
    for r in results:
        groups.setdefault((r["set"], r.get("overrides", "")), {}).setdefault(r["method"], []).append(r)
    lines = [
        "| set | metric | seeds | coverage | " + " | ".join(f"{m} | {m} s" for m in METHODS) + " |",
        "|---|---|---|---|" + "---|---|" * len(METHODS),
    ]
    for (name, label), by_method in sorted(groups.items()):
        metric = next(iter(by_method.values()))[0]["metric"]
        seeds = max(len(v) for v in by_method.values())
        cells = []
        for method in METHODS:
            runs = by_method.get(method, [])
            if not runs:
                cells += ["–", "–"]
                continue
            values = [r["score"] for r in runs]
            spread = statistics.stdev(values) if len(values) > 1 else 0.0
            digits = 4 if metric == "roc_auc" or max(values) < 1 else 3
            cells += [
                f"{statistics.mean(values):.{digits}f} ± {spread:.{digits}f}",
                f"{statistics.mean(r['seconds'] for r in runs):.1f}",
            ]
        title = f"{name} ({label})" if label else name
        metric_name = "AUC ↑" if metric == "roc_auc" else "RMSE ↓"
        lines.append(
            f"| {title} | {metric_name} | {seeds} | {_coverage(by_method.get('catembed', []))} | " + " | ".join(cells) + " |"
        )
    return "\n".join(lines)


def _coverage(runs: list[dict[str, Any]]) -> str:
    """catembed's share of values with ≥ 5 training rows that have their own vector (lowest over seeds)."""
    shares = [r["detail"]["coverage"] for r in runs if r.get("detail", {}).get("coverage") is not None]
    if not shares:
        return "n/a" if runs and all("coverage" in r.get("detail", {}) for r in runs) else "–"
    return f"{100 * min(shares):.1f} %"


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return row["set"], row["method"], row["seed"], row.get("overrides", ""), row.get("quick", False)


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return list(json.loads(path.read_text()).get("runs", []))


def _write(path: Path, results: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {
        "command": "python -m bench.quality.run " + " ".join(sys.argv[1:]),
        "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "runs": sorted(results, key=lambda r: (r["set"], r.get("overrides", ""), r["method"], r["seed"])),
    }
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1) + "\n")
    tmp.replace(path)


def _override(text: str) -> tuple[str, Any]:
    """``name=value`` with a Python literal value (numbers, tuples, strings, None, booleans)."""
    name, _, value = text.partition("=")
    try:
        return name.strip(), ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return name.strip(), value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.quality.run", description=__doc__.split("\n")[0])
    parser.add_argument("--sets", default=",".join(datasets.LOADERS), help="comma-separated: " + ", ".join(datasets.LOADERS))
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1: split, network and LightGBM seeds")
    parser.add_argument("--first-seed", type=int, default=0, help="start at this seed (more seeds for a set already run)")
    parser.add_argument("--methods", default=",".join(DEFAULT_METHODS), help="comma-separated: " + ", ".join(METHODS))
    parser.add_argument("--max-rows", type=int, help="subsample each set to this many rows first")
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE", help="override a TrainConfig default")
    parser.add_argument("--label", help="name of this configuration in the table (default: the overrides)")
    parser.add_argument("--quick", action="store_true", help=f"{QUICK_ROWS} rows, {QUICK_EPOCHS} epochs: a smoke run")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="results JSON (merged)")
    return parser


if __name__ == "__main__":
    sys.exit(main())
