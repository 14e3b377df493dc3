"""The framework-free serving core: a loaded bundle that predicts, encodes and embeds records.

HTTP routes only read bytes and hand them here; everything here is plain Python and NumPy,
testable without a server and shared by every route.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from app.columnar import ColumnarPrediction, Flag, outputs_of
from app.records import ParsedRecords, RecordParser
from features.artifacts import Bundle
from features.encoder import EncodedBatch
from features.graph import vector_columns
from features.one_row import OneRowEncoder
from features.tally import WarningTally


@dataclass
class Drift(WarningTally):
    """What this model version answered, and what it had to paper over per feature (the drift
    signals, tallied as ``catembed predict`` tallies them). /metrics reads these at scrape time,
    so counting costs the request path a few adds."""

    predictions: int = 0


class Predictor:
    def __init__(self, bundle: Bundle, *, max_records: int = 10_000, max_string_length: int = 1_000) -> None:
        self.bundle = bundle
        self.manifest = bundle.manifest
        self.name, self.version = bundle.name, bundle.version
        self.task: str = self.manifest["task"]
        self.encoder, self.graph, self.target = bundle.encoder, bundle.graph, bundle.target
        self.categorical: list[str] = list(self.encoder.categorical)
        self.numeric: list[str] = list(self.encoder.numeric)
        self.ignored: dict[str, str] = dict(self.manifest.get("ignored_columns") or {})  # older bundles: none
        self.parser = RecordParser(self.categorical, self.numeric, max_records, max_string_length, self.ignored)
        self.one_row = OneRowEncoder(self.encoder, max_string_length)  # the single clean record's fast path
        self.labels: list[Any] = list(getattr(self.target, "classes_", []))
        self._label_keys = [str(label) for label in self.labels]
        self._label_array = np.empty(len(self.labels), dtype=object)
        self._label_array[:] = self.labels  # labels keep their Python type (str, int, bool)
        self._numeric_index = {name: j for j, name in enumerate(self.numeric)}
        self.drift = Drift.for_features(self.categorical, self.numeric)
        self.loaded_at = time.time()

    # ---- the three record endpoints ----

    def predict(self, body: bytes) -> dict[str, Any]:
        payload = self.parser.loads(body)
        fast = self.one_row.encode(payload)
        if fast is not None:  # one record with at most unknown or missing categories to report
            codes, numeric, zeros = fast
            output = self.graph.one(codes, numeric)
            self.drift.rows += 1
            notes = {}
            if zeros:
                notes[0] = [self._category_note(j, missing, payload) for j, missing in zeros]
            self.drift.predictions += 1
            return {"model": self.name, "version": self.version, "predictions": self._results(output, notes)}
        parsed = self.parser.parse_payload(payload)
        batch = self.encoder.transform({**parsed.columns, **parsed.numbers})
        output = self.graph(batch.categorical, batch.numeric)
        warnings = self._warnings(parsed, batch)
        self.drift.predictions += parsed.n_rows
        return {"model": self.name, "version": self.version, "predictions": self._results(output, warnings)}

    def predict_columns(self, columns: Mapping[str, Any], text: Collection[str] = ()) -> ColumnarPrediction:
        """Feature columns (as the v2 codec decodes them) → one array per output, compact warnings.
        ``text``: columns already proven to hold only strings (see ``RecordParser.parse_columns``)."""
        return self._columnar(self.parser.parse_columns(columns, text))

    def predict_records_as_columns(self, body: bytes) -> dict[str, Any]:
        """``/predict?orient=columns``: the usual record body, or ``{"columns": {...}}`` (one list per
        feature), answered column by column."""
        payload = self.parser.loads(body)
        if isinstance(payload, dict) and len(payload) == 1 and isinstance(payload.get("columns"), dict):
            return self._columnar(self.parser.parse_column_body(payload["columns"])).native()
        return self._columnar(self.parser.parse_payload(payload)).native()

    def _columnar(self, parsed: ParsedRecords) -> ColumnarPrediction:
        batch = self.encoder.transform({**parsed.columns, **parsed.numbers})
        output = self.graph(batch.categorical, batch.numeric)
        flags = self._flags(parsed, batch)
        self.drift.predictions += parsed.n_rows
        outputs = outputs_of(self.task, self.target, self._label_array, output)
        return ColumnarPrediction(self.name, self.version, parsed.n_rows, outputs, self.labels, flags)

    def _category_note(self, j: int, missing: bool, record: dict[str, Any]) -> dict[str, Any]:
        """The single-record path's warning for categorical feature j, counted as drift."""
        name = self.categorical[j]
        if missing:
            self.drift.missing[name] += 1
            return _missing_note(name)
        self.drift.unknown[name] += 1
        return _unknown_note(name, record[name])

    def _results(self, output: np.ndarray, warnings: dict[int, list[dict[str, Any]]]) -> list[dict[str, Any]]:
        """One dict per row: the only per-row Python work of a batch, so each row is one dict
        literal over values converted column by column (tolist per column, not per row)."""
        n = len(output)
        if self.task == "regression":
            values = self.target.values(output).tolist()
            if not warnings:
                return [{"value": v, "warnings": []} for v in values]
            return [{"value": v, "warnings": warnings.get(i, [])} for i, v in enumerate(values)]
        if n == 1:  # the single-record request: plain Python beats the batch path's NumPy calls
            row = self._one_probabilities(output)
            best = row.index(max(row))
            notes1 = warnings.get(0, [])
            return [
                {"label": self.labels[best], "probabilities": dict(zip(self._label_keys, row, strict=True)), "warnings": notes1}
            ]
        proba = self.target.probabilities(output)
        labels = self._label_array[proba.argmax(axis=1)].tolist()
        notes = [warnings.get(i, []) for i in range(n)] if warnings else None
        keys = self._label_keys
        if len(keys) == 2:  # binary: a dict literal is ~3x cheaper than dict(zip(...)) per row
            k0, k1 = keys
            p0, p1 = proba[:, 0].tolist(), proba[:, 1].tolist()
            if notes is None:
                return [
                    {"label": b, "probabilities": {k0: x, k1: y}, "warnings": []} for b, x, y in zip(labels, p0, p1, strict=True)
                ]
            return [
                {"label": b, "probabilities": {k0: x, k1: y}, "warnings": w}
                for b, x, y, w in zip(labels, p0, p1, notes, strict=True)
            ]
        return [
            {"label": b, "probabilities": dict(zip(keys, row, strict=True)), "warnings": [] if notes is None else notes[i]}
            for i, (b, row) in enumerate(zip(labels, proba.tolist(), strict=True))
        ]

    def _one_probabilities(self, output: np.ndarray) -> list[float]:
        """LabelTarget.probabilities for one row, in Python floats (the same float64 arithmetic)."""
        if output.shape[1] == 1 and len(self.labels) == 2:
            p = float(output[0, 0])
            return [1.0 - p, p]
        row: list[float] = self.target.probabilities(output)[0].tolist()
        return row

    def encode(self, body: bytes) -> dict[str, Any]:
        parsed = self.parser.parse(body)
        batch = self.encoder.transform({**parsed.columns, **parsed.numbers})
        warnings = self._warnings(parsed, batch)
        return {
            "model": self.name,
            "version": self.version,
            "categorical": {name: codes.tolist() for name, codes in zip(self.categorical, batch.categorical, strict=True)},
            "numeric_columns": self.numeric_columns,
            "numeric": [] if batch.numeric is None else batch.numeric.tolist(),
            "warnings": [warnings.get(i, []) for i in range(parsed.n_rows)],
        }

    def embed(self, body: bytes) -> dict[str, Any]:
        parsed = self.parser.parse(body)
        batch = self.encoder.transform({**parsed.columns, **parsed.numbers})
        self._warnings(parsed, batch)  # counts drift like every other path
        return {
            "model": self.name,
            "version": self.version,
            "columns": self.embed_columns,
            "rows": self.graph.features(batch.categorical, batch.numeric).tolist(),
        }

    def warm_up(self) -> None:
        """Prepare the process to serve: BLAS on one thread, then one real prediction of the
        training example, so the first request pays no first-call costs."""
        import orjson
        from threadpoolctl import threadpool_limits

        # A serving process answers requests, one per core: OpenBLAS' own threads only add
        # hand-offs (measured here: 200 rows 0.25 ms on one thread, 4 ms on two; 10,000 rows
        # 17 ms vs 36 ms when the other core is busy). Scale with --workers instead.
        threadpool_limits(limits=1, user_api="blas")
        self.predict(orjson.dumps(self.manifest["example"]))
        self.drift = Drift.for_features(self.categorical, self.numeric)

    # ---- descriptions ----

    @property
    def numeric_columns(self) -> list[str]:
        return list(self.manifest.get("numeric_inputs", []))

    @property
    def embed_columns(self) -> list[str]:
        return vector_columns(self.categorical, self.graph.vectors) + self.numeric_columns

    def _flags(self, parsed: ParsedRecords, batch: EncodedBatch) -> list[Flag]:
        """Rows of each feature the model could not take at face value, counted as drift (the
        tally catembed predict keeps): what both answer formats read. A clean batch costs a few
        vectorised scans per feature."""
        self.drift.count(batch)
        flags = []
        for name, unknown, missing in zip(self.categorical, batch.unknown, batch.missing, strict=True):
            flags.append(Flag("unknown_category", name, np.flatnonzero(unknown)))
            flags.append(Flag("missing_category", name, np.flatnonzero(missing)))
        if batch.imputed is not None and batch.clipped is not None:
            for j, name in enumerate(self.numeric):
                flags.append(Flag("imputed", name, np.flatnonzero(batch.imputed[:, j])))
                flags.append(Flag("out_of_range", name, np.flatnonzero(batch.clipped[:, j])))
        return flags

    def _warnings(self, parsed: ParsedRecords, batch: EncodedBatch) -> dict[int, list[dict[str, Any]]]:
        """Per-row notes of the row format; only rows with something to say are visited."""
        found: dict[int, list[dict[str, Any]]] = defaultdict(list)
        medians = self.encoder.numeric_.medians_ if self.encoder.numeric_ is not None else None
        for flag in self._flags(parsed, batch):
            name, kind = flag.field, flag.type
            values = parsed.columns[name]
            for i in flag.rows.tolist():
                if kind == "unknown_category":
                    found[i].append(_unknown_note(name, values[i]))
                elif kind == "missing_category":
                    found[i].append(_missing_note(name))
                elif kind == "imputed":
                    assert medians is not None
                    found[i].append(
                        {
                            "type": "imputed",
                            "field": name,
                            "value": None,
                            "message": f"{name!r} is missing; used the training median {medians[self._numeric_index[name]]:g}",
                        }
                    )
                else:
                    value = values[i]
                    found[i].append(
                        {
                            "type": "out_of_range",
                            "field": name,
                            "value": value,
                            "message": f"{value!r} is outside the training range of {name!r}; clipped to it",
                        }
                    )
        return found


def _unknown_note(name: str, value: Any) -> dict[str, Any]:
    return {
        "type": "unknown_category",
        "field": name,
        "value": value,
        "message": f"{value!r} was not in the training vocabulary of {name!r}; used the trained unknown vector",
    }


def _missing_note(name: str) -> dict[str, Any]:
    return {
        "type": "missing_category",
        "field": name,
        "value": None,
        "message": f"{name!r} is missing; used the trained unknown vector",
    }
