"""Lookups in the learned embedding tables: one vector, a whole table, nearest neighbours."""

from __future__ import annotations

from typing import Any

import numpy as np

from features.canonical import canonical
from features.categorical import UNKNOWN_INDEX
from features.errors import InvalidInput, NotFound


class EmbeddingIndex:
    def __init__(self, encoder: Any, tables: list[np.ndarray]) -> None:
        self.encoder = encoder
        self.tables = dict(zip(encoder.categorical, tables, strict=True))
        # unit-length rows, computed once, so neighbours are one matrix-vector product
        self._unit = {}
        for name, table in self.tables.items():
            norms = np.linalg.norm(table, axis=1, keepdims=True)
            self._unit[name] = table / np.where(norms == 0, 1, norms)

    def _feature(self, feature: str) -> Any:
        if feature not in self.tables:
            listing = ", ".join(map(repr, self.tables))
            kind = "numeric, so it has no embedding" if feature in self.encoder.numeric else "not a feature of this model"
            raise NotFound(
                f"unknown feature {_shown(feature)} ({kind}); categorical features are {listing}",
                field="feature",
                value=feature,
                expected=f"one of {listing}",
            )
        return self.encoder.categorical_[feature]

    def resolve(self, feature: str, value: str, fallback: str | None = None) -> tuple[int, str | None]:
        """(index, canonical value); raises NotFound for values outside the vocabulary unless fallback='unknown'."""
        encoder = self._feature(feature)
        key, index = canonical(value), encoder.index_of(value)
        if index == UNKNOWN_INDEX and fallback != "unknown":
            if fallback is not None:
                raise InvalidInput(
                    f"fallback must be 'unknown', not {fallback!r}", field="fallback", value=fallback, expected="'unknown'"
                )
            reason = (
                "is empty"
                if key is None
                else (f"was not seen in training (or was rarer than min_frequency={encoder.min_frequency})")
            )
            raise NotFound(
                f"value {_shown(value)} of feature {feature!r} {reason}; add ?fallback=unknown for the unknown vector",
                field="value",
                value=value,
                expected=f"one of the {len(encoder.vocabulary_):,} values of {feature!r}",
            )
        return index, key

    def vector(self, feature: str, value: str, fallback: str | None = None) -> dict[str, Any]:
        index, key = self.resolve(feature, value, fallback)
        encoder, table = self.encoder.categorical_[feature], self.tables[feature]
        return {
            "feature": feature,
            "value": value,
            "canonical_value": key,
            "index": index,
            "unknown": index == UNKNOWN_INDEX,
            "count": encoder.counts_[index - 1] if index else None,
            "dimension": int(table.shape[1]),
            "vector": table[index].tolist(),
        }

    def table(self, feature: str, offset: int, limit: int) -> dict[str, Any]:
        encoder = self._feature(feature)
        table = self.tables[feature]
        stop = min(offset + limit, table.shape[0])
        items = [
            {
                "value": encoder.vocabulary_[i - 1] if i else None,
                "index": i,
                "unknown": i == UNKNOWN_INDEX,
                "count": encoder.counts_[i - 1] if i else None,
                "vector": table[i].tolist(),
            }
            for i in range(offset, stop)
        ]
        return {
            "feature": feature,
            "dimension": int(table.shape[1]),
            "total": int(table.shape[0]),
            "offset": offset,
            "limit": limit,
            "items": items,
        }

    def neighbors(self, feature: str, value: str, k: int) -> dict[str, Any]:
        index, key = self.resolve(feature, value)
        encoder, unit = self.encoder.categorical_[feature], self._unit[feature]
        scores = unit[1:] @ unit[index]  # row 0 (unknown) is not a category
        scores[index - 1] = -np.inf
        k = min(k, len(scores) - 1)
        best = np.argpartition(-scores, k - 1)[:k] if k > 0 else np.array([], dtype=int)
        best = best[np.argsort(-scores[best], kind="stable")]
        return {
            "feature": feature,
            "value": value,
            "canonical_value": key,
            "index": index,
            "neighbors": [{"value": encoder.vocabulary_[i], "index": int(i) + 1, "score": float(scores[i])} for i in best],
        }


def _shown(text: str, limit: int = 100) -> str:
    """A path segment quoted for a message, cut short: a 100 KB URL is not echoed back whole."""
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}… ({len(text):,} characters)"
