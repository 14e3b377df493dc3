"""Session fixtures: real tiny models trained once with the real trainer, shared by the suite."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
# Starlette's TestClient sends Host: testserver; the service serves localhost names only by default
# (CATEMBED_ALLOWED_HOSTS, docs/reliability.md). tests/app/test_auth.py checks the real default.
os.environ.setdefault("CATEMBED_ALLOWED_HOSTS", "localhost,127.0.0.1,::1,testserver")

from tests.synthetic import FAST, planted_frame


def _train(root: Path, task: str, name: str, **overrides):
    from features.schema import FeatureSpec
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    frame = planted_frame(task=task)
    spec = FeatureSpec(target="label", task=task, categorical=["color", "city", "size"], numeric=["x", "noise"])
    config = TrainConfig(**{**FAST, **overrides})
    return train(frame, spec, config, name=name, out=root, log=lambda _: None, verbose=0)


@pytest.fixture(scope="session")
def artifact_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("artifacts")


@pytest.fixture(scope="session")
def binary_run(artifact_root):
    return _train(artifact_root, "binary", "binary")


@pytest.fixture(scope="session")
def multiclass_run(artifact_root):
    return _train(artifact_root, "multiclass", "multiclass")


@pytest.fixture(scope="session")
def regression_run(artifact_root):
    return _train(artifact_root, "regression", "regression", batch_norm=True)


@pytest.fixture(scope="session")
def shrunk_run(artifact_root):
    """Every table a ShrunkEmbedding (the default gives one only to features with ≥ 1,000 values)."""
    return _train(artifact_root, "binary", "shrunk", shrinkage_min_values=0)


@pytest.fixture(scope="session")
def expanded_run(artifact_root):
    """Numeric scores expanded into piecewise-linear ramps (features/piecewise_linear.py)."""
    return _train(artifact_root, "regression", "expanded", numeric_encoding="ple", ple_bins=8)


@pytest.fixture(scope="session", params=["binary", "multiclass", "regression", "expanded"])
def any_run(request):
    return request.getfixturevalue(f"{request.param}_run")


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """``catembed train --demo --epochs 1``: the built-in table, spec and network, one epoch
    (vocabularies do not depend on epochs). ``.path`` is the version folder."""
    from types import SimpleNamespace

    from cli.main import main

    out = tmp_path_factory.mktemp("demo")
    assert main(["train", "--demo", "--epochs", "1", "--out", str(out)]) == 0
    return SimpleNamespace(path=out / "flights" / "1")
