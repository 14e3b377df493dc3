"""``report.html``: one self-contained page per bundle showing how training went and what was learned.

Everything is inline (CSS, PNGs as ``data:`` URIs), so the file opens from disk, from ``GET /report``
or as an e-mail attachment, and makes no request anywhere. Every text that came from the data
(feature names, labels, category values) is HTML-escaped: the service serves this page.
"""

from __future__ import annotations

import html
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from features.artifacts import REPORT
from features.coverage import Coverage
from features.encoder import TabularEncoder
from features.schema import FeatureSpec
from training.data.spec import dump_spec
from training.export import report_plots as plots

CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#222;max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;border-bottom:1px solid #ddd;padding-bottom:4px;margin-top:32px}
h3{font-size:15px;margin:18px 0 6px}.muted{color:#666}img{max-width:100%;height:auto}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #ddd;padding:3px 10px;text-align:right}
th{background:#f4f4f4}td:first-child,th:first-child{text-align:left}.better{color:#17803d;font-weight:600}
.worse{color:#b42318;font-weight:600}pre{background:#f6f8fa;padding:10px;overflow-x:auto}.grid{display:flex;flex-wrap:wrap;gap:16px}
nav a{margin-right:12px}section.half{display:inline-block;vertical-align:top;margin-right:32px}
.feature{display:inline-block;vertical-align:top;width:520px;margin-right:16px}.feature table{font-size:12px}
"""
LOWER_IS_BETTER = {"log_loss", "rmse", "mae"}


def write_report(
    folder: Path,
    name: str,
    manifest: dict[str, Any],
    spec: FeatureSpec,
    encoder: TabularEncoder,
    tables: list[np.ndarray],
    target: Any,
    y_valid: pd.Series,
    output: np.ndarray,
) -> float:
    """Write ``folder/report.html`` and return the seconds it took."""
    started = time.perf_counter()
    task, training = manifest["task"], manifest["training"]
    sections = [
        _curves(training),
        _metrics(manifest["metrics"]),
        _importance(manifest.get("importance")),
        *_holdout_plots(task, target, y_valid, output),
        _embeddings(encoder, tables, training),
        _setup(manifest, spec),
    ]
    nav = " ".join(f'<a href="#{sid}">{html.escape(title)}</a>' for sid, title, _ in sections)
    body = "\n".join(
        f'<section id="{sid}"{_half(sid)}><h2>{html.escape(title)}</h2>\n{content}</section>' for sid, title, content in sections
    )
    rows = training["rows"]
    page = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,"><title>catembed report: {_e(name)}</title><style>{CSS}</style></head>
<body><header id="summary"><h1>Training report: {_e(name)}</h1>
<p class="muted">{_e(task)} model of <b>{_e(manifest["target"]["name"])}</b> · {rows["train"]:,} training rows,
{rows["valid"]:,} holdout rows · {len(spec.categorical)} categorical, {len(spec.numeric)} numeric features ·
{manifest["model"]["parameters"]:,} parameters · created {_e(manifest.get("created_at", ""))}</p>
<nav>{nav}</nav></header>
{body}
</body></html>
"""
    (folder / REPORT).write_text(page, encoding="utf-8")  # folder is write_bundle's temporary one
    return time.perf_counter() - started


def _curves(training: dict[str, Any]) -> tuple[str, str, str]:
    history = training["history"]
    metric = next((k for k in history if k not in ("loss", "learning_rate") and not k.startswith("val_")), None)
    note = (
        f"Training ran {training['epochs_run']} epochs; early stopping restored the weights of epoch "
        f"{training['best_epoch']} (lowest validation loss without the L2 penalties). "
    )
    runs = (training.get("ensemble") or {}).get("epochs_run") or []
    if len(runs) > 1:  # several networks stop at their own epochs: say each, not the first one's
        best = training["ensemble"]["best_epoch"]
        each = ", ".join(f"{r} (best {b})" for r, b in zip(runs, best, strict=True))
        note = (
            f"{len(runs)} networks trained; epochs run per network: {each}. Early stopping restored each one's "
            "best epoch (lowest validation loss without the L2 penalties). The curves are the first network's. "
        )
    if metric == "mae" and training["config"].get("target_scale") != "linear":
        note += "MAE is in the scaled target space the network learns in. "
    return (
        "curves",
        "Learning curves",
        f'<p>{note}</p><img alt="learning curves" src="{plots.learning_curves(history, metric, training["best_epoch"])}">',
    )


def _metrics(values: dict[str, dict[str, float]]) -> tuple[str, str, str]:
    holdout, baseline = values["holdout"], values["baseline"]
    rows = []
    for name, value in holdout.items():
        base = baseline.get(name)
        verdict = ""
        if base is not None and value != base:
            better = value < base if name in LOWER_IS_BETTER else value > base
            verdict = '<td class="better">better</td>' if better else '<td class="worse">worse</td>'
        base_text = f"{base:.4f}" if base is not None else "—"
        rows.append(f"<tr><td>{_e(name)}</td><td>{value:.4f}</td><td>{base_text}</td>{verdict or '<td></td>'}</tr>")
    content = (
        '<p class="muted">The baseline predicts the training class frequencies (classification) or the training mean '
        "(regression).</p><table><tr><th>metric</th><th>model</th><th>trivial baseline</th><th></th></tr>"
        + "".join(rows)
        + "</table>"
    )
    return "metrics", "Holdout metrics vs the trivial baseline", content


def _importance(found: dict[str, Any] | None) -> tuple[str, str, str]:
    if not found or not found.get("features"):
        return "importance", "Feature importance", "<p>This bundle has no permutation importance.</p>"
    metric, shuffles = found["metric"], found["shuffles"]
    rows = "".join(
        f"<tr><td>{_e(f['name'])}</td><td>{_e(f['kind'])}</td><td>{f['drop']:.4f}</td><td>{f['sd']:.4f}</td></tr>"
        for f in found["features"]
    )
    where = found.get("rows_are", "holdout rows")
    content = (
        f"<p>Each feature's column shuffled across the {found['rows']:,} {_e(where)}, {shuffles} times: how much "
        f"{_e(metric)} gets worse (from {found['score']:.4f}) when the model cannot use the feature. A large drop is a "
        "feature the model leans on; check that it is known when you predict (a value measured afterwards leaks the "
        "answer). Near zero: the model ignores it.</p>"
        f'<img alt="permutation importance" src="{plots.importance(found["features"], metric, shuffles)}">'
        f"<table><tr><th>feature</th><th>kind</th><th>drop in {_e(metric)} (mean)</th><th>sd over {shuffles} shuffles</th>"
        f"</tr>{rows}</table>"
    )
    return "importance", "Feature importance (permutation, holdout)", content


def _holdout_plots(task: str, target: Any, y_valid: pd.Series, output: np.ndarray) -> list[tuple[str, str, str]]:
    if task == "regression":
        truth, predicted = np.asarray(y_valid, dtype=np.float64), np.asarray(target.values(output), dtype=np.float64)
        image = plots.residuals(truth, predicted)
        return [("residuals", "Residuals vs predicted", f'<img alt="residuals vs predicted" src="{image}">')]
    labels = [str(label) for label in target.classes_]
    truth, proba = np.asarray(target.transform(y_valid)), np.asarray(target.probabilities(output))
    n = len(labels)
    matrix = np.bincount(truth.astype(np.int64) * n + proba.argmax(axis=1), minlength=n * n).reshape(n, n)
    return [
        ("calibration", "Calibration", f'<img alt="reliability curve" src="{plots.reliability(truth, proba, labels)}">'),
        ("confusion", "Confusion matrix", f'<img alt="confusion matrix" src="{plots.confusion(matrix, labels)}">'),
    ]


def _embeddings(encoder: TabularEncoder, tables: list[np.ndarray], training: dict[str, Any]) -> tuple[str, str, str]:
    if not encoder.categorical:
        return "embeddings", "Embeddings", "<p>This model has no categorical features, so it learned no embeddings.</p>"
    parts = [
        f"<p>Values seen fewer than <b>{training['min_frequency']}</b> times in training (the min count) have no vector "
        "of their own: they are folded into the unknown row (×), which is therefore trained on real rare rows.</p>"
    ]
    for name, table in zip(encoder.categorical, tables, strict=True):
        enc, facts = encoder.categorical_[name], Coverage.of(encoder.categorical_[name])
        coverage = (
            "<table><tr><th>values with own vector</th><th>values folded</th><th>rows folded</th><th>missing rows</th>"
            "<th>min count</th><th>embedding size</th></tr>"
            f"<tr><td>{facts.vocabulary_size:,}</td><td>{facts.values_folded:,}</td>"
            f"<td>{facts.rows_folded:,} ({facts.folded_row_rate or 0:.1%})</td><td>{facts.missing_rows:,}</td>"
            f"<td>{training['min_frequency']}</td><td>{table.shape[1]}</td></tr></table>"
        )
        image = plots.embedding_map(name, table, enc.vocabulary_, enc.counts_)
        parts.append(
            f'<div class="feature"><h3>{_e(name)}</h3>{coverage}<img alt="embedding map of {_e(name)}" src="{image}"></div>'
        )
    return "embeddings", "Embeddings", "\n".join(parts)


def _setup(manifest: dict[str, Any], spec: FeatureSpec) -> tuple[str, str, str]:
    training = manifest["training"]
    config = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in training["config"].items())
    timings = {
        "training rows": f"{training['rows']['train']:,}",
        "holdout rows": f"{training['rows']['valid']:,}",
        "epochs run / best": _epochs(training),
        "batch size": f"{training['batch_size']:,}",
        "fit seconds": f"{training['fit_seconds']:.1f}",
        "rows per second": f"{training['rows_per_second']:,}",
        "data source": training.get("source") or "(in memory)",
        "data fingerprint": training["data_fingerprint"],
        "versions": ", ".join(f"{k} {v}" for k, v in manifest.get("versions", {}).items()),
    }
    facts = "".join(f"<tr><td>{_e(k)}</td><td>{_e(v)}</td></tr>" for k, v in timings.items())
    content = (
        f'<div class="grid"><div><h3 id="data">Data and timings</h3><table>{facts}</table></div>'
        f'<div><h3 id="config">Config</h3><table>{config}</table></div></div>'
        f'<h3 id="spec">Feature spec (spec.yaml)</h3><pre>{_e(dump_spec(spec))}</pre>'
    )
    return "setup", "Spec, config, data and timings", content


def _epochs(training: dict[str, Any]) -> str:
    ensemble = training.get("ensemble") or {}
    if len(ensemble.get("epochs_run") or []) > 1:
        return ", ".join(f"{r} / {b}" for r, b in zip(ensemble["epochs_run"], ensemble["best_epoch"], strict=True))
    return f"{training['epochs_run']} / {training['best_epoch']}"


def _half(section_id: str) -> str:
    """The two classification plots sit side by side."""
    return ' class="half"' if section_id in ("calibration", "confusion") else ""


def _e(value: Any) -> str:
    return html.escape(str(value))
