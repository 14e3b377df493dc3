"""GET /metrics: request counts and latency per route template, predictions, drift signals."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import settings_for
from tests.app.test_reload import metric


@pytest.fixture
def fresh(binary_run):
    """An app of its own: counters start at zero."""
    with TestClient(create_app(settings_for(binary_run))) as client:
        yield client


def test_drift_counters_after_unseen_categories_and_missing_numbers(fresh, example):
    unseen = {**example, "color": "ultraviolet"}
    imputed = {**example, "x": None}
    clean = dict(example)
    response = fresh.post("/predict", json={"records": [unseen, unseen, imputed, clean]})
    assert response.status_code == 200
    assert fresh.post("/embed", json=unseen).status_code == 200  # /embed counts drift too
    text = fresh.get("/metrics").text
    key = {"model": "binary", "version": "1"}
    assert metric(text, "catembed_records_total", **key) == 5
    assert metric(text, "catembed_predictions_total", **key) == 4
    assert metric(text, "catembed_unknown_category_total", feature="color", **key) == 3
    assert metric(text, "catembed_unknown_category_total", feature="city", **key) == 0
    assert metric(text, "catembed_unknown_category_rate", feature="color", **key) == pytest.approx(3 / 5)
    assert metric(text, "catembed_imputed_numeric_total", feature="x", **key) == 1
    assert metric(text, "catembed_imputed_numeric_rate", feature="x", **key) == pytest.approx(1 / 5)
    assert metric(text, "catembed_imputed_numeric_total", feature="noise", **key) == 0


def test_requests_and_latency_by_route_template_and_status(fresh, example):
    fresh.post("/predict", json=example)
    fresh.post("/predict", content=b"{")
    assert fresh.get("/embeddings/color/red").status_code == 200
    assert fresh.get("/embeddings/color/blue").status_code == 200
    fresh.get("/no/such/path")
    text = fresh.get("/metrics").text
    assert metric(text, "catembed_http_requests_total", route="/predict", status="200") == 1
    assert metric(text, "catembed_http_requests_total", route="/predict", status="422") == 1
    # one series for every value looked up, not one per value
    assert metric(text, "catembed_http_requests_total", route="/embeddings/{feature}/{value:path}", status="200") == 2
    assert metric(text, "catembed_http_requests_total", route="unmatched", status="404") == 1
    assert 'route="/embeddings/color/red"' not in text and "/no/such/path" not in text
    count = metric(text, "catembed_http_request_duration_seconds_count", route="/predict", status="200")
    below_10s = metric(text, "catembed_http_request_duration_seconds_bucket", route="/predict", status="200", le="10.0")
    total = metric(text, "catembed_http_request_duration_seconds_sum", route="/predict", status="200")
    assert count == below_10s == 1 and 0 < total < 10


def test_model_info_load_time_and_content_type(fresh):
    response = fresh.get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain; version=")
    text = response.text
    assert metric(text, "catembed_model_info", model="binary", version="1", task="binary") == 1
    assert 0 < metric(text, "catembed_model_load_seconds", model="binary", version="1") < 30
    assert metric(text, "catembed_predictions_total", model="binary", version="1") == 0  # the warm-up is not counted
    assert metric(text, "catembed_build_info") == 1
