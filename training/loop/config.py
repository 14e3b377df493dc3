"""Hyper-parameters of the network and of fitting, with the defaults and the seed preset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from features.errors import DataError

NUMERIC_ENCODINGS = ("none", "ple", "auto", "plr", "auto+plr")
MAX_AVERAGE_EPOCHS = 100  # an average over more epochs than training runs would serve the first ones


@dataclass
class TrainConfig:
    # network
    # None: auto_hidden_units of the training rows (256-128, 512-256 from WIDE_ROWS), made
    # concrete by ``sized`` once the rows are counted
    hidden_units: tuple[int, ...] | None = None
    dropout: tuple[float, ...] = (0.1, 0.1)
    input_dropout: float = 0.0  # on the concatenated embeddings + numeric inputs (Guo & Berkhahn used 0.02–0.5)
    l2: float = 1e-5
    batch_norm: bool = False
    activation: str = "relu"
    embedding_rule: str = "fastai"  # "fastai" | "half"; see training.model.network.embedding_size
    embedding_dim: int | None = None  # one size for every feature (the seed uses 5)
    embedding_cap: int | None = None  # upper bound on the rule's size (None: the rule's own cap)
    embedding_l2: float = 0.0  # L2 penalty on the embedding tables
    binary_head: str = "sigmoid"  # "sigmoid" (1 unit) | "softmax" (2 units, as in the seed)
    l2_on_head: bool = False
    # encoding
    # Values seen fewer times than min_frequency fold into the unknown row 0 (which they then
    # train); every value seen at least that often gets its own vector. max_categories caps the
    # vocabulary by count (memory), not for quality: None keeps every value.
    min_frequency: int = 5
    max_categories: int | None = None
    # Shrinkage of each value's vector toward the unknown vector (training/model/shrunk_embedding.py):
    # e_0 + s_c·d_c, s_c = n_c/(n_c + k), L2 deviation_l2 on d_c; fold_k > 0 also folds value c
    # into row 0 with probability fold_k/(n_c + fold_k) during training. k = shrinkage; None =
    # auto_shrinkage (a share of the training rows); 0 is a plain Embedding (the seed preset).
    # Chosen by measurement: docs/coverage.md.
    shrinkage: float | None = None
    shrinkage_min_values: int = 1000  # features with fewer values in the vocabulary keep plain tables
    deviation_l2: float = 1e-3
    fold_k: float = 0.0
    # regression: "linear" fits the mean in the target's own units, which is what RMSE scores: on
    # diamonds it beat the log target ("auto") by 8 %, on hotel_rates it was level within the seed
    # spread (docs/coverage.md). "log", "loglink" and "auto" stay available (features.target).
    target_scale: str = "linear"
    numeric_transform: str = "both"  # "standard" | "quantile" (rank-gauss) | "both"; see features.numeric
    # "ple": each numeric score also reaches the network as ple_bins piecewise-linear ramps
    # (features/piecewise_linear.py); "auto": only the staircase features (training/model/step_features.py);
    # "none": the scores alone. "auto" won or tied on all six bench sets (docs/coverage.md): it
    # picks nothing where PLE hurt (flights, diamonds) and the staircases where it helps.
    numeric_encoding: str = "auto"
    ple_bins: int = 16
    # "plr": periodic embeddings of every numeric score (features/periodic.py), plr_frequencies
    # sin/cos pairs → plr_dims units per feature; plr_sigma spreads the initial frequencies
    plr_frequencies: int = 48
    plr_dims: int = 24
    plr_sigma: float = 0.1
    # auto+plr: the staircase features (those that also get ramps) start sharper; on hotel_rates
    # 3 beat 1, 0.3 and 10 (12.82 RMSE against 12.88, 13.08 and 12.95), ames was level (None: plr_sigma)
    plr_step_sigma: float | None = 3.0
    # fitting
    learning_rate: float = 1e-3
    # "plateau": ×lr_factor after patience//2 flat epochs, so the last epochs refine instead of
    # stop; with patience 8 it matched or beat a constant rate with patience 4 on every bench set
    # (diamonds −2.6 % RMSE, hotel_rates −2.5 %, full flights +0.0024 AUC; docs/coverage.md).
    lr_schedule: str = "plateau"  # "constant" | "plateau"
    lr_factor: float = 0.3
    batch_size: int | None = None  # None = auto_batch_size: 512, growing to 2048 from 51k rows
    epochs: int = 50
    patience: int = 8
    valid_fraction: float = 0.2
    class_weight: str | None = None  # None | "balanced"
    # The weights early stopping judges and the bundle serves are an exponential moving average
    # of the training steps' weights over about this many epochs (Polyak averaging; Keras'
    # optimizer EMA); 0 serves the last step's. It smooths the step-to-step noise that made
    # regression scores vary by seed: diamonds −1.8 % RMSE, no set worse (docs/coverage.md).
    weight_average: float = 1.0
    # K > 1: K networks from seeds seed, seed + 7919, ... trained apart and averaged in one bundle
    # (training/loop/ensemble.py); K× the training time and the served network's work. None: auto
    # (``auto_ensemble``: AUTO_MEMBERS for regression tables under ENSEMBLE_ROWS training rows).
    ensemble: int | None = None
    # "shared": every member trains on the same rows and early-stops on the one holdout, which
    # the holdout metrics then judge the ensemble on; "folds": member k of an in-memory ensemble
    # early-stops on the k-th of K folds of all the rows and trains on the rest (the metrics are
    # then out-of-fold). Folds used every row but did not win: hotel_rates −0.07 RMSE, diamonds
    # +3.0 (3 seeds; docs/coverage.md). Streamed ensembles always share the holdout.
    ensemble_holdout: str = "shared"
    # K > 1: a batch ensemble (training/model/batch_ensemble.py, TabM-mini): K members share every
    # hidden weight and differ by an input adapter and a head; one training, K× the dense work.
    batch_ensemble: int = 1
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.dropout, (int, float)):
            self.dropout = (float(self.dropout),)
        layers = len(self.hidden_units) if self.hidden_units is not None else AUTO_LAYERS
        if len(self.dropout) == 1 and layers != 1:
            self.dropout = self.dropout * layers
        if len(self.dropout) != layers:
            raise DataError(
                "give one dropout rate per hidden layer, or a single rate for all", field="dropout", value=list(self.dropout)
            )

        if self.numeric_encoding not in NUMERIC_ENCODINGS:
            raise DataError(
                f"numeric_encoding must be one of {', '.join(NUMERIC_ENCODINGS)}",
                field="numeric_encoding",
                value=self.numeric_encoding,
            )
        if self.numeric_encoding in ("ple", "auto", "auto+plr") and (not isinstance(self.ple_bins, int) or self.ple_bins < 2):
            raise DataError("ple_bins must be a whole number of bins, at least 2", field="ple_bins", value=self.ple_bins)
        for name, low in (("plr_frequencies", 1), ("plr_dims", 1)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise DataError(f"{name} must be a whole number, at least {low}, not {value!r}", field=name, value=value)
        for name in ("plr_sigma", "plr_step_sigma"):
            value = getattr(self, name)
            if name == "plr_step_sigma" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 100:
                raise DataError(f"{name} must be a number above 0 and at most 100, not {value!r}", field=name, value=value)
        if (
            isinstance(self.weight_average, bool)
            or not isinstance(self.weight_average, (int, float))
            or not (0 <= self.weight_average <= MAX_AVERAGE_EPOCHS)
        ):
            raise DataError(
                f"weight_average is a number of epochs from 0 (off) to {MAX_AVERAGE_EPOCHS}, not {self.weight_average!r}",
                field="weight_average",
                value=self.weight_average,
            )
        if self.ensemble is not None and (
            isinstance(self.ensemble, bool) or not isinstance(self.ensemble, int) or self.ensemble < 1
        ):
            raise DataError("ensemble must be a whole number of networks, at least 1", field="ensemble", value=self.ensemble)
        if self.ensemble_holdout not in ("folds", "shared"):
            raise DataError(
                f"ensemble_holdout must be 'folds' or 'shared', not {self.ensemble_holdout!r}",
                field="ensemble_holdout",
                value=self.ensemble_holdout,
            )
        if (
            isinstance(self.batch_ensemble, bool)
            or not isinstance(self.batch_ensemble, int)
            or not 1 <= self.batch_ensemble <= 64
        ):
            raise DataError(
                f"batch_ensemble must be a whole number of members from 1 (off) to 64, not {self.batch_ensemble!r}",
                field="batch_ensemble",
                value=self.batch_ensemble,
            )
        if self.batch_ensemble > 1 and self.hidden_units == ():  # the adapter scales the first hidden layer's input
            raise DataError("batch_ensemble needs at least one hidden layer", field="batch_ensemble", value=self.batch_ensemble)
        if self.batch_ensemble > 1 and (self.ensemble or 1) > 1:
            raise DataError(
                "batch_ensemble and ensemble cannot be combined: choose one way to average networks",
                field="batch_ensemble",
                value=self.batch_ensemble,
            )

    @property
    def crosses_folds(self) -> bool:
        """An ensemble (once sized) whose members each hold out their own fold of the rows."""
        return (self.ensemble or 1) > 1 and self.ensemble_holdout == "folds"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, **changes: Any) -> TrainConfig:
        changes = {k: v for k, v in changes.items() if v is not None}
        if "hidden_units" in changes and "dropout" not in changes:
            changes["dropout"] = self.dropout[:1] or (0.0,)  # keep the preset's rate for the new depth
        return replace(self, **changes)


SHRINKAGE_SHARE, SHRINKAGE_FLOOR = 0.005, 10.0
MEMBER_SEED_STEP = 7919  # a prime: members of seed s never share a seed with members of s + 1


def member_seed(seed: int, member: int) -> int:
    return seed + MEMBER_SEED_STEP * member


def auto_shrinkage(train_rows: int) -> float:
    """k of s_c = n_c / (n_c + k): 0.5 % of the training rows, at least 10 (docs/coverage.md).

    A value with k rows sits halfway between the unknown vector and its own. A fixed k = 500
    matched the old folding on flights (100k rows) but cost ames (2.3k rows, every value
    under 500 rows) 14 % RMSE and hotel_rates 7 %; a share of the rows gives flights ≈ 1,000,
    hotel_rates ≈ 50, lending_club ≈ 30 and ames 10. Every value keeps its own vector either way.
    """
    return max(SHRINKAGE_FLOOR, SHRINKAGE_SHARE * train_rows)


PERIODIC_ROWS = 20_000


def auto_numeric_encoding(train_rows: int) -> str:
    """What "auto" builds: ramps for the staircase features, and below PERIODIC_ROWS training
    rows periodic embeddings of every numeric feature too. They gained on the four bench sets
    under it (cells +0.0038 AUC and lending_club +0.0102 on 3 of 3 seeds; with the staircase
    features started sharper, hotel_rates −4.3 % RMSE and ames −1.1 %) and lost on the two above
    it (diamonds +1.0 % RMSE, full flights −0.0012 AUC), where they would also double the graph's
    batch time on the demo (docs/coverage.md, docs/performance.md)."""
    return "auto+plr" if train_rows < PERIODIC_ROWS else "auto"


WIDE_ROWS, AUTO_LAYERS = 20_000, 2


def auto_hidden_units(train_rows: int) -> tuple[int, int]:
    """256-128, and twice as wide from WIDE_ROWS training rows. With weight averaging, 512-256
    gained on both bench sets above it (full flights +0.0018 AUC on 3 of 3 seeds; diamonds
    −4.2 RMSE as one network; five such networks −4.5 ± 1.0 against five 256-128 ones, on 9
    of 10 seeds) and lost or tied on the small ones (ames +4 % RMSE, lending_club −0.0025 AUC;
    docs/coverage.md). It doubles the graph's time for a large batch, which is why the demo,
    the service's latency reference, keeps 256-128 (training.data.tables.DEMO_HIDDEN)."""
    return (512, 256) if train_rows >= WIDE_ROWS else (256, 128)


