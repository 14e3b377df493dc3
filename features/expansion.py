"""The numeric expansion of the served graph: what the numeric input becomes before the first
dense layer, as a chain of ops each appending columns to it.

- ``piecewise_linear`` (features.piecewise_linear): fixed ramps over equal-mass bins;
- ``periodic`` (features.periodic): learned sin/cos embeddings with a linear map and a ReLU.

Each op reads columns of the numeric input, which keeps its place at the front, and appends its
own, so they chain in the order the Keras network applies them (training.model.network): ramps for the
staircase features, then periodic embeddings of every feature. A bundle's manifest names the
chain ("piecewise_linear+periodic"), its arrays sit in graph.npz under each op's own keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from features.periodic import PeriodicExpansion
from features.piecewise_linear import NumericExpansion

Expansion = NumericExpansion | PeriodicExpansion
KINDS: dict[str, type[NumericExpansion] | type[PeriodicExpansion]] = {
    NumericExpansion.kind: NumericExpansion,
    PeriodicExpansion.kind: PeriodicExpansion,
}


class ExpansionChain:
    """numeric (n, w) → (n, w + Σ added widths): each part applied to the last one's output."""

    def __init__(self, parts: Sequence[Expansion]) -> None:
        if not parts:
            raise ValueError("an expansion chain needs at least one op")
        kinds = [p.kind for p in parts]
        if len(set(kinds)) != len(kinds):
            raise ValueError(f"each expansion op may appear once in a chain, got {kinds}")
        self.parts = list(parts)

    @property
    def kind(self) -> str:
        return "+".join(p.kind for p in self.parts)

    @property
    def added_width(self) -> int:
        return sum(p.added_width for p in self.parts)

    @property
    def periodic(self) -> PeriodicExpansion | None:
        """The chain's periodic op (its weights are a network's own), which comes last."""
        last = self.parts[-1]
        return last if isinstance(last, PeriodicExpansion) else None

    def __call__(self, numeric: np.ndarray, block: int = 1) -> np.ndarray:
        """``block``: the row-block height of the products (features.row_blocks)."""
        x = np.asarray(numeric, dtype=np.float32)
        for part in self.parts:
            x = part(x, block)
        return x

    @property
    def kernels(self) -> list[np.ndarray]:
        """The matrices the chain multiplies by (the periodic op's), for the row-block check."""
        periodic = self.periodic
        return [] if periodic is None else [periodic.kernel]

    def arrays(self) -> dict[str, np.ndarray]:
        return {key: value for part in self.parts for key, value in part.arrays().items()}

    @classmethod
    def load(cls, kind: str, arrays: dict[str, np.ndarray]) -> ExpansionChain:
        names = kind.split("+")
        unknown = [name for name in names if name not in KINDS]
        if unknown:
            raise ValueError(f"unsupported numeric expansion {kind!r}; supported: {sorted(KINDS)}, chained with '+'")
        return cls([KINDS[name].from_arrays(arrays) for name in names])

    def with_periodic(self, periodic: PeriodicExpansion) -> ExpansionChain:
        """The same chain with its periodic op replaced (an ensemble's stacked members)."""
        return ExpansionChain([*self.parts[:-1], periodic] if self.periodic is not None else [*self.parts, periodic])
