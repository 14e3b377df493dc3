"""Multi-worker training: two real ``catembed train`` processes joined by TF_CONFIG, and
``--workers 2`` on a real local Ray cluster. Each writes one normal bundle, from the chief."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from bench.workers import free_ports
from cli.main import main
from features.artifacts import list_versions, load_bundle
from features.errors import DataError
from tests.synthetic import planted_frame
from tests.training.test_weight_average import served_holdout_loss_matches_the_best_epoch
from training.distributed.cluster import Cluster, cluster_from_env

CATEMBED = str(Path(sys.executable).parent / "catembed")
FAST = ["--target", "label", "--name", "planted", "--epochs", "6", "--patience", "2", "--batch-size", "128"]
FAST += ["--hidden", "32,16", "--seed", "3"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    """A tiny table as a folder of Parquet shards: every worker streams its share of them."""
    folder = tmp_path_factory.mktemp("shards")
    frame = planted_frame(3200, task="binary")
    for i in range(4):
        frame.iloc[i * 800 : (i + 1) * 800].to_parquet(folder / f"part-{i}.parquet", row_group_size=400)
    return folder


def assert_one_normal_bundle(out: Path, workers: int) -> None:
    assert list_versions(out / "planted") == [1]  # written once, by the chief
    bundle = load_bundle(out / "planted")
    training = bundle.manifest["training"]
    assert training["workers"] == workers
    assert bundle.manifest["parity"]["max_abs_diff"] <= 1e-5
    holdout = bundle.manifest["metrics"]["holdout"]
    assert holdout["roc_auc"] > 0.8  # it learned the planted signal
    # the keys fit gives: the report draws the training and holdout curves of the loss and the metric
    assert {"loss", "auc", "fit_loss", "val_loss", "val_auc", "val_fit_loss", "learning_rate"} == set(training["history"])
    assert all(len(values) == training["epochs_run"] for values in training["history"].values())
    # the loop evaluates and keeps the averaged weights (weight_average), as fit's callbacks do
    assert training["config"]["weight_average"] == 1.0
    assert training["config"]["table_optimizer"] == "lazy_adam"  # row-sparse tables under the strategy too
    assert served_holdout_loss_matches_the_best_epoch(bundle) < 2e-4
    # the served NumPy graph is the saved Keras model
    from training.loop.table_optimizer import TableOptimizer
    from training.model.saved import load_keras_model

    model = load_keras_model(bundle.path / "model.keras")
    assert isinstance(model.optimizer, TableOptimizer)
    rows = planted_frame(300, task="binary", seed=11)
    inputs = bundle.encoder.transform(rows).model_inputs()
    n_categorical = len(bundle.encoder.categorical)
    expected = np.asarray(model.predict(inputs, verbose=0))
    got = bundle.graph([c.reshape(-1) for c in inputs[:n_categorical]], inputs[n_categorical])
    np.testing.assert_allclose(got, expected, atol=1e-5)


@pytest.mark.slow
@pytest.mark.timeout(300)
@pytest.mark.parametrize("extra", [[], ["--batch-ensemble", "3"]], ids=["one_network", "batch_ensemble"])
def test_two_tf_config_processes_train_one_bundle(shards, tmp_path, extra):
    # a batch ensemble's members each learn from their own loss in the hand-written loop too
    hosts = [f"127.0.0.1:{port}" for port in free_ports(2)]
    out = tmp_path / "out"
    processes = []
    for index in range(2):
        tf_config = json.dumps({"cluster": {"worker": hosts}, "task": {"type": "worker", "index": index}})
        processes.append(
            subprocess.Popen(
                [CATEMBED, "train", "--data", str(shards), "--out", str(out), *FAST, *extra],
                env={**os.environ, "TF_CONFIG": tf_config},
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results = [p.communicate(timeout=240) for p in processes]
    for p, (_, stderr) in zip(processes, results, strict=True):
        assert p.returncode == 0, stderr[-3000:]
    chief, other = results[0][0], results[1][0]
    assert "wrote " in chief and "wrote " not in other
    # the same epochs, the same numbers: every worker took the chief's decisions
    assert [line for line in chief.splitlines() if line.startswith("epoch")] == [
        line for line in other.splitlines() if line.startswith("epoch")
    ]
    assert_one_normal_bundle(out, workers=2)
    if extra:
        assert load_bundle(out / "planted").manifest["training"]["batch_ensemble"] == {"members": 3}


def on_local_ray(*args: str) -> subprocess.CompletedProcess[str]:
    """``catembed train *args --workers 2``, starting its own local Ray cluster."""
    pytest.importorskip("ray", reason="Ray is the optional extra catembed[distributed]")
    # Ray writes /tmp/ray and ~/.ray: both go to a short temporary folder (its socket paths must stay short)
    ray_home = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))
    env = {**os.environ, "RAY_TMPDIR": str(ray_home), "HOME": str(ray_home)}
    env.pop("RAY_ADDRESS", None)
    try:
        return subprocess.run(
            [CATEMBED, "train", *args, "--workers", "2"], env=env, capture_output=True, text=True, timeout=360, check=False
        )
    finally:
        shutil.rmtree(ray_home, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_two_ray_workers_train_one_bundle(shards, tmp_path):
    out = tmp_path / "out"
    run = on_local_ray("--data", str(shards), "--out", str(out), *FAST)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "training on 2 Ray workers (a local cluster)" in run.stdout
    assert_one_normal_bundle(out, workers=2)


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_bad_input_in_a_ray_worker_is_one_line_and_exit_2(shards, tmp_path):
    run = on_local_ray("--data", str(shards), "--out", str(tmp_path), *FAST, "--target", "no_such_column")
    assert run.returncode == 2, run.stderr[-3000:]
    last = run.stderr.strip().splitlines()[-1]
    assert last.startswith("error: worker ") and "no_such_column" in last
    assert not (tmp_path / "planted").exists()


def test_malformed_tf_config_is_one_line_and_exit_2(shards, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TF_CONFIG", '{"cluster": {"worker": ["127.0.0.1:1"')
    assert main(["train", "--data", str(shards), "--out", str(tmp_path), *FAST]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: TF_CONFIG is not a valid cluster description") and "\n" not in err
    assert not (tmp_path / "planted").exists()


def test_cluster_from_tf_config():
    def cluster(config: dict) -> Cluster | None:
        return cluster_from_env({"TF_CONFIG": json.dumps(config)})

    assert cluster_from_env({}) is None
    assert cluster({"cluster": {"worker": ["a:1"]}, "task": {"type": "worker", "index": 0}}) is None  # one worker: no cluster
    two = cluster({"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 1}})
    assert two == Cluster(2, 1) and not two.is_chief
    # a launcher's "chief" task is worker 0 of the collective; the workers come after it
    assert cluster({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "chief", "index": 0}}) == Cluster(2, 0)
    assert cluster({"cluster": {"chief": ["a:1"], "worker": ["b:1"]}, "task": {"type": "worker", "index": 0}}) == Cluster(2, 1)
    for bad in (
        {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "worker", "index": 2}},
        {"cluster": {"worker": ["a:1", "b:1"]}, "task": {"type": "ps", "index": 0}},
        {"cluster": {"worker": "a:1,b:1"}, "task": {"type": "worker", "index": 0}},
        {"cluster": {"worker": ["a:1", "b:1"]}},
    ):
        with pytest.raises(DataError, match="TF_CONFIG"):
            cluster(bad)


def test_one_worker_never_imports_ray(tmp_path):
    (tmp_path / "data.csv").write_text("a,b\n1,2\n")  # refused for its absent target, after the training imports
    code = (
        "import sys; from cli.main import main; "
        f"code = main(['train', '--data', {str(tmp_path / 'data.csv')!r}, '--target', 'y', '--name', 'x', '--workers', '1']); "
        "print(code, 'ray' in sys.modules, 'training.distributed.cluster' in sys.modules)"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False)
    # through the train path (its progress lines first), without Ray
    assert run.stdout.splitlines()[-1].split() == ["2", "False", "True"], run.stderr[-2000:]
