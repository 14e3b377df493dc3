"""The contenders: catembed with its defaults, LightGBM, CatBoost, LightGBM + catembed embeddings.

catembed goes through the CLI's own path (resolve_spec → TrainConfig defaults → trainer.train
writing a bundle) and is scored through the bundle's encoder and NumPy graph: what the service
returns. Its column roles are inferred as ``catembed train --data t.csv --target y`` infers them
(training.data.column_types), unless ``roles`` names another rule (RULES, "legacy") or
``"declared"``: the set's roles, which LightGBM and CatBoost always get (the set's categoricals
native, numbers numeric). The trainer carves its early-stopping split out of the training part with the same seed and
stratification as the boosters' (``early_stopping_rows``), so all three stop on the same rows
and never on the test set.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn import metrics
from sklearn.model_selection import train_test_split

from bench.quality.datasets import Dataset
from features.artifacts import load_bundle
from features.coverage import common_values
from features.embedding_features import EmbeddingFeatures

# One thread: on this shared 2-core machine LightGBM's OpenMP threads spin against the other
# processes — ames took 62.6 s with two threads and 1.9 s with one, same model (measured).
LIGHTGBM_PARAMS = {"learning_rate": 0.05, "num_leaves": 31, "verbose": -1, "num_threads": 1}
LIGHTGBM_ROUNDS, LIGHTGBM_PATIENCE, VALID_FRACTION = 2000, 100, 0.2
# CatBoost: its defaults (depth 6, ordered target statistics for the categoricals, a learning rate
# it picks from the rows and the round budget), under LightGBM's budget and patience, one thread.
CATBOOST_PARAMS = {"thread_count": 1, "verbose": False, "allow_writing_files": False}
MISSING_CATEGORY = "(missing)"  # CatBoost refuses NaN in a categorical column


@dataclass
class Score:
    value: float  # ROC AUC or RMSE on the test part
    seconds: float  # training wall time
    detail: dict[str, Any]


def score(task: str, truth: np.ndarray, predicted: np.ndarray) -> float:
    if task == "binary":
        return float(metrics.roc_auc_score(truth, predicted))
    return float(np.sqrt(metrics.mean_squared_error(truth, predicted)))


def run_catembed(
    data: Dataset, train: pd.DataFrame, test: pd.DataFrame, seed: int, out: Path, roles: str = "inferred", **overrides: Any
) -> Score:
    from training.loop.config import TrainConfig
    from training.loop.trainer import train as train_model

    spec = catembed_spec(data, train, roles)
    config = TrainConfig().with_overrides(**overrides, seed=seed)
    started = time.perf_counter()
    result = train_model(train, spec, config, name=data.name, out=out, log=lambda _: None, verbose=0)
    seconds = time.perf_counter() - started
    bundle = load_bundle(result.path.parent, int(result.path.name))
    batch = bundle.encoder.transform(test)
    output = bundle.graph(batch.categorical, batch.numeric)
    if data.task == "binary":
        predicted = bundle.target.probabilities(output)[:, list(bundle.target.classes_).index(1)]
    else:
        predicted = bundle.target.values(output).reshape(-1)
    training = result.manifest["training"]
    detail = {
        "bundle": str(result.path),
        "epochs_run": training["epochs_run"],
        "best_epoch": training["best_epoch"],
        "fit_seconds": training["fit_seconds"],
        "rows_per_second": training["rows_per_second"],
        "parameters": result.manifest["model"]["parameters"],
        "coverage": coverage(bundle.encoder),
        "categorical": list(spec.categorical),
        "ple_features": training.get("ple_features"),
    }
    return Score(score(data.task, test[data.target].to_numpy(), predicted), seconds, detail)


# the column-type rules measured against each other (docs/decisions.md: column-types): "inferred" is
# catembed's (training.data.column_types); the others change one part of it, or restore the rule
# it replaced ("legacy")
RULES: dict[str, dict[str, Any]] = {
    "inferred": {},
    "few-both": {"few_values": "both"},
    "few-categorical": {"few_values": "categorical"},
    "few-numeric": {"few_values": "numeric"},
    "no-codes": {"codes": False},
}
ROLES = (*RULES, "legacy", "declared")


def catembed_spec(data: Dataset, train: pd.DataFrame, roles: str = "inferred") -> Any:
    from training.data.column_types import infer_types
    from training.data.spec import resolve_spec, spec_columns

    if roles not in ROLES:
        raise SystemExit(f"roles={roles!r}: roles are {', '.join(ROLES)} ('inferred' is the CLI's, 'declared' the set's)")
    if roles == "inferred":
        return resolve_spec(train, target=data.target, task=data.task, log=lambda _: None)
    if roles == "declared":
        categorical, numeric = data.categorical, data.numeric
    else:
        features = train.drop(columns=[data.target])
        if roles == "legacy":
            categorical, numeric = legacy_columns(features)
        else:
            types = infer_types(features, train[data.target], data.task, **RULES[roles])
            categorical, numeric, _ = spec_columns(types)
    return resolve_spec(train, target=data.target, task=data.task, categorical=categorical, numeric=numeric, log=lambda _: None)


def legacy_columns(frame: pd.DataFrame) -> tuple[list[str], list[str]]:
    """The rule column_types replaced (to 2026-12): integers with at most 50 distinct values are
    categories only, every other number (fractional or not) a number; ids and constants dropped."""
    categorical, numeric = [], []
    for name in frame.columns:
        values = frame[name].dropna()
        distinct = values.nunique()
        if distinct < 2 or pd.api.types.is_datetime64_any_dtype(values):
            continue
        if pd.api.types.is_bool_dtype(values):
            categorical.append(name)
        elif pd.api.types.is_integer_dtype(values):
            if distinct == len(frame) and len(frame) > 50:
                continue
            (categorical if distinct <= 50 else numeric).append(name)
        elif pd.api.types.is_float_dtype(values):
            numeric.append(name)
        elif not (distinct == len(frame) and len(frame) > 50):
            categorical.append(name)
    return categorical, numeric


def embedding_columns(
    data: Dataset,
    train: pd.DataFrame,
    test: pd.DataFrame,
    seed: int,
    bundle: Path,
    *,
    folds: int | None,
    roles: str = "inferred",
    components: int | None = None,
    **overrides: Any,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The catembed vectors LightGBM gets as extra columns, for the training and the test part.
    ``folds``: the training part's vectors are out-of-fold (``training.loop.out_of_fold``); None: the
    bundle's own, fitted on those very rows (in-sample, the leak). ``components``: each feature's
    leading principal components instead of its whole vector (in-sample only)."""
    if components is not None and folds is not None:
        raise SystemExit("principal components of out-of-fold vectors are not measured")
    transformer = EmbeddingFeatures(bundle.parent, int(bundle.name), components=components).fit()
    names = list(transformer.get_feature_names_out())
    if folds is None:
        return transformer.transform(train), transformer.transform(test), names
    from training.loop.config import TrainConfig
    from training.loop.out_of_fold import out_of_fold_features

    spec = catembed_spec(data, train, roles)
    config = TrainConfig().with_overrides(**overrides, seed=seed)
    crossed = out_of_fold_features(train, spec, config, bundle, folds=folds, log=lambda _: None)
    if len(crossed.rows) != len(train):  # the bench sets have a target on every row
        raise SystemExit(f"{data.name}: {len(train) - len(crossed.rows)} training rows without a target")
    return crossed.features, transformer.transform(test), names


