"""The settings that follow the training table: each "auto" (None) setting's rule, and
``resolve_auto``, which makes every one of them concrete once the rows are counted, so the
manifest's ``training.config`` records the network and the fitting that were built.

Each rule's evidence is a row of docs/decisions.md, named in its docstring.
"""

from __future__ import annotations

import math
from dataclasses import replace

from training.loop.config import TrainConfig

MEMBER_SEED_STEP = 7919  # a prime: members of seed s never share a seed with members of s + 1
SHRINKAGE_SHARE, SHRINKAGE_FLOOR = 0.005, 10.0
PERIODIC_ROWS = 20_000
WIDE_ROWS = 20_000
AUTO_MEMBERS, ENSEMBLE_ROWS = 5, 100_000


def member_seed(seed: int, member: int) -> int:
    return seed + MEMBER_SEED_STEP * member


def auto_shrinkage(train_rows: int) -> float:
    """k of s_c = n_c / (n_c + k): 0.5 % of the training rows, at least 10, so a value with k
    rows sits halfway between the unknown vector and its own (decisions.md: shrinkage-k)."""
    return max(SHRINKAGE_FLOOR, SHRINKAGE_SHARE * train_rows)


def auto_numeric_encoding(train_rows: int) -> str:
    """Ramps for the staircase features, and below PERIODIC_ROWS training rows periodic
    embeddings of every numeric feature too: they gained on the small tables and lost on the
    large ones, where they would also double the graph's batch time (decisions.md: numeric-encoding)."""
    return "auto+plr" if train_rows < PERIODIC_ROWS else "auto"


def auto_hidden_units(train_rows: int) -> tuple[int, int]:
    """256-128, twice as wide from WIDE_ROWS training rows, where width gained and below which it
    lost or tied (decisions.md: hidden-units). The demo keeps 256-128, the network the service's
    latency targets are measured on (training.data.tables.DEMO_HIDDEN)."""
    return (512, 256) if train_rows >= WIDE_ROWS else (256, 128)


def auto_ensemble(config: TrainConfig, task: str, train_rows: int, distributed: bool = False) -> int:
    """AUTO_MEMBERS networks for regression under ENSEMBLE_ROWS training rows, else one: seed
    variance costs squared error most, and five small trainings stay affordable (decisions.md:
    ensemble). A distributed run trains one network (members run on one process), and a batch
    ensemble averages its own."""
    if config.ensembling.ensemble is not None:
        return config.ensembling.ensemble
    if task != "regression" or train_rows >= ENSEMBLE_ROWS or distributed or config.ensembling.batch_ensemble > 1:
        return 1
    return AUTO_MEMBERS


def auto_batch_size(train_rows: int) -> int:
    """512 under 51,200 rows, then a hundredth of the rows, at most 2,048: large tables train
    over twice the rows a second for a little AUC (decisions.md: batch-size)."""
    return int(min(2048, max(512, train_rows // 100)))


def average_momentum(config: TrainConfig, train_rows: int) -> float:
    """The EMA momentum whose horizon (1 / (1 − momentum) steps) is ``weight_average`` epochs of
    ``train_rows``: a fixed momentum would average different spans of different tables
    (decisions.md: weight-average)."""
    fitting = config.fitting
    steps = max(1.0, train_rows / (fitting.batch_size or auto_batch_size(train_rows)))
    horizon = max(1.0, fitting.weight_average * steps)
    return 1.0 - 1.0 / horizon


def resolve_network(config: TrainConfig, task: str, rows: int, distributed: bool = False) -> TrainConfig:
    """The settings that shape the networks made concrete: numeric encoding, width, ensemble.
    ``rows``: the training rows under one shared holdout."""
    network, encoding, ensembling = config.network, config.encoding, config.ensembling
    if encoding.numeric_encoding == "auto":
        encoding = replace(encoding, numeric_encoding=auto_numeric_encoding(rows))
    if network.hidden_units is None:
        network = replace(network, hidden_units=auto_hidden_units(rows))
    if ensembling.ensemble is None:
        ensembling = replace(ensembling, ensemble=auto_ensemble(config, task, rows, distributed))
    return TrainConfig(network, encoding, config.fitting, ensembling)


def resolve_auto(
    config: TrainConfig, task: str, rows: int, *, folds_from: int | None = None, distributed: bool = False
) -> TrainConfig:
    """Every "auto" setting made concrete: ``resolve_network``'s, then the batch size and the
    shrinkage k, which follow the rows one network fits on. ``folds_from``: every usable row,
    when an ensemble's members each hold out a fold of them (``ensemble_holdout="folds"``); a
    member then fits on the rest, all but the first fold (the largest, as scikit-learn's
    KFold and StratifiedKFold cut them: ⌈n/K⌉ rows)."""
    config = resolve_network(config, task, rows, distributed)
    return resolve_fitting(config, member_rows(config, rows, folds_from))


def member_rows(config: TrainConfig, rows: int, folds_from: int | None = None) -> int:
    """The rows one network of a config (with its ensemble resolved) fits on."""
    if folds_from is None or not config.ensembling.crosses_folds:
        return rows
    return folds_from - math.ceil(folds_from / (config.ensembling.ensemble or 1))


def resolve_fitting(config: TrainConfig, fit_rows: int) -> TrainConfig:
    """The batch size and the shrinkage k for a network that fits on ``fit_rows`` rows."""
    fitting, encoding = config.fitting, config.encoding
    if not fitting.batch_size:
        fitting = replace(fitting, batch_size=auto_batch_size(fit_rows))
    if encoding.shrinkage is None:
        encoding = replace(encoding, shrinkage=auto_shrinkage(fit_rows))
    return TrainConfig(config.network, encoding, fitting, config.ensembling)
