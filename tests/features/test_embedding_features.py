"""EmbeddingFeatures gives other models exactly the vectors of the service's POST /embed."""

from __future__ import annotations

import numpy as np
import orjson
import pytest

from app.predictor import Predictor
from features.artifacts import load_bundle
from features.embedding_features import EmbeddingFeatures
from tests.app.conftest import records
from tests.synthetic import planted_frame


@pytest.fixture(scope="module")
def rows():
    # fresh rows, including values the model never saw (unknown city, missing colour)
    frame = planted_frame(n=200, seed=11).drop(columns=["label"])
    frame.loc[0, "city"] = "atlantis"
    frame.loc[1, "color"] = None
    return frame


def _fitted(run, **params) -> EmbeddingFeatures:
    return EmbeddingFeatures(run.path.parent, int(run.path.name), **params).fit()


def test_numeric_true_equals_post_embed(binary_run, rows):
    bundle = load_bundle(binary_run.path.parent, int(binary_run.path.name))
    served = Predictor(bundle).embed(orjson.dumps({"records": records(rows)}))
    transformer = _fitted(binary_run, numeric=True)
    assert list(transformer.get_feature_names_out()) == served["columns"]
    np.testing.assert_array_equal(transformer.transform(rows), np.asarray(served["rows"], dtype=np.float32))


def test_default_is_the_embedding_block_of_graph_features(binary_run, rows):
    bundle = load_bundle(binary_run.path.parent, int(binary_run.path.name))
    batch = bundle.encoder.transform(rows)
    everything = bundle.graph.features(batch.categorical, batch.numeric)
    width = sum(table.shape[1] for table in bundle.graph.embeddings)
    out = _fitted(binary_run).transform(rows)
    assert out.shape == (len(rows), width) and out.dtype == np.float32
    np.testing.assert_array_equal(out, everything[:, :width])
    names = list(_fitted(binary_run).get_feature_names_out())
    assert len(names) == width and names[0] == "color__emb0" and names[-1].startswith("size__emb")
    # the unknown city and the missing colour get the trained unknown row 0
    city = bundle.encoder.categorical.index("city")
    start = sum(t.shape[1] for t in bundle.graph.embeddings[:city])
    np.testing.assert_array_equal(
        out[0, start : start + bundle.graph.embeddings[city].shape[1]], bundle.graph.embeddings[city][0]
    )


def test_sklearn_clone_and_pipeline(binary_run, rows):
    from sklearn.base import clone
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    transformer = EmbeddingFeatures(binary_run.path.parent, int(binary_run.path.name))
    copy = clone(transformer).set_params(numeric=True)
    assert copy.get_params() == {**transformer.get_params(), "numeric": True} and not hasattr(copy, "bundle_")
    train = planted_frame(n=600, seed=5)
    pipeline = Pipeline([("embed", copy), ("model", LogisticRegression(max_iter=500))])
    pipeline.fit(train.drop(columns=["label"]), train["label"])
    # the /embed features carry the planted signal: a linear model on them beats the majority class clearly
    truth = planted_frame(n=200, seed=11)["label"]
    accuracy = float(np.mean(pipeline.predict(rows) == truth))
    assert accuracy > truth.value_counts(normalize=True).max() + 0.1, accuracy
    assert list(pipeline.named_steps["embed"].get_feature_names_out()) == list(
        _fitted(binary_run, numeric=True).get_feature_names_out()
    )


def test_needs_a_model_dir_and_a_fit():
    with pytest.raises(ValueError, match="model_dir"):
        EmbeddingFeatures().fit()
    with pytest.raises(RuntimeError, match="not fitted"):
        EmbeddingFeatures("/nowhere").transform({"a": [1]})


def test_components_are_the_weighted_principal_coordinates_of_each_vector(binary_run, rows):
    """components=K: each feature's vectors on the axes along which its training rows' vectors
    vary most, computed here the long way: every table row repeated by its training rows."""
    from features.embedding_features import row_weights

    bundle = load_bundle(binary_run.path.parent, int(binary_run.path.name))
    full = _fitted(binary_run).transform(rows)
    reduced = _fitted(binary_run, components=2)
    out = reduced.transform(rows)
    names = list(reduced.get_feature_names_out())
    assert out.shape == (len(rows), sum(min(2, t.shape[1]) for t in bundle.graph.embeddings))
    assert names[:2] == ["color__pc0", "color__pc1"]
    start = column = 0
    for feature, table in zip(bundle.encoder.categorical, bundle.graph.embeddings, strict=True):
        weights = row_weights(bundle.encoder.categorical_[feature]).astype(int)
        training_rows = np.repeat(table.astype(np.float64), weights, axis=0)
        mean = training_rows.mean(axis=0)
        _, _, axes = np.linalg.svd(training_rows - mean, full_matrices=False)
        block = full[:, start : start + table.shape[1]]
        for j in range(min(2, table.shape[1])):
            expected = (block - mean) @ axes[j]
            got = out[:, column + j]
            sign = np.sign(got @ expected) or 1.0  # an axis' sign is a convention
            np.testing.assert_allclose(got, sign * expected, atol=1e-4)
        if table.shape[1] > 1:  # the first axis carries the most variance of the training rows
            projected = (training_rows - mean) @ axes[:2].T
            assert projected[:, 0].var() >= projected[:, 1].var()
        start += table.shape[1]
        column += min(2, table.shape[1])
    np.testing.assert_array_equal(_fitted(binary_run, components=2).transform(rows), out)  # a refit: the same columns


@pytest.mark.parametrize("bad", [0, -1, 1.5, True, "2"])
def test_components_must_be_a_whole_number(binary_run, bad):
    with pytest.raises(ValueError, match="components must be a whole number"):
        _fitted(binary_run, components=bad)