def coverage(encoder: Any) -> float | None:
    """Share of the category values with ≥ 5 training rows (over every categorical feature) that
    have their own vector; None for a set without categorical features."""
    counted = [common_values(categorical) or (0, 0) for categorical in encoder.categorical_.values()]
    common, own = sum(c for c, _ in counted), sum(o for _, o in counted)
    return own / common if common else None


def run_lightgbm(
    data: Dataset,
    train: pd.DataFrame,
    test: pd.DataFrame,
    seed: int,
    *,
    quick: bool = False,
    embeddings: tuple[np.ndarray, np.ndarray, list[str]] | None = None,
) -> Score:
    """Native categoricals (pandas category dtype); ``embeddings`` (``embedding_columns``) are
    appended as extra numeric columns."""
    import lightgbm as lgb

    started = time.perf_counter()
    x_train, x_test = _lightgbm_frame(data, train, train), _lightgbm_frame(data, test, train)
    if embeddings is not None:
        train_vectors, test_vectors, names = embeddings
        x_train = x_train.join(pd.DataFrame(train_vectors, columns=names))
        x_test = x_test.join(pd.DataFrame(test_vectors, columns=names))
    y = train[data.target].to_numpy()
    fit_idx, valid_idx = early_stopping_rows(data, train, seed)
    params = {**LIGHTGBM_PARAMS, "objective": "binary" if data.task == "binary" else "regression", "seed": seed}
    fit_set = lgb.Dataset(x_train.iloc[fit_idx], y[fit_idx])
    valid_set = lgb.Dataset(x_train.iloc[valid_idx], y[valid_idx], reference=fit_set)
    booster = lgb.train(
        params,
        fit_set,
        num_boost_round=200 if quick else LIGHTGBM_ROUNDS,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(20 if quick else LIGHTGBM_PATIENCE, verbose=False)],
    )
    seconds = time.perf_counter() - started
    predicted = booster.predict(x_test, num_iteration=booster.best_iteration)
    detail = {"best_iteration": int(booster.best_iteration), "features": int(x_train.shape[1])}
    return Score(score(data.task, test[data.target].to_numpy(), np.asarray(predicted)), seconds, detail)


