"""Training data held in memory: a pandas table, split into training and holdout rows
(stratified), encoded once, and batched for each ensemble member by tf.data."""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import tensorflow as tf

from features.encoder import TabularEncoder, to_float
from features.errors import DataError
from features.schema import FeatureSpec
from features.target import python_scalar
from training.data.split import stratified_folds, stratified_holdout
from training.data.training_data import MIN_ROWS, DataRoute, EncodeTarget, Holdout, MemberData, TargetFacts, unfitted_encoder
from training.loop.config import EncodingSettings

VALID_BATCH = 4096


class TableData:
    def __init__(self, frame: pd.DataFrame, spec: FeatureSpec, *, valid: pd.DataFrame | None = None, source: str | None = None):
        self.spec, self.given, self.given_valid, self.origin = spec, frame, valid, source
        self.route = DataRoute(streamed=False, separate_holdout=valid is not None)
        self.crossed = False
        self.folds: list[np.ndarray] | None = None

    def load(self, seed: int, valid_fraction: float, log: Callable[[str], None]) -> None:
        tf.config.experimental.enable_op_determinism()  # in memory, a seed's run is bit for bit the same
        self.seed = seed  # also cuts the members' folds
        self.frame = usable_rows(self.given, self.spec, log)
        if self.given_valid is None:
            labels = self.frame[self.spec.target] if self.spec.task != "regression" else None
            train_rows, valid_rows = stratified_holdout(len(self.frame), valid_fraction, seed, labels)
            self.train_frame = self.frame.iloc[train_rows].reset_index(drop=True)
            self.valid_frame = self.frame.iloc[valid_rows].reset_index(drop=True)
        else:
            self.train_frame, self.valid_frame = self.frame, usable_rows(self.given_valid, self.spec, log)
        self.rows = len(self.train_frame)
        self.folds_from = len(self.frame) if self.given_valid is None else None

    def use_every_row(self) -> None:
        self.train_frame = self.valid_frame = self.frame
        self.rows = len(self.frame)
        self.crossed = True

    def fit_encoder(self, encoding: EncodingSettings) -> TabularEncoder:
        return unfitted_encoder(self.spec, encoding).fit(self.train_frame)

    def targets(self) -> TargetFacts:
        target = self.spec.target
        y = self.train_frame[target]
        every = self.frame[target] if self.given_valid is None else pd.concat([self.frame[target], self.valid_frame[target]])
        regression = self.spec.task == "regression"
        return TargetFacts(
            labels=[] if regression else list(pd.unique(every)),
            train_counts=Counter() if regression else Counter(y.tolist()),
            sample=y,
            mean=float(np.mean(np.asarray(y, dtype=np.float64))) if regression else float("nan"),
        )

    def encode(self, encoder: TabularEncoder, encode_target: EncodeTarget) -> Holdout:
        self.train_x = encoder.transform(self.train_frame).model_inputs()
        self.train_y = encode_target(self.train_frame[self.spec.target])
        if self.crossed:
            self.holdout = Holdout(self.valid_frame, self.train_x, self.train_y)
        else:
            valid_x = encoder.transform(self.valid_frame).model_inputs()
            self.holdout = Holdout(self.valid_frame, valid_x, encode_target(self.valid_frame[self.spec.target]))
        return self.holdout

    def judging_rows(self) -> tuple[list[np.ndarray], np.ndarray, str]:
        return self.train_x, self.train_y, "the training rows"

    def member(self, k: int, members: int, seed: int, batch_size: int) -> MemberData:
        fit_x, fit_y = self.train_x, self.train_y
        hold_x, hold_y = self.holdout.x, self.holdout.y
        held = None
        if self.crossed:  # member k early-stops on the k-th fold and trains on the rest
            if self.folds is None:
                labels = self.train_y.reshape(-1) if self.spec.task != "regression" else None
                self.folds = [fold for _, fold in stratified_folds(len(self.train_y), members, self.seed, labels)]
            held = self.folds[k]
            keep = np.ones(len(self.train_y), dtype=bool)
            keep[held] = False
            fit_x, fit_y = [a[keep] for a in self.train_x], self.train_y[keep]
            hold_x, hold_y = [a[held] for a in self.train_x], self.train_y[held]
        return MemberData(
            train=_dataset(fit_x, fit_y, batch_size, shuffle=True, seed=seed),
            valid=_dataset(hold_x, hold_y, VALID_BATCH, shuffle=False, seed=0),
            train_rows=len(fit_y),
            valid_rows=len(hold_y),
            held_out=held,
        )

    @property
    def manifest_entries(self) -> dict[str, Any]:
        return {}

    def describe(self) -> str:
        return ""

    def fingerprint(self) -> str:
        hashes = pd.util.hash_pandas_object(self.frame, index=False).to_numpy()
        return "sha256:" + hashlib.sha256(hashes.tobytes() + ",".join(self.frame.columns).encode()).hexdigest()

    def example(self) -> dict[str, Any]:
        return example_row(self.train_frame, self.spec)

    def ignored(self) -> dict[str, str]:
        return self.spec.ignored_columns(self.given.columns)

    def source(self) -> str | None:
        return self.origin


def example_row(frame: pd.DataFrame, spec: FeatureSpec) -> dict[str, Any]:
    """One complete training row (no missing values if there is one), to show in /docs."""
    complete = frame[spec.features].dropna()
    row = (complete if len(complete) else frame[spec.features]).iloc[0]
    return {name: _json_value(row[name]) for name in spec.features}


def _json_value(value: Any) -> Any:
    value = python_scalar(value)
    return None if isinstance(value, float) and math.isnan(value) else value


def usable_rows(frame: pd.DataFrame, spec: FeatureSpec, log: Callable[[str], None]) -> pd.DataFrame:
    """The rows with a target, of the spec's columns; text in a numeric column fails here, naming its row."""
    frame = frame[[*spec.features, spec.target]]
    labelled = frame[spec.target].notna()
    if not labelled.all():
        log(f"dropping {int((~labelled).sum()):,} rows whose target {spec.target!r} is missing")
        frame = frame[labelled]
    if len(frame) < MIN_ROWS:
        raise DataError(f"only {len(frame)} labelled rows; catembed needs at least {MIN_ROWS}", field=spec.target)
    for name in spec.numeric:  # the index is the file's: the error names the file's row
        to_float(name, frame[name])
    if spec.task == "regression":
        to_float(spec.target, frame[spec.target])
    return frame.reset_index(drop=True)


def _dataset(x: list[np.ndarray], y: np.ndarray, batch_size: int, *, shuffle: bool, seed: int) -> tf.data.Dataset:
    # Row indices are shuffled and each batch is gathered in one op: shuffling the (inputs,
    # target) rows one element at a time made the pipeline, not the network, the bottleneck
    # (2.4x fewer rows/s on NYC flights; bench/training.py).
    inputs, target = tuple(tf.constant(a) for a in x), tf.constant(y)
    order = tf.data.Dataset.range(len(y))
    if shuffle:
        order = order.shuffle(len(y), seed=seed, reshuffle_each_iteration=True)
    batches = order.batch(batch_size).map(
        lambda rows: (tuple(tf.gather(a, rows) for a in inputs), tf.gather(target, rows)), num_parallel_calls=tf.data.AUTOTUNE
    )
    return batches.prefetch(tf.data.AUTOTUNE)
