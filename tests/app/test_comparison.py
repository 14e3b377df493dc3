"""GET /embeddings/{feature}/compare: two versions aligned by orthogonal Procrustes, the values that moved."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.comparison import procrustes_distances
from app.main import create_app
from app.settings import Settings
from tests.app.conftest import assert_error
from tests.app.versions import versions_with_a_moved_value


def test_a_rotated_scaled_shifted_copy_has_not_moved_but_an_edited_row_has():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(300, 8))
    rotation, _ = np.linalg.qr(rng.normal(size=(8, 8)))
    b = 3.0 * a @ rotation.T + 5.0
    distance, disparity = procrustes_distances(a, b)
    assert distance.max() < 1e-9 and disparity < 1e-12
    b[17] += 4.0 * rng.normal(size=8)
    distance, _ = procrustes_distances(a, b)
    assert int(distance.argmax()) == 17 and distance[17] > 10 * np.median(distance)
    # a narrower table is padded with zero columns: a 6-wide table and an 8-wide rotation of it align
    distance, _ = procrustes_distances(a[:, :6], np.pad(a[:, :6], ((0, 0), (0, 2))) @ rotation.T)
    assert distance.max() < 1e-9


@pytest.fixture(scope="module")
def versions(tmp_path_factory, binary_run):
    """Version 1 is the session's binary model, version 2 a copy, version 3 a copy in which one city's vector moved."""
    folder = tmp_path_factory.mktemp("compare") / "binary"
    return folder, versions_with_a_moved_value(folder, binary_run, 3)


def test_the_moved_value_comes_first_and_an_identical_copy_has_not_moved(versions, binary_run):
    folder, moved = versions
    with TestClient(create_app(Settings(model_dir=folder))) as client:
        body = client.get("/embeddings/city/compare").json()  # served: 3, from: the one before
        vocabulary = binary_run.encoder.categorical_["city"].vocabulary_
        assert body["versions"] == [1, 2, 3] and body["from"] == 2 and body["to"] == 3
        assert body["shared"] == len(vocabulary) and body["only_from"] == body["only_to"] == 0
        assert body["values"][0] == moved and sorted(body["values"]) == sorted(vocabulary)
        assert body["distance"] == sorted(body["distance"], reverse=True) and body["distance"][0] > 3 * body["distance"][1]
        assert body["counts_to"][0] == binary_run.encoder.categorical_["city"].counts_[2]
        same = client.get("/embeddings/city/compare?from=1&to=2").json()
        assert max(same["distance"]) < 1e-5 and same["disparity"] < 1e-9
        # an unchanged feature has not moved between 1 and 3 either
        assert max(client.get("/embeddings/color/compare?from=1").json()["distance"]) < 1e-5
        # per model and version, through the repository's routes
        pinned = client.get("/models/binary/embeddings/city/compare?from=1").json()
        assert pinned["values"][0] == moved and pinned["to"] == 3
        assert_error(client.get("/embeddings/city/compare?from=9"), 404, "version")
        assert_error(client.get("/embeddings/colour/compare"), 404, "feature")
        assert_error(client.get("/embeddings/city/compare?from=0"), 422)


def test_one_version_on_disk_compares_nothing(binary_run, tmp_path):
    shutil.copytree(binary_run.path, tmp_path / "one" / "1")
    with TestClient(create_app(Settings(model_dir=tmp_path / "one"))) as client:
        body = client.get("/embeddings/city/compare").json()
        assert body["versions"] == [1] and body["from"] is None and body["values"] == []


def test_a_version_number_too_big_for_json_is_a_422_not_a_500(versions):
    with TestClient(create_app(Settings(model_dir=versions[0]))) as client:
        assert_error(client.get(f"/embeddings/city/compare?to={2**70}"), 422)
        assert_error(client.get(f"/embeddings/city/compare?from={2**64}"), 422)
        assert_error(client.get(f"/embeddings/city/compare?from={2**31}"), 404)
