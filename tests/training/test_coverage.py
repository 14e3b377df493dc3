"""Issue 11: the vocabulary keeps every value seen min_frequency (5) times, shrunk toward the
unknown vector by s_c = n_c / (n_c + k); max_categories is a memory cap; the manifest says which
values got their own vector."""

from __future__ import annotations

import numpy as np
import pytest

from cli.main import command_parser
from features.schema import FeatureSpec
from tests.synthetic import planted_frame
from training.loop.auto import auto_shrinkage
from training.loop.config import TrainConfig, seed_config
from training.loop.trainer import train

FAST = {"epochs": 2, "batch_size": 128, "hidden_units": (16,), "dropout": (0.0,)}
SPEC = {"target": "label", "task": "binary", "categorical": ["color", "city", "size"], "numeric": ["x", "noise"]}


def test_defaults_keep_every_value_seen_five_times():
    encoding = TrainConfig().encoding
    assert encoding.min_frequency == 5 and encoding.max_categories is None and encoding.shrinkage is None
    assert encoding.shrinkage_min_values == 1000
    assert seed_config().encoding.shrinkage == 0.0  # the write-up's network: plain Embedding tables


@pytest.mark.parametrize(("rows", "k"), [(1_000, 10.0), (2_344, 11.72), (80_000, 400.0), (209_000, 1045.0)])
def test_auto_shrinkage_is_half_a_percent_of_the_rows(rows, k):
    assert auto_shrinkage(rows) == pytest.approx(k)


def test_max_categories_caps_the_vocabulary_and_the_manifest_says_so(tmp_path):
    run = _trained(tmp_path, 1500, "capped", max_categories=4)
    city = next(f for f in run.manifest["features"] if f["name"] == "city")
    encoder = run.encoder.categorical_["city"]
    assert city["vocabulary_size"] == 4 == len(encoder.vocabulary_) and city["table_rows"] == 5
    assert city["min_count_with_vector"] == encoder.counts_[-1] == min(encoder.counts_)
    assert city["values_folded"] == encoder.n_rare_values_ > 0 and city["rows_folded"] > 0
    assert city["values_seen"] == 4 + city["values_folded"]
    assert not {"rare_values_folded", "values_with_vector"} & set(city)  # each fact under one name
    assert 0 < city["coverage"] < 1  # cities with ≥ 5 rows were cut by the cap
    assert city["shrinkage"] == 0.0  # 4 values: a plain table
    assert run.manifest["parity"]["max_abs_diff"] <= 1e-5


def test_cli_passes_the_vocabulary_options():
    args = command_parser().parse_args(["train", "--min-frequency", "3", "--max-categories", "1000", "--shrinkage", "0"])
    assert (args.min_frequency, args.max_categories, args.shrinkage) == (3, 1000, 0.0)


def test_only_features_with_many_values_are_shrunk(tmp_path):
    run = _trained(tmp_path, 1500, "gated", shrinkage_min_values=10)
    ks = {f["name"]: f["shrinkage"] for f in run.manifest["features"] if f["kind"] == "categorical"}
    assert ks["city"] == pytest.approx(auto_shrinkage(1200)) and ks["color"] == ks["size"] == 0.0
    assert type(run.model.get_layer("embedding_city")).__name__ == "ShrunkEmbedding"
    assert type(run.model.get_layer("embedding_color")).__name__ == "Embedding"


def test_shrinkage_zero_exports_the_raw_table(tmp_path):
    run = _trained(tmp_path, 800, "plain", shrinkage=0.0)
    layer = run.model.get_layer("embedding_city")
    assert type(layer).__name__ == "Embedding"
    assert np.isfinite(run.manifest["parity"]["max_abs_diff"])


def _trained(tmp_path, rows, name, **settings):
    config = TrainConfig(**FAST, **settings)
    return train(planted_frame(n=rows), FeatureSpec(**SPEC), config, name=name, out=tmp_path, log=lambda _: None, verbose=0)
