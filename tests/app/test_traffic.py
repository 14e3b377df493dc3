"""The explorer's own requests (X-Catembed-Client: explorer) stay out of the served-traffic figures."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import settings_for
from tests.app.test_reload import metric

MARK = {"X-Catembed-Client": "explorer"}


def test_marked_predictions_answer_the_same_and_count_nowhere_served(binary_run, example):
    unseen = {**example, "city": "a city never seen", "x": None}
    with TestClient(create_app(settings_for(binary_run))) as client:
        marked = client.post("/predict", json={"records": [unseen, example]}, headers=MARK)
        one = client.post("/predict", json=unseen, headers=MARK)
        columns = client.post("/predict?orient=columns", json={"records": [unseen]}, headers=MARK)
        assert client.post("/embed", json=unseen, headers=MARK).status_code == 200
        assert client.get("/", headers=MARK).status_code == 200
        assert marked.status_code == one.status_code == columns.status_code == 200
        coverage = client.get("/model", headers=MARK).json()["coverage"]["city"]
        assert coverage["served_rows"] == 0 and coverage["served_unknown_rate"] is None
        text = client.get("/metrics", headers=MARK).text
        key = {"model": "binary", "version": "1"}
        assert metric(text, "catembed_records_total", **key) == 0
        assert metric(text, "catembed_predictions_total", **key) == 0
        assert metric(text, "catembed_unknown_category_total", feature="city", **key) == 0
        assert metric(text, "catembed_explorer_requests_total", route="/predict", status="200") == 3
        assert metric(text, "catembed_explorer_requests_total", route="/", status="200") == 1
        assert "catembed_http_requests_total{" not in text

        plain = client.post("/predict", json={"records": [unseen, example]})  # the same batch, not marked
        assert plain.json() == marked.json()
        coverage = client.get("/model").json()["coverage"]["city"]
        assert coverage["served_rows"] == 2 and coverage["served_unknown"] == 1
        text = client.get("/metrics").text
        assert metric(text, "catembed_unknown_category_total", feature="city", **key) == 1
        assert metric(text, "catembed_http_requests_total", route="/predict", status="200") == 1
