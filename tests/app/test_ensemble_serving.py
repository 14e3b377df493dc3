"""An ensemble bundle through the real app: /predict answers the members' mean; /embeddings,
/embed and /model one vector per value of the feature's own width (the members' aligned mean)."""

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from features.alignment import aligned_mean
from features.schema import FeatureSpec
from tests.app.conftest import records, settings_for
from tests.conftest import FAST
from tests.synthetic import planted_frame


@pytest.fixture(scope="module")
def ensemble_run(tmp_path_factory):
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    spec = FeatureSpec(target="label", task="binary", categorical=["color", "city", "size"], numeric=["x", "noise"])
    config = TrainConfig(**{**FAST, "epochs": 3, "ensemble": 2})
    out = tmp_path_factory.mktemp("ensemble_app")
    return train(planted_frame(task="binary"), spec, config, name="ens", out=out, log=lambda _: None, verbose=0)


def test_ensemble_is_served_like_any_model(ensemble_run):
    run = ensemble_run
    members = [run.model.get_layer(f"member_{k}") for k in range(2)]
    inputs = run.encoder.transform(run.valid).model_inputs()
    mean = np.mean([np.asarray(m.predict(inputs, verbose=0)) for m in members], axis=0)
    with TestClient(create_app(settings_for(run))) as client:
        predictions = client.post("/predict", json={"records": records(run.valid.drop(columns=["label"]))}).json()
        got = np.array([p["probabilities"][str(run.target.classes_[1])] for p in predictions["predictions"]])
        np.testing.assert_allclose(got, mean[:, 0], atol=1e-5, rtol=0)
        value = run.encoder.categorical_["city"].vocabulary_[0]
        vector = client.get(f"/embeddings/city/{value}").json()
        own = [m.get_layer("embedding_city").get_weights()[0] for m in members]
        index = run.encoder.categorical_["city"].index_of(value)
        np.testing.assert_allclose(vector["vector"], aligned_mean(own)[index], atol=1e-6)
        assert len(vector["vector"]) == own[0].shape[1]  # one vector, not the members' side by side
        described = client.get("/model").json()
        city = next(f for f in described["features"] if f["name"] == "city")
        assert city["embedding_dim"] == own[0].shape[1]
        embedded = client.post("/embed", json={"records": records(run.valid.drop(columns=["label"]).head(3))}).json()
        widths = sum(f["embedding_dim"] for f in described["features"] if f["kind"] == "categorical")
        assert len(embedded["columns"]) == len(embedded["rows"][0]) == widths + len(run.manifest["numeric_inputs"])
        assert described["training"]["ensemble"]["members"] == 2
