"""perf.json → the Markdown table of the README (every figure beside its target)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any


def _fmt(value: Any, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        value = f"{value:,.1f}" if abs(value) >= 10 else f"{value:.3g}"
    elif isinstance(value, int):
        value = f"{value:,}"
    return f"{value}{unit}"


def _verdict(ok: bool | None) -> str:
    return "—" if ok is None else ("met" if ok else "**missed**")


FORMATS = {
    "rows": ("row format `/predict`", None),
    "columns": ("record body, columnar answer `/predict?orient=columns`", 35.0),
    "columns_body": ("native columnar body and answer `/predict?orient=columns`", 35.0),
    "v2_json": ("v2 JSON `/v2/models/{name}/infer`", 35.0),
    "v2_binary": ("v2 binary tensors", 35.0),
}


def _format_rows(formats: dict[str, Any] | None) -> list[tuple[str, str, str, str, bool | None]]:
    """The same batch in each answer format, interleaved in one run (bench/formats.py)."""
    if not formats:
        return []
    rows = []
    for key, (label, target) in FORMATS.items():
        entry = formats["formats"].get(key)
        if entry is None:
            continue
        rows.append(
            (
                f"Batch of {formats['records']:,}, {label} (median of {formats['repeats']})",
                f"{_fmt(entry['http_median_ms'])} ms, {_fmt(entry['rows_per_s'])} rows/s",
                "—" if target is None else f"≤ {target:g} ms",
                f"best {_fmt(entry['http_best_ms'])} ms; in {_fmt(entry['request_bytes'] / 1e3)} kB, out {_fmt(entry['response_bytes'] / 1e3)} kB",
                None if target is None else entry["http_median_ms"] <= target,
            )
        )
    return rows


def table(results: dict[str, Any]) -> str:
    lat, batch, foot = results["latency"], results["batch"], results["footprint"]
    thr, train = results["throughput"], results.get("training")
    floor, predict, naive = lat["floor"], lat["predict"], lat.get("naive")
    rows = [
        (
            "Single record p50: floor `/_floor` · catembed `/predict` · naive `model.predict`",
            f"{_fmt(floor['p50_us'])} · **{_fmt(predict['p50_us'])}** · {_fmt(naive['p50_us'] if naive else None)} µs",
            "≤ 1.2× floor",
            f"{lat['predict_over_floor_p50']:.2f}× floor",
            lat["predict_over_floor_p50"] <= 1.2,
        ),
        (
            "Single record p99: floor · catembed · naive",
            f"{_fmt(floor['p99_us'])} · **{_fmt(predict['p99_us'])}** · {_fmt(naive['p99_us'] if naive else None)} µs",
            "—",
            f"{lat['predict_over_floor_p99']:.2f}× floor",
            None,
        ),
        (
            "Middleware cost: catembed's `/_floor` vs a bare FastAPI app's (p50)",
            f"{_fmt(floor['p50_us'])} vs {_fmt(lat['bare_floor']['p50_us'])} µs" if "bare_floor" in lat else "—",
            "—",
            f"{lat['floor_over_bare_p50']:.2f}×" if "bare_floor" in lat else "—",
            None,
        ),
        (
            "Naive path ÷ catembed (p50)",
            f"{_fmt(lat.get('naive_over_predict_p50'))}×",
            "≥ 100×",
            f"{_fmt(lat.get('naive_over_predict_p50'))}×",
            None if naive is None else lat["naive_over_predict_p50"] >= 100,
        ),
    ]
    for key, label in (("workers_1", "1 worker"), ("workers_2", "`--workers 2`")):
        for entry in thr.get(key, []):
            c = entry["connections"]
            target_ok = (
                entry["requests_per_s"] >= 8000 if (key == "workers_1" and c == 16 and entry["path"] == "/predict") else None
            )
            rows.append(
                (
                    f"Throughput {entry['path']}, {c} connections, {label}",
                    f"{_fmt(entry['requests_per_s'])} req/s, p99 {_fmt(entry['p99_us'] / 1e3)} ms",
                    "≥ 8,000 req/s" if target_ok is not None else "—",
                    f"{entry['non_2xx']} non-2xx",
                    target_ok,
                )
            )
    stages = batch["in_process"]
    split = " / ".join(_fmt(stages[k]) for k in ("parse_ms", "validate_ms", "encode_ms", "infer_ms", "respond_ms"))
    rows += [
        (
            f"Batch of {batch['records']:,} records over HTTP (median)",
            f"{_fmt(batch['http_median_ms'])} ms, {_fmt(batch['rows_per_s'])} rows/s",
            "≤ 35 ms, ≥ 280k rows/s",
            f"best {_fmt(batch['http_best_ms'])} ms",
            batch["http_median_ms"] <= 35,
        ),
        (
            "Batch split in-process: parse / validate / encode / infer / respond",
            f"{split} ms",
            "—",
            f"sum {_fmt(stages['sum_of_stages_ms'])} ms",
            None,
        ),
        *_format_rows(results.get("batch_formats")),
        (
            "Serving RSS after load · after the benchmarks",
            f"{_fmt(foot['rss_after_load_mb'])} · {_fmt(foot['rss_after_traffic_mb'])} MB",
            "≤ 200 MB",
            f"TensorFlow loaded: {foot['tensorflow_loaded']}",
            max(foot["rss_after_load_mb"], foot["rss_after_traffic_mb"]) <= 200,
        ),
        (
            "Cold start: spawn → first 200 on `/ready`",
            f"{_fmt(foot['cold_start_to_ready_s'])} s (repeats {foot['cold_starts_s']})",
            "≤ 2 s",
            f"median {_fmt(foot['cold_start_median_s'])} s",
            foot["cold_start_median_s"] <= 2,
        ),
    ]
    if train:
        rows += [
            (
                f"Training on NYC flights ({train['rows']:,} rows, batch {train['batch_size']}, lr {train.get('learning_rate')}, {_fmt(train.get('parameters'))} parameters)",
                f"{_fmt(train['rows_per_second'])} rows/s per epoch",
                "≥ 200k rows/s",
                f"AUC {train['holdout'].get('roc_auc', float('nan')):.3f}",
                train["rows_per_second"] >= 200_000,
            ),
            (
                "Training wall time to early stop · peak RSS",
                f"{_fmt(train['wall_seconds'])} s ({train['epochs_run']} epochs, best {train['best_epoch']}) · {_fmt(train['peak_rss_mb'])} MB",
                "—",
                f"fit {_fmt(train['fit_seconds'])} s",
                None,
            ),
        ]
    seed = results.get("training_seed_architecture")
    if seed:
        rows.append(
            (
                f"Same, the write-up's smaller network (`--architecture seed`, {_fmt(seed['parameters'])} parameters)",
                f"{_fmt(seed['rows_per_second'])} rows/s per epoch, {_fmt(seed['wall_seconds'])} s",
                "—",
                f"AUC {seed['holdout'].get('roc_auc', float('nan')):.3f}",
                None,
            )
        )
    lines = ["| Measure | Result | Target | Note | Verdict |", "|---|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c} | {d} | {_verdict(e)} |" for a, b, c, d, e in rows]
    env = results["environment"]
    lines.append("")
    lines.append(
        f"Run {env['started_at']} on {env['cpus']} CPUs; load average at start {env['load_start']}, at end {env['load_end']}; "
        f"command: `{env['command']}`."
    )
    return "\n".join(lines)


if __name__ == "__main__":
    print(table(json.loads(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/results/perf.json").read_text())))