AUTO_MEMBERS, ENSEMBLE_ROWS = 5, 100_000


def auto_ensemble(config: TrainConfig, task: str, train_rows: int, distributed: bool = False) -> int:
    """How many networks ``ensemble=None`` averages: AUTO_MEMBERS for regression under
    ENSEMBLE_ROWS training rows, else one. Squared error in the target's units is what
    seed-to-seed variance costs most: five networks took hotel_rates from 12.82 to 12.42 RMSE,
    diamonds from 541.4 to 539.0 and ames from 0.0523 to 0.0513 (3 seeds; docs/coverage.md),
    while on the classification sets averaging moved AUC by ±0.001. Under 100,000 rows a
    network trains in about a minute here, so five stay affordable; a distributed run trains
    one network (members run on one process), and ``batch_ensemble`` averages its own."""
    if config.ensemble is not None:
        return config.ensemble
    if task != "regression" or train_rows >= ENSEMBLE_ROWS or distributed or config.batch_ensemble > 1:
        return 1
    return AUTO_MEMBERS


def sized(config: TrainConfig, train_rows: int, task: str, distributed: bool = False) -> TrainConfig:
    """The config with the settings that follow the table's size (and task) made concrete, so
    the manifest records the network that was built."""
    if config.numeric_encoding == "auto":
        config = replace(config, numeric_encoding=auto_numeric_encoding(train_rows))
    if config.hidden_units is None:
        config = replace(config, hidden_units=auto_hidden_units(train_rows))
    if config.ensemble is None:
        config = replace(config, ensemble=auto_ensemble(config, task, train_rows, distributed))
    return config


def auto_batch_size(train_rows: int) -> int:
    """512 for small tables (measured best there), up to 2048 for large ones: on full flights
    (209k rows) 2048 gave AUC 0.8135 vs 0.8147 at 512 with 2.3× the rows per second (94k vs 42k)."""
    return int(min(2048, max(512, train_rows // 100)))


def seed_config() -> TrainConfig:
    """The network of the original write-up: Embedding(n, 5) per feature, Dense 88 (L2 0.05) →
    Dropout 0.2 → Dense 128 (L2 0.05) → Dense 2 softmax."""
    return TrainConfig(
        hidden_units=(88, 128),
        dropout=(0.2, 0.0),
        l2=0.05,
        embedding_dim=5,
        binary_head="softmax",
        batch_size=512,
        min_frequency=5,
        shrinkage=0.0,
        ensemble=1,
        numeric_transform="standard",
        numeric_encoding="none",
        target_scale="linear",
        lr_schedule="constant",
        patience=4,
        weight_average=0.0,
    )


PRESETS = {"default": TrainConfig, "seed": seed_config}
