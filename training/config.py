"""Hyper-parameters of the network and of fitting, with the defaults and the seed preset."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from features.errors import DataError


@dataclass
class TrainConfig:
    # network
    hidden_units: tuple[int, ...] = (256, 128)
    dropout: tuple[float, ...] = (0.1, 0.1)
    input_dropout: float = 0.0  # on the concatenated embeddings + numeric inputs (Guo & Berkhahn used 0.02–0.5)
    l2: float = 1e-5
    batch_norm: bool = False
    activation: str = "relu"
    embedding_rule: str = "fastai"  # "fastai" | "half"; see training.model.embedding_size
    embedding_dim: int | None = None  # one size for every feature (the seed uses 5)
    embedding_cap: int | None = None  # upper bound on the rule's size (None: the rule's own cap)
    embedding_l2: float = 0.0  # L2 penalty on the embedding tables
    binary_head: str = "sigmoid"  # "sigmoid" (1 unit) | "softmax" (2 units, as in the seed)
    l2_on_head: bool = False
    # encoding
    # Values seen fewer times fold into the unknown row (which they then train). None = auto:
    # 0.15 % of the training rows, at least 5 (see auto_min_frequency and docs/readme/quality.md).
    min_frequency: int | None = None
    # regression: "auto" learns non-negative targets with skew > 1 in log space (features.target)
    target_scale: str = "auto"
    numeric_transform: str = "both"  # "standard" | "quantile" (rank-gauss) | "both"; see features.numeric
    # fitting
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"  # "constant" | "plateau": ×lr_factor after patience//2 flat epochs
    lr_factor: float = 0.3
    batch_size: int | None = None  # None = auto_batch_size: 512, growing to 2048 from 51k rows
    epochs: int = 50
    patience: int = 4
    valid_fraction: float = 0.2
    class_weight: str | None = None  # None | "balanced"
    seed: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if isinstance(self.dropout, (int, float)):
            self.dropout = (float(self.dropout),)
        if len(self.dropout) == 1 and len(self.hidden_units) != 1:
            self.dropout = self.dropout * len(self.hidden_units)
        if len(self.dropout) != len(self.hidden_units):
            raise DataError(
                "give one dropout rate per hidden layer, or a single rate for all", field="dropout", value=list(self.dropout)
            )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def with_overrides(self, **changes: Any) -> TrainConfig:
        changes = {k: v for k, v in changes.items() if v is not None}
        if "hidden_units" in changes and "dropout" not in changes:
            changes["dropout"] = self.dropout[:1] or (0.0,)  # keep the preset's rate for the new depth
        return replace(self, **changes)


MIN_FREQUENCY_FLOOR, MIN_FREQUENCY_SHARE = 5, 0.0015


def auto_min_frequency(train_rows: int) -> int:
    """The measured default: a category value needs ~0.15 % of the rows to get its own vector.

    Measured (bench/quality, seed 0): on 64k flights rows 5 → AUC 0.719, 20 → 0.737,
    50 → 0.770, 100 → 0.791 (tailnum's 4k planes overfit within two epochs otherwise), while on
    ames' 2.3k rows 100 folded nearly every category (RMSE 0.0586 → 0.0661). A share of the
    rows gives flights ~100, hotel_rates ~15, lending_club ~9 and ames the floor of 5.
    """
    return max(MIN_FREQUENCY_FLOOR, round(MIN_FREQUENCY_SHARE * train_rows))


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
        numeric_transform="standard",
        target_scale="linear",
    )


PRESETS = {"default": TrainConfig, "seed": seed_config}
