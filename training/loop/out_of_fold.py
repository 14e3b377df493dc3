"""Out-of-fold embedding features: vectors for the rows another model learns from, made by
networks that never saw those rows.

A vector fitted on a row carries that row's target, the leak target encoding has, and a model
fed in-sample vectors trusts them more than they deserve on new rows. So the training rows are
cross-fitted, as scikit-learn's ``TargetEncoder.fit_transform`` does: K networks, each trained
without one fold, give that fold its vectors. The holdout rows and every new row get the final
bundle's vectors (the holdout only chose its epoch; it was never trained on).

K networks learn K different spaces, so each is turned onto the final network's space first: an
orthogonal Procrustes rotation plus a shift per feature, fitted on the rows that network
trained on. Then coordinate j means the same for every row, and a tree's split on it carries
over to new rows (unrotated fold vectors cost LightGBM more than rotated ones).
The rotation leaves a residual, which is why this is an option: on the bench sets, whose values
have tens of rows or more, it did not beat in-sample vectors (docs/decisions.md: out-of-fold).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from features.embedding_features import EmbeddingFeatures
from features.errors import DataError
from features.schema import FeatureSpec
from training.data.split import stratified_folds, stratified_holdout
from training.data.table_data import usable_rows
from training.data.training_data import DataRoute
from training.loop.auto import resolve_network
from training.loop.compatibility import check_compatible
from training.loop.config import TrainConfig
from training.loop.trainer import train

MIN_FOLDS = 2
OUTPUT_FORMATS = (".parquet", ".csv")


@dataclass
class OutOfFold:
    features: np.ndarray  # (rows, width) float32: the vectors of every usable training row
    names: list[str]  # the columns: EmbeddingFeatures' names, <feature>__emb<j>
    rows: np.ndarray  # each row's position in the frame given (rows without a target are left out)
    fit: list[float]  # per fold: the share of the final space's variance its rotated vectors explain

    def save(self, path: Path) -> None:
        """``row`` (the row's position in the data) and the vector columns, as Parquet or CSV,
        written to a hidden file beside ``path`` and renamed: the file appears whole or not at all."""
        check_output(path)
        frame = pd.DataFrame(self.features, columns=self.names)
        frame.insert(0, "row", self.rows)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            if path.suffix == ".parquet":
                frame.to_parquet(partial, index=False)
            else:
                frame.to_csv(partial, index=False, float_format="%.7g")
            os.replace(partial, path)
        except OSError as exc:
            raise DataError(f"could not write {path}: {exc.strerror}", field="out_of_fold", value=str(path)) from None
        finally:
            partial.unlink(missing_ok=True)


def check_spec(spec: FeatureSpec) -> None:
    if not spec.categorical:
        raise DataError(
            "--out-of-fold: the spec has no categorical feature, so there are no vectors to cross-fit", field="out_of_fold"
        )


def check_folds(folds: int) -> None:
    if folds < MIN_FOLDS:
        raise DataError(f"--folds must be at least {MIN_FOLDS}, got {folds}", field="folds", value=folds)


def check_output(path: Path) -> None:
    """Refuse, before any training, what ``save`` could not write, and never overwrite a file."""
    if path.suffix not in OUTPUT_FORMATS:
        raise DataError(
            f"--out-of-fold {str(path)!r}: expected a {' or '.join(OUTPUT_FORMATS)} file", field="out_of_fold", value=str(path)
        )
    if path.exists():
        raise DataError(
            f"--out-of-fold {str(path)!r} already exists; catembed does not overwrite it", field="out_of_fold", value=str(path)
        )
    if not path.parent.is_dir():
        raise DataError(
            f"--out-of-fold {str(path)!r}: the folder {str(path.parent)!r} does not exist", field="out_of_fold", value=str(path)
        )


def out_of_fold_features(
    frame: pd.DataFrame,
    spec: FeatureSpec,
    config: TrainConfig,
    bundle: Path,
    *,
    folds: int = 5,
    valid: pd.DataFrame | None = None,
    log: Callable[[str], None] = print,
) -> OutOfFold:
    """Cross-fitted vectors for the rows the bundle at ``bundle`` (a version folder, as
    ``TrainResult.path``) was trained from: ``frame``, ``spec``, ``config`` and ``valid`` are
    what ``training.loop.trainer.train`` got for it."""
    check_folds(folds)
    check_spec(spec)
    check_compatible(config, DataRoute(streamed=False, separate_holdout=valid is not None), out_of_fold=True)
    positions = np.flatnonzero(frame[spec.target].notna().to_numpy())
    usable = usable_rows(frame, spec, lambda _: None)
    every_row = np.arange(len(usable)), np.arange(0)
    labels = usable[spec.target] if spec.task != "regression" else None
    fitting = config.fitting
    train_rows, holdout_rows = (
        stratified_holdout(len(usable), fitting.valid_fraction, fitting.seed, labels) if valid is None else every_row
    )
    # the bundle's network (width, encoding, members), though each fold network fits on fewer
    # rows: its batch size and shrinkage follow its own rows, as they did for the bundle's
    config = resolve_network(config, spec.task or "regression", len(train_rows))
    holdout: pd.DataFrame | None = valid
    if valid is None and config.ensembling.crosses_folds:  # the bundle trained on every row; each fold network crosses its own
        train_rows, holdout_rows = every_row
    elif valid is None:
        holdout = usable.iloc[holdout_rows].reset_index(drop=True)
    training = usable.iloc[train_rows].reset_index(drop=True)
    if len(training) < folds:
        raise DataError(f"{len(training)} training rows cannot make {folds} folds", field="folds", value=folds)

    reference = EmbeddingFeatures(bundle.parent, int(bundle.name)).fit()
    names = list(reference.get_feature_names_out())
    target = reference.transform(training)  # the final space, which every fold is turned onto
    features = np.empty((len(usable), len(names)), dtype=np.float32)
    if len(holdout_rows):
        features[holdout_rows] = reference.transform(usable.iloc[holdout_rows])
    in_fold = np.empty((len(training), len(names)), dtype=np.float32)
    fits = []
    with tempfile.TemporaryDirectory(prefix="catembed-folds-") as scratch:
        labels = training[spec.target] if spec.task != "regression" else None
        for k, (inner, held) in enumerate(stratified_folds(len(training), folds, fitting.seed, labels)):
            log(f"out-of-fold: network {k + 1} of {folds}, trained without {len(held):,} rows")
            result = train(
                training.iloc[inner], spec, config, name=f"fold{k}", out=scratch, valid=holdout, log=lambda _: None, verbose=0
            )
            model = EmbeddingFeatures(result.path.parent, int(result.path.name)).fit()
            own = model.transform(training)
            explained = []
            for mine, theirs in zip(_blocks(model), _blocks(reference), strict=True):
                rotate = Rotation.fit(own[inner, mine], target[inner, theirs])
                in_fold[held, theirs] = rotate(own[held, mine])
                explained.append(rotate.explained)
            fits.append(float(np.mean(explained)) if explained else 1.0)
    features[train_rows] = in_fold
    log("out-of-fold: the rotated fold vectors explain " + ", ".join(f"{f:.0%}" for f in fits) + " of the final space")
    return OutOfFold(features, names, positions, fits)


@dataclass
class Rotation:
    """``(x − x̄) R + ȳ`` with R the orthogonal (or, between widths, semi-orthogonal) matrix
    closest to mapping x onto y; a rotation keeps distances, so it cannot overfit the fold."""

    source_mean: np.ndarray
    matrix: np.ndarray
    target_mean: np.ndarray
    explained: float

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray) -> Rotation:
        x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
        xc, yc = (x - x_mean).astype(np.float64), (y - y_mean).astype(np.float64)
        u, _, vt = np.linalg.svd(xc.T @ yc, full_matrices=False)
        matrix = u @ vt
        spread = float((yc**2).sum())
        explained = 1.0 - float(((xc @ matrix - yc) ** 2).sum()) / spread if spread > 0 else 1.0
        return cls(x_mean, matrix, y_mean, explained)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.source_mean) @ self.matrix + self.target_mean).astype(np.float32)


def _blocks(transformer: EmbeddingFeatures) -> list[slice]:
    """Each categorical feature's columns: widths can differ between the fold networks, since a
    fold's vocabulary (and so its default width) can be a little smaller."""
    slices, start = [], 0
    for table in transformer.bundle_.graph.vectors:
        slices.append(slice(start, start + table.shape[1]))
        start += table.shape[1]
    return slices
