"""GET /report: the served bundle's report.html, open like /model, 404 for bundles without one."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from tests.app.conftest import assert_error, settings_for
from tests.cli.test_report_command import without_report


def test_serves_the_bundles_report(client, binary_run):
    response = client.get("/report")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.content == (binary_run.path / "report.html").read_bytes()
    # the browser itself refuses any request the page might make to another origin
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_is_open_when_an_api_key_is_set(binary_run):
    with TestClient(create_app(settings_for(binary_run, api_key="s3cret"))) as c:
        assert c.get("/report").status_code == 200
        assert c.post("/predict", json=binary_run.manifest["example"]).status_code == 401  # the key is really on


def test_a_bundle_without_a_report_is_a_404(binary_run, tmp_path):
    with TestClient(create_app(Settings(model_dir=without_report(binary_run.path, tmp_path)))) as c:
        error = assert_error(c.get("/report"), 404, field="report")
        assert "has no training report" in error["message"]
        assert c.get("/model").status_code == 200  # the older bundle is otherwise served as before
