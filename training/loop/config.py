"""The settings of a training run, in four parts (the network, the encoding, fitting, ensembles),
each checked by its table of rules (``training.loop.settings``), and the seed preset.

A default's reason is one line here; its evidence (what else was measured, on which sets, by
how much) is a row of docs/decisions.md, named in the comment. None (or "auto") marks a setting
resolved from the training rows by ``training.loop.auto.resolve_auto``, which the manifest then
records as built.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any, ClassVar

from features.errors import DataError
from training.loop.settings import Rule, check, choice, number, whole

NUMERIC_ENCODINGS = ("none", "ple", "auto", "plr", "auto+plr")
MAX_AVERAGE_EPOCHS = 100  # an average over more epochs than training runs would serve the first ones
AUTO_LAYERS = 2  # the hidden layers of auto_hidden_units


@dataclass(frozen=True)
class NetworkSettings:
    hidden_units: tuple[int, ...] | None = None  # None: by the training rows (decisions.md: hidden-units)
    dropout: tuple[float, ...] = (0.1, 0.1)  # one rate per hidden layer, or one for all
    input_dropout: float = 0.0  # on the concatenated inputs; 0.2 lost on flights (decisions.md: input-dropout)
    l2: float = 1e-5
    batch_norm: bool = False
    activation: str = "relu"
    embedding_dim: int | None = None  # one width for every feature; None: fastai's rule (decisions.md: embedding-size)
    embedding_cap: int | None = None  # an upper bound on the rule's width (memory); None: the rule's own cap of 600
    binary_head: str = "sigmoid"  # "sigmoid" (1 unit) | "softmax" (2 units, as in the seed)

    RULES: ClassVar[dict[str, Rule]] = {
        "input_dropout": number("input_dropout is a rate from 0 (off) to below 1, not {value!r}", 0, 1, open_high=True),
        "embedding_cap": whole(
            "embedding_cap must be a whole number of dimensions, at least {low}, not {value!r}", 1, optional=True
        ),
        "binary_head": choice("binary_head must be one of {choices}, not {value!r}", "sigmoid", "softmax"),
    }

    def __post_init__(self) -> None:
        if self.hidden_units is not None:
            object.__setattr__(self, "hidden_units", tuple(self.hidden_units))
        dropout = (float(self.dropout),) if isinstance(self.dropout, (int, float)) else tuple(self.dropout)
        layers = len(self.hidden_units) if self.hidden_units is not None else AUTO_LAYERS
        if len(dropout) == 1 and layers != 1:
            dropout = dropout * layers
        object.__setattr__(self, "dropout", dropout)
        if len(dropout) != layers:
            raise DataError(
                "give one dropout rate per hidden layer, or a single rate for all", field="dropout", value=list(dropout)
            )
        check(self, self.RULES)


@dataclass(frozen=True)
class EncodingSettings:
    # every value seen min_frequency times gets its own vector (decisions.md: min-frequency); rarer
    # ones fold into the unknown row 0 and train it. max_categories caps the vocabulary by count (memory)
    min_frequency: int = 5
    max_categories: int | None = None
    # each value's vector shrinks toward the unknown one: e_0 + s_c·d_c, s_c = n_c/(n_c + k), L2
    # deviation_l2 on d_c (training/model/shrunk_embedding.py); None: by the training rows
    # (decisions.md: shrinkage-k); 0: a plain Embedding (the seed preset)
    shrinkage: float | None = None
    shrinkage_min_values: int = 1000  # features with fewer values keep plain tables (decisions.md: shrinkage-gate)
    deviation_l2: float = 1e-3  # decisions.md: deviation-l2
    fold_k: float = 0.0  # > 0: value c folds into row 0 with probability fold_k/(n_c + fold_k) (decisions.md: fold-k)
    target_scale: str = "linear"  # regression: fit the mean in the target's units (decisions.md: target-scale)
    numeric_transform: str = "both"  # standardised and rank-gauss scores (decisions.md: numeric-transform)
    # "auto": ramps for the staircase features, and periodic embeddings of every numeric under
    # PERIODIC_ROWS training rows (decisions.md: numeric-encoding); "ple", "plr", "auto+plr", "none" force one
    numeric_encoding: str = "auto"
    ple_bins: int = 16  # piecewise-linear ramps per expanded feature (decisions.md: ple-bins)
    plr_frequencies: int = 48  # periodic embeddings: sin/cos pairs, then plr_dims units per feature
    plr_dims: int = 24
    plr_sigma: float = 0.1  # spread of the initial frequencies (decisions.md: plr-sigma)
    plr_step_sigma: float | None = 3.0  # auto+plr: the staircase features start sharper (decisions.md: plr-sigma)

    RULES: ClassVar[dict[str, Rule]] = {
        "deviation_l2": number("deviation_l2 must be a number, 0 (off) or more, not {value!r}", 0),
        "fold_k": number("fold_k is a number of rows, 0 (off) or more, not {value!r}", 0),
        "numeric_encoding": choice("numeric_encoding must be one of {choices}", *NUMERIC_ENCODINGS),
        "ple_bins": whole("ple_bins must be a whole number of bins, at least {low}", 2),
        "plr_frequencies": whole("{name} must be a whole number, at least {low}, not {value!r}", 1),
        "plr_dims": whole("{name} must be a whole number, at least {low}, not {value!r}", 1),
        "plr_sigma": number("{name} must be a number above {low} and at most {high}, not {value!r}", 0, 100, open_low=True),
        "plr_step_sigma": number(
            "{name} must be a number above {low} and at most {high}, not {value!r}", 0, 100, open_low=True, optional=True
        ),
    }

    def __post_init__(self) -> None:
        check(self, self.RULES)


@dataclass(frozen=True)
class FittingSettings:
    learning_rate: float = 1e-3
    # "plateau": ×lr_factor after patience // 2 flat epochs, so the last epochs refine instead of
    # stop (decisions.md: lr-schedule); "constant" as in the seed
    lr_schedule: str = "plateau"
    lr_factor: float = 0.3
    batch_size: int | None = None  # None: by the training rows (decisions.md: batch-size)
    epochs: int = 50
    patience: int = 8
    valid_fraction: float = 0.2
    class_weight: str | None = None  # None | "balanced"
    # early stopping judges, and the bundle serves, a moving average of the weights over about
    # this many epochs (decisions.md: weight-average); 0 serves the last step's
    weight_average: float = 1.0
    seed: int = 0

    RULES: ClassVar[dict[str, Rule]] = {
        "lr_schedule": choice("unknown lr_schedule {value!r}; use 'constant' or 'plateau'", "constant", "plateau"),
        "lr_factor": number(
            "lr_factor must be a number above {low} and below {high}, not {value!r}", 0, 1, open_low=True, open_high=True
        ),
        "weight_average": number(
            "weight_average is a number of epochs from 0 (off) to {high}, not {value!r}", 0, MAX_AVERAGE_EPOCHS
        ),
    }

    def __post_init__(self) -> None:
        check(self, self.RULES)


@dataclass(frozen=True)
class EnsembleSettings:
    # K > 1: K networks from seeds seed, seed + 7919, ... trained apart and averaged in one bundle
    # (training/loop/ensemble.py); None: by task and rows (decisions.md: ensemble)
    ensemble: int | None = None
    # "shared": every member early-stops on the one holdout; "folds": member k on the k-th of K
    # folds of all the rows, training on the rest (in memory only; decisions.md: ensemble-holdout)
    ensemble_holdout: str = "shared"
    # K > 1: one network of K members sharing every hidden weight (training/model/batch_ensemble.py)
    batch_ensemble: int = 1

    RULES: ClassVar[dict[str, Rule]] = {
        "ensemble": whole("ensemble must be a whole number of networks, at least {low}", 1, optional=True),
        "ensemble_holdout": choice("ensemble_holdout must be 'folds' or 'shared', not {value!r}", "folds", "shared"),
        "batch_ensemble": whole("batch_ensemble must be a whole number of members from 1 (off) to {high}, not {value!r}", 1, 64),
    }

    def __post_init__(self) -> None:
        check(self, self.RULES)
        if self.batch_ensemble > 1 and (self.ensemble or 1) > 1:
            raise DataError(
                "batch_ensemble and ensemble cannot be combined: choose one way to average networks",
                field="batch_ensemble",
                value=self.batch_ensemble,
            )

    @property
    def crosses_folds(self) -> bool:
        """An ensemble (once resolved) whose members each hold out their own fold of the rows."""
        return (self.ensemble or 1) > 1 and self.ensemble_holdout == "folds"


PARTS = {"network": NetworkSettings, "encoding": EncodingSettings, "fitting": FittingSettings, "ensembling": EnsembleSettings}
PART_OF = {item.name: part for part, kind in PARTS.items() for item in fields(kind)}


@dataclass(frozen=True, init=False)
class TrainConfig:
    """The four parts; built from flat settings (``TrainConfig(epochs=4, hidden_units=(32,))``,
    each routed to its part) or from parts, and written to the manifest flat (``to_dict``)."""

    network: NetworkSettings
    encoding: EncodingSettings
    fitting: FittingSettings
    ensembling: EnsembleSettings

    def __init__(
        self,
        network: NetworkSettings | None = None,
        encoding: EncodingSettings | None = None,
        fitting: FittingSettings | None = None,
        ensembling: EnsembleSettings | None = None,
        **settings: Any,
    ) -> None:
        unknown = sorted(set(settings) - set(PART_OF))
        if unknown:
            raise TypeError(f"TrainConfig has no setting {', '.join(map(repr, unknown))}")
        given = {"network": network, "encoding": encoding, "fitting": fitting, "ensembling": ensembling}
        for part, kind in PARTS.items():
            mine = {name: value for name, value in settings.items() if PART_OF[name] == part}
            current = given[part]
            object.__setattr__(self, part, kind(**mine) if current is None else replace(current, **mine))
        if self.ensembling.batch_ensemble > 1 and self.network.hidden_units == ():  # the adapter scales the first layer's input
            raise DataError(
                "batch_ensemble needs at least one hidden layer", field="batch_ensemble", value=self.ensembling.batch_ensemble
            )

    def to_dict(self) -> dict[str, Any]:
        return {name: value for part in PARTS for name, value in asdict(getattr(self, part)).items()}

    def with_overrides(self, **changes: Any) -> TrainConfig:
        """The config with the settings given (None: keep this one's), as the CLI's flags set them."""
        changes = {k: v for k, v in changes.items() if v is not None}
        if "hidden_units" in changes and "dropout" not in changes:
            changes["dropout"] = self.network.dropout[:1] or (0.0,)  # keep the preset's rate for the new depth
        return TrainConfig(self.network, self.encoding, self.fitting, self.ensembling, **changes)


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
