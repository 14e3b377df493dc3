"""Issue 11: every category value seen at least min_frequency (5) times has its own vector, and
/model says per feature how many values have one, how many were folded, and the smallest count kept."""

from __future__ import annotations

from fastapi.testclient import TestClient

from app.main import create_app
from tests.app.conftest import settings_for

COVERAGE_KEYS = {
    "values_seen",
    "vocabulary_size",
    "values_folded",
    "table_rows",
    "training_rows",
    "rows_folded",
    "missing_rows",
    "folded_row_rate",
    "min_count_with_vector",
    "coverage",
}


def test_model_reports_coverage_per_categorical_feature(client, binary_run):
    model = client.get("/model").json()
    features = {f["name"]: f for f in model["features"]}
    for name in ("color", "city", "size"):
        feature = features[name]
        assert set(feature) >= COVERAGE_KEYS, feature
        encoder = binary_run.encoder.categorical_[name]
        assert feature["vocabulary_size"] == len(encoder.vocabulary_) == feature["table_rows"] - 1
        assert feature["values_seen"] == len(encoder.vocabulary_) + encoder.n_rare_values_
        assert feature["values_folded"] == encoder.n_rare_values_
        assert feature["min_count_with_vector"] == min(encoder.counts_) >= 5
        assert feature["coverage"] == 1.0  # default min_frequency 5: every value with ≥ 5 rows kept
        # one name, one meaning: the coverage section says the same under the same names
        assert {k: model["coverage"][name][k] for k in COVERAGE_KEYS} == {k: feature[k] for k in COVERAGE_KEYS}
        assert not {"rare_values_folded", "values_with_vector"} & (set(feature) | set(model["coverage"][name]))
    assert features["city"]["values_folded"] > 0  # the long tail of cities has values with < 5 rows
    assert features["city"]["values_seen"] > features["city"]["vocabulary_size"]
    assert "vocabulary_size" not in features["x"]  # numeric


def test_model_gives_todays_names_for_a_bundle_written_before_them(binary_run):
    with TestClient(create_app(settings_for(binary_run))) as client:
        for feature in client.app.state.repository.default().manifest["features"]:  # a freshly loaded copy: safe to edit
            if feature["kind"] == "categorical":  # as bundles of earlier rounds wrote them
                for key in COVERAGE_KEYS - {"vocabulary_size", "missing_rows"}:
                    feature.pop(key, None)
                feature["rare_values_folded"] = feature["values_with_vector"] = -1
        city = next(f for f in client.get("/model").json()["features"] if f["name"] == "city")
        encoder = binary_run.encoder.categorical_["city"]
        assert city["vocabulary_size"] == len(encoder.vocabulary_) and city["values_folded"] == encoder.n_rare_values_
        assert set(city) >= COVERAGE_KEYS and not {"rare_values_folded", "values_with_vector"} & set(city)


def test_the_readme_tail_number_has_its_own_vector_on_the_demo(demo_run):
    with TestClient(create_app(settings_for(demo_run))) as client:
        body = client.get("/embeddings/tailnum/N14228").json()
        assert body["unknown"] is False and body["index"] > 0 and body["count"] >= 5, body
        tailnum = next(f for f in client.get("/model").json()["features"] if f["name"] == "tailnum")
    # the old default (0.15 % of the rows, 48 here) kept 4 of ~3,500 tail numbers
    assert tailnum["vocabulary_size"] > 2000 and tailnum["coverage"] == 1.0
    assert tailnum["min_count_with_vector"] == 5
