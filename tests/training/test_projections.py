"""projections.npz: the explorer's maps, computed when the bundle is written, stored as plain arrays."""

from __future__ import annotations

import json

import numpy as np

from features.artifacts import sha256_of
from features.projection import PROJECTIONS, pca, read_projections
from training.export.projections import TSNE_MIN_VALUES


def stored(run) -> dict[str, dict[str, np.ndarray]]:
    manifest = json.loads((run.path / "manifest.json").read_text())
    tables = dict(zip(run.encoder.categorical, run_tables(run), strict=True))
    return read_projections(run.path, manifest["projections"], tables)


def run_tables(run) -> list[np.ndarray]:
    return [run.model.get_layer(f"embedding_{name}").get_weights()[0] for name in run.encoder.categorical]


def test_the_bundle_lists_and_hashes_the_maps(binary_run):
    manifest = json.loads((binary_run.path / "manifest.json").read_text())
    assert manifest["files"][PROJECTIONS] == sha256_of(binary_run.path / PROJECTIONS)
    assert manifest["projections"]["file"] == PROJECTIONS
    with np.load(binary_run.path / PROJECTIONS, allow_pickle=False) as arrays:  # plain arrays, nothing to unpickle
        assert all(arrays[k].dtype == np.float32 for k in arrays.files)


def test_pca_is_stored_with_three_axes_and_the_unknown_row(binary_run):
    maps = stored(binary_run)
    for name, table in zip(binary_run.encoder.categorical, run_tables(binary_run), strict=True):
        mean, axes, coords, _ = pca(table[1:])
        np.testing.assert_allclose(maps[name]["pca"][1:], coords, atol=1e-5)
        np.testing.assert_allclose(maps[name]["pca"][0], (table[0] - mean) @ axes, atol=1e-5)
        assert maps[name]["pca"].shape == (len(table), 3)


def test_tsne_only_where_there_are_enough_values_and_it_keeps_neighbourhoods(binary_run):
    maps = stored(binary_run)
    for name, table in zip(binary_run.encoder.categorical, run_tables(binary_run), strict=True):
        assert ("tsne" in maps[name]) == (len(table) - 1 >= TSNE_MIN_VALUES), name
    table = run_tables(binary_run)[binary_run.encoder.categorical.index("city")]
    coords = maps["city"]["tsne"]
    assert coords.shape == (len(table), 2) and len(table) - 1 >= TSNE_MIN_VALUES
    # each value's 5 nearest by cosine in the table vs its 5 nearest on the map: far above chance
    unit = table / np.linalg.norm(table, axis=1, keepdims=True)
    k, kept = 5, 0
    for i in range(len(table)):
        near_table = set(np.argsort(-(unit @ unit[i]))[1 : k + 1])
        near_map = set(np.argsort(((coords - coords[i]) ** 2).sum(axis=1))[1 : k + 1])
        kept += len(near_table & near_map)
    chance = k / (len(table) - 1)
    assert kept / (k * len(table)) > 2 * chance
