"""A real uvicorn process on a free loopback port, called over HTTP."""

import httpx
import pytest

from tests.app.live import LiveServer


@pytest.fixture(scope="module")
def server(binary_run):
    live = LiveServer(binary_run.path.parent).wait_ready()
    yield live.url
    live.stop()


def test_real_server_ready_predict_embeddings(server, binary_run):
    with httpx.Client(base_url=server, timeout=5) as http:
        assert http.get("/ready").json()["status"] == "ready"
        response = http.post("/predict", json=binary_run.manifest["example"])
        assert response.status_code == 200 and response.headers["content-type"] == "application/json"
        assert response.json()["predictions"][0]["label"] in ("no", "yes")
        vector = http.get("/embeddings/color/red").json()["vector"]
        assert len(vector) == binary_run.manifest["features"][0]["embedding_dim"]
        assert http.post("/predict", content=b"{").status_code == 422


def test_missing_bundle_exits_with_one_clear_line(tmp_path):
    live = LiveServer(tmp_path / "empty")
    _, stderr = live.process.communicate(timeout=30)
    assert live.process.returncode != 0
    assert "catembed cannot start: no model version found in" in stderr
    assert "Traceback" not in stderr
