"""A real uvicorn process on a free loopback port, called over HTTP."""

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(model_dir: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "CATEMBED_MODEL_DIR": str(model_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "training.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.fixture(scope="module")
def server(binary_run):
    port = free_port()
    process = serve(binary_run.path.parent, port)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            if httpx.get(f"{url}/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.1)
    else:
        process.kill()
        pytest.fail("server did not become ready: " + process.stderr.read()[-2000:])
    yield url
    process.terminate()
    process.wait(timeout=10)


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
    process = serve(tmp_path / "empty", free_port())
    _, stderr = process.communicate(timeout=30)
    assert process.returncode != 0
    assert "catembed cannot start: no model version found in" in stderr
    assert "Traceback" not in stderr
