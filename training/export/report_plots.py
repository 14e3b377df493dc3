"""The training report's figures: Matplotlib (Agg) → PNG → ``data:`` URI, so the page needs no other file.

Matplotlib is imported here only, and only ``training`` imports this module: the service never
loads it (tests/app/test_service.py checks).
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")  # no display: render straight to PNG bytes
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

TRAIN, VALID, BEST = "#1f77b4", "#d62728", "#555555"
DPI = 96


def data_uri(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight")
    plt.close(fig)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def learning_curves(history: dict[str, list[float]], metric: str | None, best_epoch: int) -> str:
    """Loss and the main metric per epoch, train vs validation, the restored (best) epoch marked."""
    panels = ["loss"] + ([metric] if metric and metric in history else [])
    fig, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.4), squeeze=False)
    for ax, key in zip(axes[0], panels, strict=True):
        epochs = np.arange(1, len(history[key]) + 1)
        ax.plot(epochs, history[key], "o-", color=TRAIN, ms=3, label="train")
        if f"val_{key}" in history:
            ax.plot(epochs, history[f"val_{key}"], "o-", color=VALID, ms=3, label="validation")
        ax.axvline(best_epoch, color=BEST, ls="--", lw=1, label=f"best epoch {best_epoch} (restored)")
        ax.set_xlabel("epoch")
        ax.set_title(key.replace("_", " "))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return data_uri(fig)


def reliability(truth: np.ndarray, proba: np.ndarray, labels: Sequence[str], bins: int = 10) -> str:
    """Calibration: mean predicted probability vs observed frequency, per probability bin.

    Binary: the positive label. Multiclass: the top-1 confidence against top-1 correctness."""
    if proba.shape[1] == 2:
        score, hit, title = proba[:, 1], truth == 1, f"P({labels[1]})"
    else:
        score, hit, title = proba.max(axis=1), proba.argmax(axis=1) == truth, "top-1 confidence"
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(score, edges) - 1, 0, bins - 1)
    counts = np.bincount(which, minlength=bins)
    filled = counts > 0
    mean_score = np.bincount(which, weights=score, minlength=bins)[filled] / counts[filled]
    observed = np.bincount(which, weights=hit.astype(float), minlength=bins)[filled] / counts[filled]
    fig, (ax, hist) = plt.subplots(2, 1, figsize=(4.6, 4.8), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    ax.plot([0, 1], [0, 1], ":", color=BEST, label="perfectly calibrated")
    ax.plot(mean_score, observed, "o-", color=VALID, label="model (holdout)")
    ax.set_ylabel("observed frequency")
    ax.set_title(f"reliability: {title}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    hist.bar((edges[:-1] + edges[1:]) / 2, counts, width=1 / bins * 0.9, color=TRAIN)
    hist.set_xlabel("predicted probability")
    hist.set_ylabel("rows")
    return data_uri(fig)


def confusion(matrix: np.ndarray, labels: Sequence[str]) -> str:
    """Counts, shaded by the share of each true label's rows (so a rare class stays readable)."""
    share = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    size = min(9.0, 2.4 + 0.55 * len(labels))
    fig, ax = plt.subplots(figsize=(size, size * 0.85))
    ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(labels))
    ax.set_xticks(ticks, [str(label)[:14] for label in labels], rotation=45, ha="right")
    ax.set_yticks(ticks, [str(label)[:14] for label in labels])
    if len(labels) <= 20:
        for i, j in np.ndindex(matrix.shape):
            ax.text(
                j, i, f"{matrix[i, j]:,}", ha="center", va="center", fontsize=8, color="white" if share[i, j] > 0.5 else "black"
            )
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title("confusion matrix (holdout)")
    return data_uri(fig)


def residuals(truth: np.ndarray, predicted: np.ndarray, max_points: int = 20_000) -> str:
    """Residual (true − predicted) against the prediction; a flat cloud around 0 is what good looks like."""
    keep = np.random.default_rng(0).permutation(len(truth))[:max_points]  # a static PNG needs no more points
    fig, ax = plt.subplots(figsize=(5.6, 3.8))
    ax.scatter(predicted[keep], (truth - predicted)[keep], s=4, alpha=0.35, color=TRAIN, linewidths=0)
    ax.axhline(0, color=VALID, lw=1)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true − predicted")
    ax.set_title(f"residuals vs predicted (holdout, {len(keep):,} rows)")
    ax.grid(alpha=0.3)
    return data_uri(fig)


def importance(features: Sequence[dict], metric: str, shuffles: int) -> str:
    """Permutation importance: the mean drop per feature with its spread (one sd) over the shuffles."""
    shown = list(features)[:30]
    fig, ax = plt.subplots(figsize=(6.4, max(2.6, 0.9 + 0.28 * len(shown))))
    positions = np.arange(len(shown))[::-1]
    drops = [f["drop"] for f in shown]
    colours = [TRAIN if f["kind"] == "categorical" else "#ff7f0e" for f in shown]
    ax.barh(positions, drops, xerr=[f["sd"] for f in shown], color=colours, ecolor=BEST, capsize=2)
    ax.set_yticks(positions, [str(f["name"])[:24] for f in shown], fontsize=8)
    ax.axvline(0, color=BEST, lw=0.8)
    ax.set_xlabel(f"drop in {metric} when the feature is shuffled (mean ± sd of {shuffles})")
    ax.set_title("permutation importance (blue: categorical, orange: numeric)", fontsize=9)
    ax.grid(alpha=0.3, axis="x")
    return data_uri(fig)


def projection(table: np.ndarray) -> tuple[np.ndarray, str]:
    """2-D coordinates: the raw vectors when the embedding has ≤ 2 dimensions, else PCA (NumPy SVD)."""
    if table.shape[1] <= 2:
        coords = np.zeros((len(table), 2))
        coords[:, : table.shape[1]] = table
        return coords, "raw vectors"
    centred = table - table.mean(axis=0)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    components = vt[:2]
    # SVD's sign is arbitrary: make each axis's largest loading positive, so a re-run draws the same map
    signs = np.sign(components[np.arange(len(components)), np.abs(components).argmax(axis=1)])
    coords = np.zeros((len(table), 2))
    coords[:, : len(components)] = centred @ (components * np.where(signs == 0, 1, signs)[:, None]).T
    explained = (s[:2] ** 2).sum() / max(float((s**2).sum()), 1e-30)
    return coords, f"PCA, {explained:.0%} of variance"


def embedding_map(name: str, table: np.ndarray, vocabulary: Sequence[str], counts: Sequence[int], label_top: int = 12) -> str:
    """One point per value with its own vector, coloured by training count (log); the unknown row as ×."""
    coords, method = projection(table)
    fig, ax = plt.subplots(figsize=(5.6, 4.4))
    if len(vocabulary):
        points = ax.scatter(
            coords[1:, 0], coords[1:, 1], c=np.log10(np.asarray(counts, dtype=float)), s=22, cmap="viridis", linewidths=0
        )
        fig.colorbar(points, ax=ax, label="log10 training rows")
        for i in range(min(label_top, len(vocabulary))):  # the most frequent values (vocabulary is sorted by count)
            ax.annotate(str(vocabulary[i])[:16], coords[i + 1], fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.scatter(coords[:1, 0], coords[:1, 1], marker="x", s=60, color=VALID, label="unknown / rare / missing")
    ax.legend(fontsize=8, loc="best")
    ax.set_title(f"{name}: {len(vocabulary):,} values, {table.shape[1]}-d ({method})")
    ax.grid(alpha=0.3)
    return data_uri(fig)
