"""Per-feature vocabulary: canonical category value → embedding row (0 = unknown/missing)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np

from features.canonical import canonical
from features.params import ParamsMixin

UNKNOWN_INDEX = 0
_MISS = -1
# Raw values that missed the vocabulary are remembered too, up to this many, so a flood of
# distinct unknown strings cannot grow the cache without bound.
_MAX_CACHED_MISSES = 50_000
# coverage (features.coverage) is reported against the values seen at least this often in training (issue 11)
COVERAGE_MIN_ROWS = 5


def as_list(values: Any) -> list[Any]:
    """Python objects for a column given as list, tuple, numpy array or pandas Series."""
    if isinstance(values, list):
        return values
    if hasattr(values, "tolist"):
        return list(values.tolist())
    return list(values)


class CategoricalEncoder(ParamsMixin):
    """Maps category values of one feature to integer indices.

    ``min_frequency``: values seen fewer times than this in the training data are left out of
    the vocabulary, so during training they map to index 0 with unseen and missing values —
    and the unknown embedding row is *trained* on real rare rows instead of staying random.
    ``max_categories`` keeps only the most frequent values when set.

    Learned: ``vocabulary_`` (canonical strings; index i+1), ``counts_`` (training frequency of
    each), ``n_rare_values_`` and ``n_rare_rows_`` (what min_frequency or max_categories folded
    into index 0), ``n_missing_rows_``, ``n_common_values_`` (values with at least
    COVERAGE_MIN_ROWS training rows, own vector or not).
    """

    def __init__(self, min_frequency: int = 1, max_categories: int | None = None) -> None:
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    def fit(self, values: Iterable[Any], y: Any = None) -> CategoricalEncoder:
        return self.fit_counts(Counter(as_list(values)))

    def fit_counts(self, raw_counts: Mapping[Any, int]) -> CategoricalEncoder:
        """Fit from raw value → rows, as a streaming statistics pass counts them; ``fit`` is
        this over the column's own counts, so both routes give the same vocabulary."""
        counts: Counter[str] = Counter()
        missing = 0
        for raw, n in raw_counts.items():
            key = canonical(raw)
            if key is None:
                missing += n
            else:
                counts[key] += n
        # most frequent first, ties broken by the value so the order is reproducible
        ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
        kept = [(v, n) for v, n in ranked if n >= max(1, self.min_frequency)]
        if self.max_categories is not None:
            kept = kept[: self.max_categories]
        self.vocabulary_ = [v for v, _ in kept]
        self.counts_ = [n for _, n in kept]
        self.index_ = {v: i + 1 for i, v in enumerate(self.vocabulary_)}
        self.n_rare_values_ = len(ranked) - len(kept)
        self.n_rare_rows_ = sum(counts.values()) - sum(self.counts_)
        self.n_missing_rows_ = missing
        self.n_common_values_ = sum(1 for _, n in ranked if n >= COVERAGE_MIN_ROWS)
        self._cache: dict[Any, int] | None = None
        return self

    @property
    def n_indices(self) -> int:
        """Rows the embedding table needs: the vocabulary plus the unknown row 0."""
        self._check_fitted("vocabulary_")
        return len(self.vocabulary_) + 1

    def index_of(self, value: Any) -> int:
        """The table row of one raw value (0: unknown or missing), as GET /embeddings looks it up."""
        return self.index_.get(canonical(value), UNKNOWN_INDEX)  # type: ignore[arg-type]

    def transform(self, values: Iterable[Any]) -> np.ndarray:
        """Indices (int32) for a column. Raises TypeError for unhashable values."""
        self._check_fitted("index_")
        seq = values if isinstance(values, Sequence) else as_list(values)
        cache = self._lookup()
        # the common case stays in C: one dict probe per value, no Python frame per row
        out = np.fromiter(map(cache.get, seq, repeat(_MISS)), dtype=np.int32, count=len(seq))
        misses = np.flatnonzero(out == _MISS)
        for i in misses.tolist():
            raw = seq[i]
            index = self.index_.get(canonical(raw), UNKNOWN_INDEX)  # type: ignore[arg-type]
            out[i] = index
            if len(cache) < len(self.index_) + _MAX_CACHED_MISSES and raw == raw:  # not NaN
                cache[raw] = index
        return out

    def missing_mask(self, values: Sequence[Any], indices: np.ndarray) -> np.ndarray:
        """For rows whose index is 0: True where the value was missing rather than unknown."""
        mask = np.zeros(len(indices), dtype=bool)
        rows = np.flatnonzero(indices == UNKNOWN_INDEX).tolist()
        if not rows:
            return mask
        # rare values folded into index 0 recur in every batch: remember each raw value's verdict
        # instead of canonicalising it again (values here passed transform, so they are hashable)
        known = self.missing_verdicts()
        picked = [values[i] for i in rows]
        flags = list(map(known.get, picked))
        for j in [j for j, flag in enumerate(flags) if flag is None]:
            raw = picked[j]
            verdict = canonical(raw) is None
            flags[j] = verdict
            if len(known) < _MAX_CACHED_MISSES and raw == raw:  # not NaN
                known[raw] = verdict
        mask[rows] = flags
        return mask

    def get_feature_names_out(self, input_features: Any = None) -> np.ndarray:
        return np.asarray(["index"], dtype=object)

    def value_codes(self) -> dict[Any, int]:
        """Raw value → embedding row for every value known to map without canonical(): the
        vocabulary's canonical strings, and their exact integer spellings (JSON sends month: 7)."""
        return self._lookup()

    def missing_verdicts(self) -> dict[Any, bool]:
        """Raw values already seen at index 0 → missing (True) or unknown (False); filled by
        ``missing_mask``, bounded, and not saved with the encoder."""
        verdicts: dict[Any, bool] = self.__dict__.setdefault("_missing_cache", {})
        return verdicts

    def _lookup(self) -> dict[Any, int]:
        if self._cache is None:
            cache: dict[Any, int] = dict(self.index_)
            # JSON sends integer categories (month: 7) as numbers: map them without canonical()
            # from the first request on. Only exact round trips ("7", not "007" or "+7").
            for key, index in self.index_.items():
                if key.isascii() and key.lstrip("-").isdigit() and len(key) < 19 and str(int(key)) == key:
                    cache.setdefault(int(key), index)
            self._cache = cache
        return self._cache

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_cache"] = None  # derived; rebuilt on first use after loading
        state.pop("_missing_cache", None)
        return state