def early_stopping_rows(data: Dataset, train: pd.DataFrame, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(fitting rows, early-stopping rows) of the training part: the trainer's own split (same
    fraction, seed and stratification), shared by both boosters."""
    y = train[data.target].to_numpy()
    fit_idx, valid_idx = train_test_split(
        np.arange(len(train)), test_size=VALID_FRACTION, random_state=seed, stratify=y if data.task == "binary" else None
    )
    return fit_idx, valid_idx


def run_catboost(data: Dataset, train: pd.DataFrame, test: pd.DataFrame, seed: int, *, quick: bool = False) -> Score:
    """CatBoost with the set's categoricals as native categorical features (ordered target
    statistics), early-stopped on LightGBM's validation rows with LightGBM's round budget."""
    from catboost import CatBoost, Pool

    started = time.perf_counter()
    x_train, x_test = _catboost_frame(data, train), _catboost_frame(data, test)
    y = train[data.target].to_numpy()
    fit_idx, valid_idx = early_stopping_rows(data, train, seed)
    fit_set = Pool(x_train.iloc[fit_idx], y[fit_idx], cat_features=data.categorical)
    valid_set = Pool(x_train.iloc[valid_idx], y[valid_idx], cat_features=data.categorical)
    params = {
        **CATBOOST_PARAMS,
        "loss_function": "Logloss" if data.task == "binary" else "RMSE",
        "iterations": 200 if quick else LIGHTGBM_ROUNDS,
        "early_stopping_rounds": 20 if quick else LIGHTGBM_PATIENCE,
        "random_seed": seed,
    }
    model = CatBoost(params)
    model.fit(fit_set, eval_set=valid_set, use_best_model=True)
    seconds = time.perf_counter() - started
    test_set = Pool(x_test, cat_features=data.categorical)
    kind = "Probability" if data.task == "binary" else "RawFormulaVal"
    predicted = np.asarray(model.predict(test_set, prediction_type=kind))
    if data.task == "binary":
        predicted = predicted[:, 1]
    detail = {
        "best_iteration": int(model.get_best_iteration()),
        "learning_rate": float(model.get_all_params()["learning_rate"]),
        "features": int(x_train.shape[1]),
    }
    return Score(score(data.task, test[data.target].to_numpy(), predicted), seconds, detail)


def _catboost_frame(data: Dataset, frame: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as strings (missing as their own value), numerics as float64 (NaN allowed)."""
    columns = {}
    for name in data.categorical:
        values = frame[name]
        columns[name] = values.astype(str).where(values.notna(), MISSING_CATEGORY).astype(object)
    for name in data.numeric:
        columns[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))


def _lightgbm_frame(data: Dataset, frame: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """Categoricals as pandas categories with the training part's categories (unseen → NaN)."""
    columns = {}
    for name in data.categorical:
        categories = pd.Index(reference[name].dropna().unique())
        known = frame[name].where(frame[name].isin(categories))  # unseen → NaN explicitly (pandas 4 refuses them)
        columns[name] = pd.Categorical(known, categories=categories)
    for name in data.numeric:
        columns[name] = pd.to_numeric(frame[name], errors="coerce").astype(np.float64)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(frame)))
