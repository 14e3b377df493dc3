"""The real images and the real compose stack: build, train in a volume, serve, call, tear down.

Needs a Docker engine with Compose v2 (``../shared/tools/container-sandbox up`` provides one on
these machines; .ci/run calls it). Without an engine the module is skipped, saying why.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from tests.app.live import ROOT, free_port
from tests.synthetic import planted_frame

pytestmark = [pytest.mark.docker, pytest.mark.slow, pytest.mark.timeout(1800)]


def engine_missing() -> str | None:
    if shutil.which("docker") is None:
        return "no docker CLI here (../shared/tools/container-sandbox up installs an engine)"
    for command in (["docker", "info"], ["docker", "compose", "version"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60)
        if result.returncode != 0:
            return f"`{' '.join(command)}` failed: {(result.stderr or result.stdout).strip()[-300:]}"
    return None


class Stack:
    def __init__(self) -> None:
        self.project = f"catembedtest{os.getpid()}"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**os.environ, "COMPOSE_BAKE": "false", "CATEMBED_PORT": str(self.port), "CATEMBED_RELOAD_INTERVAL": "0"}

    def compose(self, *args: str, check: bool = True, timeout: float = 1200) -> subprocess.CompletedProcess:
        command = ["docker", "compose", "-p", self.project, "-f", str(ROOT / "docker-compose.yml"), *args]
        result = subprocess.run(command, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            logs = subprocess.run([*command[:6], "logs", "--tail", "40"], cwd=ROOT, env=self.env, capture_output=True, text=True)
            raise AssertionError(f"{' '.join(args)} failed:\n{result.stderr[-3000:]}\n{logs.stdout[-3000:]}")
        return result


@pytest.fixture(scope="module")
def stack():
    reason = engine_missing()
    if reason:
        pytest.skip(reason)
    stack = Stack()
    try:
        started = time.perf_counter()
        stack.compose("build")
        built = time.perf_counter()
        stack.compose("up", "--wait", "--wait-timeout", "600")
        print(f"\ncompose build {built - started:.1f} s, up --wait {time.perf_counter() - built:.1f} s")
        yield stack
    finally:
        stack.compose("down", "-v", "--remove-orphans", check=False, timeout=300)


def test_fresh_stack_trains_then_serves(stack):
    with httpx.Client(base_url=stack.url, timeout=10) as http:
        ready = http.get("/ready").json()
        assert ready == {"status": "ready", "model": "flights", "version": 1}
        example = http.get("/model").json()["example"]
        prediction = http.post("/predict", json=example).json()
        assert prediction["model"] == "flights" and prediction["version"] == 1
        assert set(prediction["predictions"][0]["probabilities"]) == {"0", "1"}
        vector = http.get(f"/embeddings/carrier/{example['carrier']}").json()
        assert vector["feature"] == "carrier" and len(vector["vector"]) > 0
        neighbors = http.get(f"/embeddings/carrier/{example['carrier']}/neighbors", params={"k": 3}).json()
        assert len(neighbors["neighbors"]) == 3
        assert http.post("/predict", content=b"{").status_code == 422
        assert 'catembed_predictions_total{model="flights",version="1"} 1.0' in http.get("/metrics").text
    assert "wrote /models/flights/1" in stack.compose("logs", "train").stdout
    status = stack.compose("ps", "--format", "{{.Service}} {{.Status}}").stdout
    assert "(healthy)" in status, status


def test_images_run_unprivileged_and_the_service_carries_no_tensorflow(stack):
    def inspect(image: str, template: str) -> str:
        return subprocess.run(
            ["docker", "image", "inspect", "--format", template, image], capture_output=True, text=True
        ).stdout.strip()

    for image in ("catembed:api", "catembed:train"):
        assert inspect(image, "{{.Config.User}}") == "10001:10001"
        print(f"{image}: {int(inspect(image, '{{.Size}}')) / 1e6:.0f} MB")
    assert "/health" in inspect("catembed:api", "{{json .Config.Healthcheck.Test}}")
    probe = "import importlib.util as u; print([m for m in ('tensorflow', 'pandas', 'sklearn') if u.find_spec(m)])"
    result = subprocess.run(["docker", "run", "--rm", "catembed:api", "python", "-c", probe], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "[]", result.stderr
    assert stack.compose("exec", "-T", "api", "id", "-u").stdout.strip() == "10001"


def test_train_your_own_data_then_a_second_up_skips_training(stack):
    folder = Path(tempfile.mkdtemp(prefix="catembed-data-"))
    try:
        folder.chmod(0o755)
        planted_frame(n=800).to_csv(folder / "my.csv", index=False)
        (folder / "my.csv").chmod(0o644)
        trained = stack.compose(
            "run", "--rm", "-v", f"{folder}:/data:ro", "train",
            "catembed", "train", "--data", "/data/my.csv", "--target", "label", "--name", "mymodel", "--out", "/models", "--epochs", "2",
        )  # fmt: skip
        assert "wrote /models/mymodel/1" in trained.stdout, trained.stdout[-2000:]
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    stack.compose("up", "--wait", "--wait-timeout", "300")
    logs = stack.compose("logs", "train").stdout
    assert "a flights model is already in /models: not training" in logs
    assert httpx.get(f"{stack.url}/ready", timeout=10).json()["version"] == 1
