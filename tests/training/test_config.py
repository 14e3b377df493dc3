"""The settings in four parts: flat keywords reach their part, the manifest's flat dict rebuilds
the same config, each part's rule table refuses bad values with the error users see, and every
"auto" setting is resolved from the rows."""

from __future__ import annotations

import math

import pytest

from cli.main import command_parser
from cli.train import _config
from features.errors import DataError
from training.loop.auto import PERIODIC_ROWS, auto_batch_size, auto_shrinkage, resolve_auto
from training.loop.config import PART_OF, TrainConfig, seed_config
from training.loop.settings import Rule, number, whole


def test_flat_settings_reach_their_part_and_round_trip_through_the_manifest():
    config = TrainConfig(epochs=4, hidden_units=[32], dropout=0.2, shrinkage=0.0, ensemble=2, fold_k=3.0)
    assert config.fitting.epochs == 4 and config.network.hidden_units == (32,) and config.network.dropout == (0.2,)
    assert config.encoding.shrinkage == 0.0 and config.encoding.fold_k == 3.0 and config.ensembling.ensemble == 2
    written = config.to_dict()
    assert set(written) == set(PART_OF) and "extra" not in written
    assert TrainConfig(**written) == config
    assert config.with_overrides(hidden_units=(8, 4), epochs=None) == TrainConfig(**{**written, "hidden_units": (8, 4)})
    with pytest.raises(TypeError, match="no setting 'embedding_rule'"):
        TrainConfig(embedding_rule="half")


@pytest.mark.parametrize(
    ("setting", "bad", "message"),
    [
        ("input_dropout", 1.0, "input_dropout is a rate from 0 (off) to below 1, not 1.0"),
        ("embedding_cap", 0, "embedding_cap must be a whole number of dimensions, at least 1, not 0"),
        ("fold_k", -1, "fold_k is a number of rows, 0 (off) or more, not -1"),
        ("deviation_l2", float("nan"), "deviation_l2 must be a number, 0 (off) or more, not nan"),
        ("lr_factor", 1, "lr_factor must be a number above 0 and below 1, not 1"),
        ("lr_schedule", "cosine", "unknown lr_schedule 'cosine'; use 'constant' or 'plateau'"),
        ("plr_dims", True, "plr_dims must be a whole number, at least 1, not True"),
        ("plr_step_sigma", 0, "plr_step_sigma must be a number above 0 and at most 100, not 0"),
        ("batch_ensemble", 65, "batch_ensemble must be a whole number of members from 1 (off) to 64, not 65"),
    ],
)
def test_each_rule_refuses_with_the_field_and_the_value(setting, bad, message):
    with pytest.raises(DataError) as caught:
        TrainConfig(**{setting: bad})
    assert caught.value.message == message and caught.value.field == setting
    assert caught.value.value is bad or (isinstance(bad, float) and math.isnan(caught.value.value))


def test_a_rule_states_its_bounds():
    assert whole("", 1, 64).accepts(64) and not whole("", 1, 64).accepts(65) and not whole("", 1).accepts(2.0)
    assert Rule("choice", "", choices=("a",), optional=True).accepts(None)
    assert number("", 0, 1, open_low=True).accepts(1) and not number("", 0, 1, open_low=True).accepts(0)


def test_resolve_auto_leaves_nothing_to_the_manifest_reader():
    resolved = resolve_auto(TrainConfig(), "regression", 3_000)
    assert resolved.network.hidden_units == (256, 128) and resolved.ensembling.ensemble == 5
    assert resolved.encoding.numeric_encoding == "auto+plr" and PERIODIC_ROWS > 3_000
    assert resolved.fitting.batch_size == auto_batch_size(3_000) and resolved.encoding.shrinkage == auto_shrinkage(3_000)
    assert all(resolved.to_dict()[name] is not None for name in ("hidden_units", "ensemble", "batch_size", "shrinkage"))
    # two members each holding out half of 50,001 rows fit on 25,000 (the larger fold is held out):
    # the batch size and the shrinkage follow those rows, not the 40,000 of a shared holdout's split
    folds = resolve_auto(TrainConfig(ensemble=2, ensemble_holdout="folds"), "regression", 40_000, folds_from=50_001)
    assert folds.encoding.shrinkage == auto_shrinkage(25_000) == 125.0
    assert resolve_auto(TrainConfig(ensemble=2), "regression", 40_000, folds_from=50_001).encoding.shrinkage == 200.0
    assert resolve_auto(seed_config(), "binary", 10**6) == seed_config()  # the write-up's network has no "auto"


def test_the_new_flags_reach_the_config_and_bad_values_stop_the_command(capsys, tmp_path):
    flags = ["--embedding-cap", "16", "--input-dropout", "0.1", "--fold-k", "50", "--deviation-l2", "0.01", "--lr-factor", "0.5"]
    args = command_parser().parse_args(["train", "--data", "t.csv", "--name", "m", *flags])
    config = _config(args)
    assert (config.network.embedding_cap, config.network.input_dropout, config.encoding.fold_k) == (16, 0.1, 50.0)
    assert (config.encoding.deviation_l2, config.fitting.lr_factor) == (0.01, 0.5)
    from cli.main import main

    code = main(["train", "--data", str(tmp_path / "none.csv"), "--name", "m", "--lr-factor", "2"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err == "error: lr_factor must be a number above 0 and below 1, not 2.0"  # before reading the data
