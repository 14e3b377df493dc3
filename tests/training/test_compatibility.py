"""One check decides which options work together on which route (training.loop.compatibility):
an option works on both routes or is refused on both, before any training, with one line."""

from __future__ import annotations

import pytest

from cli.main import main
from features.errors import DataError
from tests.synthetic import planted_frame
from training.data.training_data import DataRoute
from training.loop.compatibility import check_compatible
from training.loop.config import TrainConfig

IN_MEMORY, STREAMED = DataRoute(streamed=False, separate_holdout=False), DataRoute(streamed=True, separate_holdout=False)
WITH_VALID = DataRoute(streamed=False, separate_holdout=True)


def refused(config, route, workers=1, **options):
    with pytest.raises(DataError) as caught:
        check_compatible(config, route, workers, **options)
    return caught.value


def test_members_holding_out_folds_need_every_row_in_memory():
    folds = TrainConfig(ensemble=3, ensemble_holdout="folds")
    check_compatible(folds, IN_MEMORY)  # the one route that can
    for route in (STREAMED, WITH_VALID, DataRoute(streamed=True, separate_holdout=True)):
        error = refused(folds, route)
        assert error.field == "ensemble_holdout" and "--ensemble-holdout folds needs the table in memory" in error.message


def test_workers_stream_one_network():
    check_compatible(TrainConfig(), STREAMED, 4)  # auto: one network on a cluster
    assert refused(TrainConfig(ensemble=2), STREAMED, 2).field == "ensemble"
    assert refused(TrainConfig(), STREAMED, 2, out_of_fold=True).field == "out_of_fold"
    assert refused(TrainConfig(), IN_MEMORY, 2).field == "workers"
    assert "does not stream" in refused(TrainConfig(), STREAMED, out_of_fold=True).message
    check_compatible(TrainConfig(ensemble=5, batch_size=64), IN_MEMORY, out_of_fold=True)


@pytest.mark.parametrize("route", [["--stream"], ["--valid", "VALID"]])
def test_the_cli_refuses_folds_on_either_route_before_training(route, capsys, tmp_path):
    data, valid = tmp_path / "t.parquet", tmp_path / "v.parquet"
    planted_frame(n=300, task="regression").to_parquet(data)
    planted_frame(n=100, task="regression", seed=1).to_parquet(valid)
    argv = ["train", "--data", str(data), "--target", "label", "--name", "m", "--out", str(tmp_path / "o")]
    code = main([*argv, "--ensemble-holdout", "folds", *[str(valid) if a == "VALID" else a for a in route]])
    err = capsys.readouterr().err.strip()
    assert code == 2 and err.startswith("error: ") and "\n" not in err and "needs the table in memory" in err
    assert not (tmp_path / "o").exists()
