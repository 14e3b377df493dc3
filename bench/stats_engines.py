"""The statistics pass two ways, on the same Parquet shards: which engine should pass 1 use?

Pass 1 of streaming training needs, per categorical, every value with its count (the
vocabulary, ``min_frequency``), and per numeric the count, missing count, mean, std, min, max
and the 1,000 quantile knots of the rank-gauss map (``features/numeric.py``).

- ``pyarrow``: file by file with ``ParquetFile.iter_batches`` (never ``pyarrow.dataset``, which
  reads ahead ~900 MB when the consumer is slow). Vocabularies: ``pyarrow.compute.value_counts``
  per batch, merged with an Arrow ``group_by`` sum. Numerics: running moments merged per batch
  (Chan et al.), min/max, and quantiles from a uniform reservoir sample of 500,000 values
  (the rows with the smallest random keys), so they are approximate.
- ``duckdb``: SQL over ``read_parquet('<folder>/*.parquet')``: ``count(*) GROUP BY`` per
  categorical; ``avg``, ``stddev_samp``, ``min``, ``max`` in one scan, then exact
  ``quantile_cont`` per numeric over the 1,000 levels.
- ``duckdb-approx``: the same, with ``approx_quantile`` (DuckDB's t-digest) for the knots.

Each engine runs in a child process of its own (DuckDB with its default threads, one per core) (``--engine NAME`` runs one and prints JSON), so
its peak RSS is its own. The parent checks that both found the same vocabularies and moments and
measures the approximate knots' error in rank against the exact empirical CDF.

    nice -n 10 .venv/bin/python -m bench.stats_engines --rows 16000000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results" / "stats_engines.json"
LEVELS = [i / 999 for i in range(1000)]  # the encoder's 1,000 knots, linspace(0, 1)
RESERVOIR = 500_000  # the numeric sample of the product's pass (training/data/statistics_pass.py SAMPLE_ROWS)
BATCH_ROWS = 131_072
ENGINES = ("pyarrow", "duckdb", "duckdb-approx")


def pyarrow_pass(folder: Path, categorical: list[str], numeric: list[str]) -> dict:
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    vocab: dict[str, list[pa.Table]] = {c: [] for c in categorical}
    moments = {c: np.zeros(3) for c in numeric}  # n, mean, M2
    low = dict.fromkeys(numeric, np.inf)
    high = dict.fromkeys(numeric, -np.inf)
    missing = dict.fromkeys(numeric, 0)
    sample = {c: (np.empty(0), np.empty(0)) for c in numeric}  # (keys, values)
    rows = 0
    for path in sorted(folder.glob("*.parquet")):
        for batch in pq.ParquetFile(path).iter_batches(batch_size=BATCH_ROWS, columns=categorical + numeric):
            rows += batch.num_rows
            for c in categorical:
                counts = pc.value_counts(batch.column(c))
                vocab[c].append(pa.table({"value": counts.field("values"), "count": counts.field("counts")}))
                if len(vocab[c]) >= 16:  # merge now and then: memory stays at one vocabulary
                    vocab[c] = [_merge(vocab[c])]
            for c in numeric:
                column = batch.column(c)
                missing[c] += column.null_count
                x = column.drop_null().to_numpy()
                if x.size == 0:
                    continue
                n, mean, m2 = moments[c]
                bn, bmean = x.size, float(x.mean())
                delta, total = bmean - mean, n + bn
                moments[c] = np.array(
                    [total, mean + delta * bn / total, m2 + float(((x - bmean) ** 2).sum()) + delta**2 * n * bn / total]
                )
                low[c], high[c] = min(low[c], float(x.min())), max(high[c], float(x.max()))
                keys, values = sample[c]
                new = rng.random(x.size)
                if keys.size == RESERVOIR:  # full: only a key below the largest kept one can enter
                    enters = new < keys.max()
                    new, x = new[enters], x[enters]
                keys, values = np.concatenate([keys, new]), np.concatenate([values, x])
                if keys.size > RESERVOIR:
                    keep = np.argpartition(keys, RESERVOIR)[:RESERVOIR]
                    keys, values = keys[keep], values[keep]
                sample[c] = (keys, values)
    out: dict = {"rows": rows, "categorical": {}, "numeric": {}}
    for c in categorical:
        table = _merge(vocab[c])
        out["categorical"][c] = _vocab_summary(table["count"].to_numpy())
    for c in numeric:
        n, mean, m2 = moments[c]
        quantiles = np.quantile(sample[c][1], LEVELS)
        out["numeric"][c] = _numeric_summary(int(n), missing[c], mean, (m2 / (n - 1)) ** 0.5, low[c], high[c], quantiles.tolist())
    return out


def _merge(parts: list) -> object:
    import pyarrow as pa

    merged = pa.concat_tables(parts).group_by("value").aggregate([("count", "sum")])
    return merged.select(["value", "count_sum"]).rename_columns(["value", "count"])


def duckdb_pass(folder: Path, categorical: list[str], numeric: list[str], exact: bool = True) -> dict:
    """``exact``: ``quantile_cont`` (sorts per level); else ``approx_quantile`` (a t-digest)."""
    import duckdb

    source = f"read_parquet('{folder}/*.parquet')"
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    out: dict = {"rows": con.execute(f"SELECT count(*) FROM {source}").fetchone()[0], "categorical": {}, "numeric": {}}  # type: ignore[index]
    started = time.perf_counter()
    for c in categorical:
        counts = con.execute(f'SELECT "{c}" AS value, count(*) AS count FROM {source} GROUP BY 1').fetchnumpy()["count"]
        out["categorical"][c] = _vocab_summary(counts)
    vocabularies = time.perf_counter()
    moments = [f'count("{c}"), count(*) - count("{c}"), avg("{c}"), stddev_samp("{c}"), min("{c}"), max("{c}")' for c in numeric]
    values = con.execute(f"SELECT {', '.join(moments)} FROM {source}").fetchone()
    assert values is not None
    done_moments = time.perf_counter()
    levels, function = ("DOUBLE", "quantile_cont") if exact else ("FLOAT", "approx_quantile")
    listed = "[" + ", ".join(repr(q) for q in LEVELS) + f"]::{levels}[]"
    for k, c in enumerate(numeric):
        quantiles = con.execute(f'SELECT {function}("{c}", {listed}) FROM {source}').fetchone()[0]  # type: ignore[index]
        out["numeric"][c] = _numeric_summary(*values[6 * k : 6 * k + 6], list(quantiles))
    out["seconds_by_step"] = {
        "vocabularies": round(vocabularies - started, 2),
        "moments": round(done_moments - vocabularies, 2),
        "quantiles": round(time.perf_counter() - done_moments, 2),
    }
    return out


def _vocab_summary(counts) -> dict:
    """Enough to compare two vocabularies without shipping them: size, total and a count profile."""
    import numpy as np

    counts = np.sort(np.asarray(counts, dtype=np.int64))[::-1]
    return {
        "distinct": int(counts.size),
        "total": int(counts.sum()),
        "top_counts": counts[:5].tolist(),
        "seen_under_5": int((counts < 5).sum()),
    }


def _numeric_summary(n, nulls, mean, std, low, high, quantiles: list[float]) -> dict:
    return {
        "count": int(n),
        "missing": int(nulls),
        "mean": float(mean),
        "std": float(std),
        "min": float(low),
        "max": float(high),
        "quantiles": quantiles,
    }


def rank_errors(folder: Path, column: str, approximate: dict[str, list[float]]) -> dict[str, float]:
    """Per engine, the largest distance in rank between an approximate knot q̂_p and its level p:
    max over p of the gap between p and [F(q̂_p⁻), F(q̂_p)], the exact empirical CDF of every
    non-missing value (sorted here; ties, as in a count column, count as hitting the level)."""
    import numpy as np
    import pyarrow.parquet as pq

    x = np.sort(
        np.concatenate(
            [pq.read_table(p, columns=[column])[column].drop_null().to_numpy() for p in sorted(folder.glob("*.parquet"))]
        )
    )
    levels = np.asarray(LEVELS)
    errors = {}
    for engine, knots in approximate.items():
        knots = np.asarray(knots, dtype=np.float64)
        below, upto = np.searchsorted(x, knots, "left") / x.size, np.searchsorted(x, knots, "right") / x.size
        errors[engine] = round(float(np.maximum(0.0, np.maximum(below - levels, levels - upto)).max()), 5)
    return errors


def run_engine(engine: str, folder: Path) -> dict:
    """One engine in a child process: its wall time, peak RSS and the statistics it found."""
    from bench.measure import measure

    command = [sys.executable, "-m", "bench.stats_engines", "--engine", engine, "--data", str(folder)]
    figures = measure(command, cwd=ROOT)
    return {**figures, "statistics": json.loads(figures.pop("stdout"))}


def main(argv: list[str] | None = None) -> int:
    from bench.scale_data import CATEGORICAL, NUMERIC

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--engine", choices=ENGINES, help="run one engine here and print its JSON")
    parser.add_argument("--data", type=Path, help="a folder of Parquet shards (default: the bench.scale table of --rows)")
    parser.add_argument("--rows", type=int, default=16_000_000)
    parser.add_argument(
        "--cache", type=Path, default=Path(os.environ.get("CATEMBED_SCALE_CACHE", Path.home() / ".cache/catembed/scale"))
    )
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.engine:
        started = time.perf_counter()
        if args.engine == "pyarrow":
            found = pyarrow_pass(args.data, CATEGORICAL, NUMERIC)
        else:
            found = duckdb_pass(args.data, CATEGORICAL, NUMERIC, exact=args.engine == "duckdb")
        print(json.dumps({**found, "seconds": round(time.perf_counter() - started, 2)}))
        return 0

    from bench.scale import ensure_table

    folder = args.data or ensure_table(args.cache, args.rows)
    results: dict = {"data": str(folder), "cpus": os.cpu_count()}
    for engine in ENGINES:
        results[engine] = run_engine(engine, folder)
    a, b = results["pyarrow"]["statistics"], results["duckdb"]["statistics"]
    results["vocabularies_agree"] = a["categorical"] == b["categorical"]
    results["moments_agree"] = all(
        abs(a["numeric"][c][k] - b["numeric"][c][k]) <= 1e-9 * max(1.0, abs(b["numeric"][c][k]))
        for c in NUMERIC
        for k in ("count", "missing", "mean", "std", "min", "max")
    )
    approximate = ("pyarrow", "duckdb-approx")
    results["quantile_rank_error"] = {
        c: rank_errors(folder, c, {e: results[e]["statistics"]["numeric"][c]["quantiles"] for e in approximate}) for c in NUMERIC
    }
    for engine in ENGINES:
        r = results[engine]
        print(
            f"{engine:14s} {r['statistics']['seconds']:7.2f} s in the pass {r['statistics'].get('seconds_by_step', '')}, "
            f"{r['wall_seconds']:7.2f} s process, peak RSS {r['peak_rss_mb']:6.0f} MB "
            f"(load {r['load_average_before'][0]:.2f}→{r['load_average_after'][0]:.2f})"
        )
    print(f"vocabularies agree: {results['vocabularies_agree']}, moments agree: {results['moments_agree']}")
    print(f"largest rank error of the 1,000 knots, per numeric: {results['quantile_rank_error']}")
    for engine in ENGINES:
        for c in NUMERIC:
            results[engine]["statistics"]["numeric"][c].pop("quantiles")  # 1,000 numbers each: not for the JSON
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
