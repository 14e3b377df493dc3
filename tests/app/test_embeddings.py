from urllib.parse import quote

import numpy as np
import pytest

from tests.app.conftest import assert_error


def weights(run, feature):
    return run.model.get_layer(f"embedding_{feature}").get_weights()[0]


def test_vector_is_the_learned_row(client, binary_run):
    body = client.get("/embeddings/color/red").json()
    index = binary_run.encoder.categorical_["color"].index_["red"]
    assert body["index"] == index and body["unknown"] is False and body["dimension"] == len(body["vector"])
    np.testing.assert_allclose(body["vector"], weights(binary_run, "color")[index], rtol=1e-6)
    assert body["count"] == binary_run.encoder.categorical_["color"].counts_[index - 1]


@pytest.mark.parametrize("spelling", ["1", "1.0", "01.0", " 1 "])
def test_numeric_spellings_resolve_as_in_training(client, spelling):
    if spelling == "01.0":  # leading zeros are identifiers, not numbers
        assert_error(client.get(f"/embeddings/size/{quote(spelling)}"), 404, "value")
        return
    body = client.get(f"/embeddings/size/{quote(spelling)}").json()
    assert body["canonical_value"] == "1" and body["index"] > 0


def test_values_with_slash_space_unicode(client, binary_run):
    body = client.get("/embeddings/city/" + quote("city/0 é", safe="")).json()
    assert body["canonical_value"] == "city/0 é"
    np.testing.assert_allclose(body["vector"], weights(binary_run, "city")[body["index"]], rtol=1e-6)


def test_unseen_value_is_404_naming_it_unless_fallback(client, binary_run):
    error = assert_error(client.get("/embeddings/color/purple"), 404, "value")
    assert "'purple'" in error["message"] and "fallback=unknown" in error["message"]
    body = client.get("/embeddings/color/purple?fallback=unknown").json()
    assert body["unknown"] is True and body["index"] == 0
    np.testing.assert_allclose(body["vector"], weights(binary_run, "color")[0], rtol=1e-6)
    assert_error(client.get("/embeddings/color/purple?fallback=nearest"), 422)


def test_unknown_or_numeric_feature_lists_the_features(client):
    error = assert_error(client.get("/embeddings/colour/red"), 404, "feature")
    assert "'color', 'city', 'size'" in error["message"]
    error = assert_error(client.get("/embeddings/x/1"), 404, "feature")
    assert "numeric" in error["message"]


def test_table_is_paginated(client, binary_run):
    first = client.get("/embeddings/city?limit=5").json()
    total = len(binary_run.encoder.categorical_["city"].vocabulary_) + 1
    assert first["total"] == total and len(first["items"]) == 5
    assert first["items"][0] == {**first["items"][0], "value": None, "index": 0, "unknown": True}
    rest = client.get(f"/embeddings/city?offset=5&limit={total}").json()
    assert [i["index"] for i in first["items"] + rest["items"]] == list(range(total))
    assert_error(client.get("/embeddings/city?limit=0"), 422, "query.limit")
    assert_error(client.get("/embeddings/city?offset=-1"), 422, "query.offset")


def test_neighbors_by_cosine(client, binary_run):
    body = client.get("/embeddings/city/" + quote("city/0 é", safe="") + "/neighbors?k=4").json()
    table = weights(binary_run, "city")
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    me = body["index"]
    scores = unit[1:] @ unit[me]
    scores[me - 1] = -np.inf
    expected = (np.argsort(-scores)[:4] + 1).tolist()
    assert [n["index"] for n in body["neighbors"]] == expected
    assert all(a["score"] >= b["score"] for a, b in zip(body["neighbors"], body["neighbors"][1:], strict=False))
    assert me not in expected
    assert_error(client.get("/embeddings/city/nowhere/neighbors"), 404, "value")
    assert_error(client.get("/embeddings/color/red/neighbors?k=0"), 422, "query.k")
