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
    l2: float = 1e-5
    batch_norm: bool = False
    activation: str = "relu"
    embedding_rule: str = "fastai"  # "fastai" | "half"; see training.model.embedding_size
    embedding_dim: int | None = None  # one size for every feature (the seed uses 5)
    binary_head: str = "sigmoid"  # "sigmoid" (1 unit) | "softmax" (2 units, as in the seed)
    l2_on_head: bool = False
    # encoding
    min_frequency: int = 5
    # fitting
    learning_rate: float = 1e-3
    batch_size: int = 512
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


def seed_config() -> TrainConfig:
    """The network of the original write-up: Embedding(n, 5) per feature, Dense 88 (L2 0.05) →
    Dropout 0.2 → Dense 128 (L2 0.05) → Dense 2 softmax."""
    return TrainConfig(
        hidden_units=(88, 128),
        dropout=(0.2, 0.0),
        l2=0.05,
        embedding_dim=5,
        binary_head="softmax",
    )


PRESETS = {"default": TrainConfig, "seed": seed_config}
