"""Which options work together, decided once for every route: the CLI asks before any heavy
work (reading the table, starting Ray, joining a TF_CONFIG cluster) and the orchestrator asks
again before training, so an option either works on both routes or is refused on both, with
one line. No TensorFlow here: the CLI imports it before TensorFlow is loaded."""

from __future__ import annotations

from features.errors import DataError
from training.data.training_data import FOLDS_IN_MEMORY, DataRoute
from training.loop.config import TrainConfig


def check_compatible(config: TrainConfig, data: DataRoute, workers: int = 1, *, out_of_fold: bool = False) -> None:
    """``workers``: the processes training together (``--workers N``, or a TF_CONFIG cluster's
    size); ``out_of_fold``: ``--out-of-fold`` vectors are asked for too."""
    members = config.ensembling.ensemble
    if workers > 1 and (members or 1) > 1:  # members train one after the other, on one process
        raise DataError(
            "an ensemble trains its networks one after the other on one process; "
            "use --ensemble 1 with --workers or TF_CONFIG workers",
            field="ensemble",
            value=members,
        )
    if workers > 1 and out_of_fold:  # the fold networks need the whole table in one process
        raise DataError(
            "--out-of-fold trains in memory on one process, while TF_CONFIG workers stream their share of the files; "
            "use --workers 1 and no TF_CONFIG",
            field="out_of_fold",
        )
    if workers > 1 and not data.streamed:
        raise DataError("training on several workers streams the data; a table in memory trains on one process", field="workers")
    if data.streamed and out_of_fold:
        raise DataError("--out-of-fold needs the table in memory; it does not stream (drop --stream)", field="out_of_fold")
    if config.ensembling.ensemble_holdout == "folds" and (data.streamed or data.separate_holdout):
        raise DataError(FOLDS_IN_MEMORY, field="ensemble_holdout", value="folds")
