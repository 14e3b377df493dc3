"""report.html: written into every bundle by the real trainer, checksummed, self-contained, readable."""

from __future__ import annotations

import base64
import copy
import json
import re
import struct

import numpy as np
import pytest

from features.artifacts import sha256_of
from features.schema import FeatureSpec
from tests.conftest import FAST
from tests.synthetic import planted_frame
from training.export.report import write_report
from training.loop.config import TrainConfig
from training.loop.trainer import train

IMAGE = re.compile(r'<img alt="([^"]*)" src="data:image/png;base64,([A-Za-z0-9+/=]+)"')
EXTERNAL = re.compile(r"""(?:src|href)\s*=\s*["']?\s*(?:[a-z][a-z0-9+.-]*:)?//""", re.IGNORECASE)
PER_TASK = {"binary": ("calibration", "confusion"), "multiclass": ("calibration", "confusion"), "regression": ("residuals",)}
CURVE_METRIC = {"binary": "auc", "multiclass": "accuracy", "regression": "mae"}


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR", "not a PNG"
    return struct.unpack(">II", data[16:24])


def check_report(run, task: str, n_categorical: int) -> str:
    path = run.path / "report.html"
    manifest = json.loads((run.path / "manifest.json").read_text())
    assert manifest["files"]["report.html"] == sha256_of(path)
    page = path.read_text(encoding="utf-8")
    assert f"<h1>Training report: {run.path.parent.name}</h1>" in page
    for section in (
        "summary",
        "curves",
        "metrics",
        "importance",
        "embeddings",
        "setup",
        "spec",
        "config",
        "data",
        *PER_TASK[task],
    ):
        assert f'id="{section}"' in page, section
    for other in {"calibration", "confusion", "residuals"} - set(PER_TASK[task]):
        assert f'id="{other}"' not in page
    images = IMAGE.findall(page)
    assert len(images) == 2 + len(PER_TASK[task]) + n_categorical  # curves, importance, per task, one map per feature
    assert len(images) == page.count("<img")  # every image is an inline PNG
    for alt, encoded in images:
        data = base64.b64decode(encoded, validate=True)
        width, height = png_size(data)
        assert len(data) > 8_000 and width > 250 and height > 200, (alt, len(data), width, height)
    assert not EXTERNAL.search(page) and "<script" not in page.lower() and "url(" not in page
    assert manifest["training"]["report_seconds"] > 0
    return page


def test_every_task_writes_a_checksummed_self_contained_report(any_run):
    task = any_run.manifest["task"]
    page = check_report(any_run, task, n_categorical=3)
    # the curve metric is compiled, so the history (and the report's second panel) has it
    history = any_run.manifest["training"]["history"]
    assert {CURVE_METRIC[task], f"val_{CURVE_METRIC[task]}"} <= set(history)
    assert f"restored the weights of epoch {any_run.manifest['training']['best_epoch']}" in page
    for name, value in any_run.manifest["metrics"]["holdout"].items():
        assert f"<td>{name}</td><td>{value:.4f}</td>" in page
    for f in any_run.manifest["importance"]["features"]:  # the stored permutation importance, every feature
        assert f"<td>{f['name']}</td><td>{f['kind']}</td><td>{f['drop']:.4f}</td><td>{f['sd']:.4f}</td>" in page
    for feature in ("color", "city", "size"):
        enc = any_run.encoder.categorical_[feature]
        assert f"<td>{len(enc.vocabulary_):,}</td><td>{enc.n_rare_values_:,}</td><td>{enc.n_rare_rows_:,} (" in page


@pytest.mark.parametrize(("categorical", "numeric"), [([], ["x", "noise"]), (["color", "city", "size"], [])])
def test_models_without_categoricals_or_without_numerics_get_a_report(tmp_path, categorical, numeric):
    spec = FeatureSpec(target="label", task="binary", categorical=categorical, numeric=numeric)
    run = train(
        planted_frame(task="binary"),
        spec,
        TrainConfig(**{**FAST, "epochs": 4}),
        name="m",
        out=tmp_path,
        log=lambda _: None,
        verbose=0,
    )
    page = check_report(run, "binary", n_categorical=len(categorical))
    assert ("learned no embeddings" in page) == (not categorical)


def test_text_from_the_data_is_escaped(binary_run, tmp_path):
    manifest = copy.deepcopy(binary_run.manifest)
    manifest["target"]["name"] = '"><img src=x onerror=alert(2)>'
    spec = FeatureSpec(target="label", task="binary", categorical=["color", "city", "size"], numeric=["x", "noise"])
    inputs = binary_run.encoder.transform(binary_run.valid).model_inputs()
    output = np.asarray(binary_run.model.predict(inputs, verbose=0))
    tables = [np.asarray(binary_run.model.get_layer(f"embedding_{f}").get_weights()[0]) for f in spec.categorical]
    write_report(
        tmp_path,
        "<script>alert(1)</script>",
        manifest,
        spec,
        binary_run.encoder,
        tables,
        binary_run.target,
        binary_run.valid["label"],
        output,
    )
    page = (tmp_path / "report.html").read_text()
    assert "<script" not in page and "onerror=alert(2)>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_maps_show_raw_vectors_in_two_dimensions_and_the_top_principal_components_above():
    from training.export.report_plots import projection

    rng = np.random.default_rng(0)
    flat = rng.normal(size=(50, 2))
    coords, method = projection(flat)
    assert method == "raw vectors" and np.array_equal(coords, flat)
    wide = rng.normal(size=(400, 8)) * np.array([6, 3, 1, 1, 1, 1, 1, 1])
    coords, method = projection(wide)
    assert method.startswith("PCA")
    top_two = np.sort(np.linalg.eigvalsh(np.cov(wide.T, ddof=0)))[::-1][:2]
    np.testing.assert_allclose(coords.var(axis=0), top_two, rtol=1e-9)
