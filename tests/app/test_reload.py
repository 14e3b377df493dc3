"""Hot reload: a new version lands while requests flow; bad versions are refused."""

from __future__ import annotations

import shutil
import threading
import time

import httpx
import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from app.main import create_app
from app.settings import Settings
from tests.app.conftest import assert_error
from tests.app.live import LiveServer
from tests.conftest import _train


def metric(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    raise AssertionError(f"{name} {labels} is not in /metrics")


@pytest.fixture
def model_dir(tmp_path, binary_run):
    """A model folder of our own holding a copy of the session's binary model as version 1."""
    folder = tmp_path / "binary"
    shutil.copytree(binary_run.path, folder / "1")
    return folder


@pytest.mark.slow
def test_new_version_lands_under_load_without_a_failed_request(model_dir, binary_run):
    example = binary_run.manifest["example"]
    outcomes: list[tuple[int, int | None, float | None]] = []
    stop = threading.Event()

    def traffic(url: str) -> None:
        with httpx.Client(base_url=url, timeout=10) as http:
            while not stop.is_set() and len(outcomes) < 20_000:
                response = http.post("/predict", json=example)
                body = response.json() if response.status_code == 200 else {}
                proba = body["predictions"][0]["probabilities"]["yes"] if body else None
                outcomes.append((response.status_code, body.get("version"), proba))

    with LiveServer(model_dir, CATEMBED_RELOAD_INTERVAL="0.2") as server:
        worker = threading.Thread(target=traffic, args=(server.url,))
        worker.start()
        try:
            time.sleep(0.5)
            _train(model_dir.parent, "binary", "binary", seed=1)  # writes version 2 atomically
            deadline = time.time() + 30
            while time.time() < deadline and not (outcomes and outcomes[-1][1] == 2):
                time.sleep(0.1)
            time.sleep(0.3)  # a few more requests on the new version
        finally:
            stop.set()
            worker.join(timeout=15)
        metrics = httpx.get(f"{server.url}/metrics").text
        log = server.stop()

    statuses = {status for status, _, _ in outcomes}
    versions = [version for _, version, _ in outcomes]
    assert statuses == {200}, f"failed requests during the reload: {statuses}"
    assert versions[0] == 1 and versions[-1] == 2, versions[-5:]
    switch = versions.index(2)
    assert set(versions[:switch]) == {1} and set(versions[switch:]) == {2}, "responses went back to the old version"
    old = {p for _, v, p in outcomes if v == 1}
    new = {p for _, v, p in outcomes if v == 2}
    assert len(old) == 1 and len(new) == 1 and old != new, "the second version should predict differently"
    assert metric(metrics, "catembed_model_reloads_total", result="loaded") == 1
    assert metric(metrics, "catembed_model_info", version="2") == 1
    assert metric(metrics, "catembed_model_info", version="1") == 0
    assert "now serving version 2 (was 1" in log


def test_corrupt_version_is_refused_and_the_old_one_keeps_serving(model_dir, binary_run):
    example = binary_run.manifest["example"]
    with TestClient(create_app(Settings(model_dir=model_dir, allow_admin_without_key=True))) as client:
        shutil.copytree(model_dir / "1", model_dir / "2")
        with open(model_dir / "2" / "graph.npz", "r+b") as fh:
            fh.seek(100)
            fh.write(b"\x00garbage\x00")
        error = assert_error(client.post("/admin/reload"), 409, "version")
        assert error["type"] == "reload_refused" and error["value"] == 2
        assert "sha256" in error["message"] and "still serving version 1" in error["message"]
        assert client.post("/predict", json=example).json()["version"] == 1
        # remembered: the next check does not try it again
        again = client.post("/admin/reload")
        assert again.status_code == 200, again.text
        assert again.json()["status"] == "unchanged" and "2" in again.json()["refused"]
        metrics = client.get("/metrics").text
        assert metric(metrics, "catembed_model_reloads_total", result="refused") == 1
        # a good version after the bad one is taken
        shutil.copytree(model_dir / "1", model_dir / "3")
        swapped = client.post("/admin/reload").json()
        assert swapped["status"] == "reloaded" and swapped["version"] == 3 and swapped["previous"] == 1
        assert client.post("/predict", json=example).json()["version"] == 3
        assert client.get("/ready").json()["version"] == 3


def test_a_version_caught_half_copied_is_loaded_once_the_copy_completes(model_dir, binary_run):
    """A refused version is not tried again while its files stay as they were, but a copy that was
    still running when the poll looked (graph.npz half written) loads once the files are complete."""
    example = binary_run.manifest["example"]
    with TestClient(create_app(Settings(model_dir=model_dir, allow_admin_without_key=True))) as client:
        shutil.copytree(model_dir / "1", model_dir / "2")
        graph = (model_dir / "2" / "graph.npz").read_bytes()
        (model_dir / "2" / "graph.npz").write_bytes(graph[: len(graph) // 2])  # the copy is not done yet
        assert_error(client.post("/admin/reload"), 409, "version")
        assert client.post("/admin/reload").json()["status"] == "unchanged"  # unchanged files: not retried
        (model_dir / "2" / "graph.npz").write_bytes(graph)  # the copy completes
        swapped = client.post("/admin/reload").json()
        assert swapped["status"] == "reloaded" and swapped["version"] == 2 and swapped["refused"] == {}
        assert client.post("/predict", json=example).json()["version"] == 2


def test_incompatible_version_is_refused(model_dir, multiclass_run, binary_run):
    with TestClient(create_app(Settings(model_dir=model_dir, allow_admin_without_key=True))) as client:
        shutil.copytree(multiclass_run.path, model_dir / "2")  # same features, other task and labels
        error = assert_error(client.post("/admin/reload"), 409, "version")
        assert "incompatible" in error["message"] and "task binary -> multiclass" in error["message"]
        response = client.post("/predict", json=binary_run.manifest["example"])
        assert response.json()["version"] == 1 and response.json()["predictions"][0]["label"] in ("no", "yes")


def test_pinned_version_is_never_replaced(model_dir):
    shutil.copytree(model_dir / "1", model_dir / "2")
    with TestClient(create_app(Settings(model_dir=model_dir, model_version=1, allow_admin_without_key=True))) as client:
        body = client.post("/admin/reload").json()
        assert body["status"] == "unchanged" and body["version"] == 1
