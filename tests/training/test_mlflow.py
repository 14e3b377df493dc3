"""MLflow tracking of ``catembed train`` and the pyfunc model, against real MLflow stores.

``catembed train --mlflow sqlite:///… --register NAME`` runs once on a small table (2 epochs);
the run must hold the bundle's settings, per-epoch history, metrics, report and files, and the
registered model must answer as ``catembed predict``. One test logs a session bundle to a real
``mlflow server`` on loopback. Without MLflow asked for, training never imports mlflow."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pandas as pd
import pytest

from cli.main import main
from tests.app.live import free_port
from tests.synthetic import planted_frame
from training import tracking

pytestmark = pytest.mark.slow
TRAIN = ["--target", "label", "--epochs", "2", "--hidden", "16", "--batch-size", "128", "--seed", "1"]


@pytest.fixture(scope="module")
def planted_csv(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mlflow-data") / "planted.csv"
    planted_frame(n=800, task="multiclass").to_csv(path, index=False)
    return path


@pytest.fixture(scope="module")
def tracked(planted_csv, tmp_path_factory):
    import mlflow

    folder = tmp_path_factory.mktemp("mlflow-store")
    uri = f"sqlite:///{folder / 'mlflow.db'}"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(folder)  # a sqlite store keeps its artifacts in ./mlruns
        patch.setenv("MLFLOW_TRACKING_URI", "")  # mlflow.set_tracking_uri() also sets it: restored (unset) after
        patch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
        args = ["train", "--data", str(planted_csv), *TRAIN, "--name", "planted", "--out", str(folder / "models")]
        assert main([*args, "--mlflow", uri, "--register", "catembed-planted"]) == 0
    client = mlflow.MlflowClient(uri)
    (run,) = client.search_runs([client.get_experiment_by_name("planted").experiment_id])
    bundle = folder / "models" / "planted" / "1"
    manifest = json.loads((bundle / "manifest.json").read_text())
    yield SimpleNamespace(uri=uri, client=client, run=run, bundle=bundle, manifest=manifest, folder=folder)
    mlflow.set_tracking_uri(None)  # the CLI set it for this process: later tests start without it


def test_train_logs_settings_history_metrics_and_files(tracked):
    run, manifest, client = tracked.run, tracked.manifest, tracked.client
    params = run.data.params
    config = manifest["training"]["config"]
    assert params["task"] == "multiclass" and params["target"] == "label"
    assert params["categorical"] == "color,city,size" and params["numeric"] == "x,noise"
    assert params["config.epochs"] == "2" and params["config.hidden_units"] == "16"
    assert {k.removeprefix("config.") for k in params if k.startswith("config.")} >= {k for k in config if config[k] != {}}
    history = manifest["training"]["history"]
    assert set(history) >= {"loss", "val_loss"}
    for key, values in history.items():
        logged = sorted(client.get_metric_history(run.info.run_id, key), key=lambda m: m.step)
        assert [m.step for m in logged] == list(range(1, len(values) + 1)), key
        np.testing.assert_allclose([m.value for m in logged], values, rtol=1e-12)
    for kind in ("holdout", "baseline"):
        for key, value in manifest["metrics"][kind].items():
            assert run.data.metrics[f"{kind}_{key}"] == pytest.approx(value)
    assert run.data.metrics["best_epoch"] == manifest["training"]["best_epoch"]
    listed = {a.path for a in client.list_artifacts(run.info.run_id, "bundle/planted/1")}
    assert listed == {f"bundle/planted/1/{p.name}" for p in tracked.bundle.iterdir()}
    assert "report.html" in {a.path for a in client.list_artifacts(run.info.run_id)}
    copy = Path(client.download_artifacts(run.info.run_id, "bundle/planted/1/manifest.json", str(tracked.folder)))
    assert copy.read_bytes() == (tracked.bundle / "manifest.json").read_bytes()
    (version,) = client.search_model_versions("name='catembed-planted'")
    assert version.run_id == run.info.run_id and str(version.version) == "1"


def test_registered_model_answers_like_catembed_predict(tracked, tmp_path):
    import mlflow

    from features.errors import InvalidInput

    mlflow.set_tracking_uri(tracked.uri)
    model = mlflow.pyfunc.load_model("models:/catembed-planted/1")
    frame = planted_frame(n=300, task="multiclass", seed=5).drop(columns="label")
    frame.loc[:4, "color"] = "never-seen"
    data, out = tmp_path / "rows.parquet", tmp_path / "scored.parquet"
    frame.to_parquet(data)
    assert main(["predict", str(tracked.bundle.parent), "--data", str(data), "--out", str(out)]) == 0
    expected = pd.read_parquet(out)
    answered = model.predict(frame.assign(extra_column=1))  # columns the model does not use are ignored
    assert list(answered.columns) == list(expected.columns) == ["p_high", "p_low", "p_mid", "label"]
    pd.testing.assert_frame_equal(answered, expected, check_exact=False, atol=1e-6, rtol=0, check_dtype=False)
    # nothing pickled for the model: its code is a file, the bundle is the bundle's own files
    local = Path(mlflow.artifacts.download_artifacts("models:/catembed-planted/1", dst_path=str(tmp_path / "model")))
    assert not list(local.rglob("*.pkl")) and (local / "mlflow_model.py").is_file()
    bundled = next(local.rglob("manifest.json")).parent
    assert sorted(p.name for p in bundled.iterdir()) == sorted(p.name for p in tracked.bundle.iterdir())
    with pytest.raises(InvalidInput, match="no column 'noise'"):
        model.predict(frame.drop(columns="noise"))
    with pytest.raises(InvalidInput) as bad:
        model.predict(frame.head(3).astype({"x": object}).assign(x=["1.5", "abc", None]))
    assert "x" in bad.value.message and "abc" in bad.value.message


def test_train_without_mlflow_never_imports_it(planted_csv, tmp_path, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    for name in [m for m in sys.modules if m.split(".")[0] == "mlflow" or m == "scoring.mlflow_model"]:
        monkeypatch.delitem(sys.modules, name)
    assert main(["train", "--data", str(planted_csv), *TRAIN, "--epochs", "1", "--name", "plain", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "plain" / "1" / "manifest.json").is_file()
    assert not [m for m in sys.modules if m.split(".")[0] == "mlflow"]


def test_tracking_that_cannot_happen_is_refused_before_training(planted_csv, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(tracking, "find_spec", lambda name: None)
    args = ["train", "--data", str(planted_csv), *TRAIN, "--name", "never", "--out", str(tmp_path)]
    assert main([*args, "--register", "x"]) == 2
    assert "pip install 'catembed[mlflow]'" in capsys.readouterr().err
    assert not (tmp_path / "never").exists()
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///nowhere.db")  # the variable alone asks for tracking
    assert main(args) == 2 and not (tmp_path / "never").exists()
    monkeypatch.undo()  # mlflow "installed" again: a tracking server that does not answer is refused as early
    silent = f"http://127.0.0.1:{free_port()}"
    assert main([*args, "--mlflow", silent]) == 2 and not (tmp_path / "never").exists()
    assert f"the MLflow tracking server {silent} does not answer" in capsys.readouterr().err


def test_a_real_mlflow_server_receives_the_run(tracked, binary_run, tmp_path, monkeypatch):
    import mlflow

    from scoring.mlflow_model import log_model

    database = tmp_path / "server.db"
    shutil.copy(tracked.folder / "mlflow.db", database)  # an initialised store: no schema migration at start
    port = free_port()
    command = [sys.executable, "-m", "mlflow", "server", "--host", "127.0.0.1", "--port", str(port), "--workers", "1"]
    command += ["--backend-store-uri", f"sqlite:///{database}", "--artifacts-destination", str(tmp_path / "artifacts")]
    server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    uri = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 180  # two imports of mlflow and a uvicorn worker: ~67 s seen at load 26
        while True:
            assert server.poll() is None, server.stderr.read()[-2000:]  # type: ignore[union-attr]
            assert time.time() < deadline, "mlflow server did not start"
            try:
                if httpx.get(f"{uri}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        mlflow.set_tracking_uri(None)  # forget the sqlite store of the tests before
        monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)  # as a user sets it: no --mlflow needed
        assert tracking.requested(None, None)
        run_id = tracking.track(binary_run.path, None, "catembed-binary", log_model)
        client = mlflow.MlflowClient(uri)
        run = client.get_run(run_id)
        assert run.data.metrics["holdout_roc_auc"] == pytest.approx(binary_run.manifest["metrics"]["holdout"]["roc_auc"])
        assert (tmp_path / "artifacts").is_dir() and any((tmp_path / "artifacts").rglob("report.html"))  # stored by the server
        model = mlflow.pyfunc.load_model("models:/catembed-binary/1")
        frame = pd.DataFrame([binary_run.manifest["example"]] * 2)
        probabilities = model.predict(frame)[["p_no", "p_yes"]].to_numpy()
        assert probabilities.shape == (2, 2) and np.allclose(probabilities.sum(axis=1), 1)
    finally:
        mlflow.set_tracking_uri(None)
        os.killpg(server.pid, signal.SIGTERM)  # the server and the workers it started (its own session)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
