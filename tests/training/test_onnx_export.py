"""``catembed export --format onnx|triton``: the bundle as one ONNX graph, run in onnxruntime.

The graph is held to the NumPy graph the service runs: on the exporter's own parity rows (the
gate), and here on raw holdout rows sent as a v2 client sends them, with unseen categories,
missing values and numbers beyond the clip bounds. Ensembles, batch ensembles and periodic
embeddings are exported in tests/training/test_ensemble.py and test_batch_ensemble.py."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime", reason="onnx and onnxruntime are the optional extra catembed[onnx]")

import onnxruntime

from cli.main import main
from features.artifacts import Bundle, load_bundle
from features.canonical import canonical
from training.export.ensemble_graph import stitch
from training.export.onnx import export_model

ROOT = Path(__file__).parents[2]


def _bundle(run) -> Bundle:
    return load_bundle(run.path.parent, int(run.path.name))


def _feeds(bundle: Bundle, frame) -> dict[str, np.ndarray]:
    """What an ONNX client sends: canonical strings ("" for missing), doubles (NaN for missing)."""
    feeds = {}
    for name in bundle.encoder.categorical:
        feeds[name] = np.asarray(["" if (c := canonical(v)) is None else c for v in frame[name].tolist()], dtype=object)
    for name in bundle.encoder.numeric:
        feeds[name] = frame[name].to_numpy(dtype=np.float64, na_value=np.nan)
    return feeds


def _holdout(run):
    frame = run.valid.reset_index(drop=True).copy()
    frame.loc[::7, "color"] = "purple"  # unseen
    frame.loc[1::11, "city"] = None  # missing
    frame.loc[2::13, "x"] = np.nan  # imputed, with its indicator
    frame.loc[3::17, "noise"] = 1e6  # beyond the clip bound
    frame.loc[4::19, "noise"] = -1e6
    return frame


@pytest.mark.parametrize("name", ["binary", "multiclass", "regression", "expanded", "shrunk"])
def test_onnxruntime_answers_raw_rows_as_the_service_does(name, request, tmp_path):
    run = request.getfixturevalue(f"{name}_run")
    out = tmp_path / "model.onnx"
    assert main(["export", str(run.path.parent), "--version", run.path.name, "--out", str(out)]) == 0
    bundle, frame = _bundle(run), _holdout(run)
    session = onnxruntime.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == bundle.encoder.features
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, _feeds(bundle, frame)), strict=True))
    batch = bundle.encoder.transform(frame)  # the service's encoder and graph
    output = bundle.graph(batch.categorical, batch.numeric)
    for feature, table, codes in zip(bundle.encoder.categorical, bundle.graph.embeddings, batch.categorical, strict=True):
        np.testing.assert_array_equal(got[f"{feature}__embedding"], table[codes])
    assert (batch.categorical[0] == 0).sum() >= len(frame) // 7  # the unknown row was exercised
    if run.manifest["task"] == "regression":
        assert set(got) == {"value", "color__embedding", "city__embedding", "size__embedding"}
        scale = bundle.target.scale_
        np.testing.assert_allclose(got["value"], bundle.target.values(output), atol=1e-5 * scale, rtol=0)
        return
    probabilities = bundle.target.probabilities(output)
    np.testing.assert_allclose(got["probabilities"], probabilities, atol=1e-5, rtol=0)
    labels = np.asarray([str(c) for c in bundle.target.classes_], dtype=object)
    assert (got["label"] == labels[probabilities.argmax(axis=1)]).mean() > 0.99  # near ties may flip within 1e-5


def test_a_string_input_takes_the_canonical_spellings_of_a_category(binary_run):
    """size holds integers: JSON clients send 3, 3.0, "3" or True for 1; the service canonicalises
    them; the ONNX graph maps the spellings docs/onnx.md lists to the same row."""
    bundle = _bundle(binary_run)
    session = onnxruntime.InferenceSession(export_model(bundle).model.SerializeToString(), providers=["CPUExecutionProvider"])
    spelled = ["3", "3.0", "1", "true", "TRUE", "1.0", "", "99"]
    served = [3, 3.0, 1, True, "TRUE", "1.0", None, 99]
    frame = binary_run.valid.head(len(spelled)).reset_index(drop=True).copy()
    feeds = _feeds(bundle, frame)
    feeds["size"] = np.asarray(spelled, dtype=object)
    rows = session.run(["size__embedding"], feeds)[0]
    expected = bundle.graph.embeddings[2][bundle.encoder.categorical_["size"].transform(served)]
    np.testing.assert_array_equal(rows, expected)
    assert np.array_equal(rows[6], bundle.graph.embeddings[2][0]) and np.array_equal(rows[7], rows[6])  # missing, unseen: row 0


def test_five_networks_are_averaged_inside_the_graph(regression_run):
    """Five member networks stitched as training stitches an ensemble (grouped layers, member
    mean): the regression fixture's network with each member's weights moved apart."""
    bundle = _bundle(regression_run)
    rng = np.random.default_rng(5)
    members = []
    for _ in range(5):
        member = load_bundle(regression_run.path.parent, int(regression_run.path.name)).graph
        for layer in member.layers:
            for key in ("kernel", "bias"):
                if key in layer:
                    layer[key] = (layer[key] * rng.uniform(0.5, 1.5, layer[key].shape)).astype(np.float32)
        members.append(type(member)(member.embeddings, member.layers, member.numeric_width, member.expansion))
    bundle.graph = stitch(members)
    ops = [layer["op"] for layer in bundle.graph.layers]
    assert "grouped_dense" in ops and ops[-1] == "member_mean" and bundle.graph.layers[-1]["members"] == 5
    exported = export_model(bundle)
    assert max(v for k, v in exported.differences.items()) <= 1e-5
    assert {"ReduceMean", "MatMul", "LabelEncoder"} <= {node.op_type for node in exported.model.graph.node}


def test_a_log_target_is_inverted_inside_the_graph(regression_run):
    """A target learned as log1p (--target-scale log) comes back through expm1: the graph's
    ``value`` held by the gate to the service's, in the target's own units."""
    from features.target import ScaledTarget

    bundle = _bundle(regression_run)
    bundle.target = ScaledTarget("log").fit(np.abs(regression_run.valid["label"].to_numpy()))
    assert bundle.target.log_
    exported = export_model(bundle)
    assert exported.differences["value"] <= 1e-5 and "Exp" in {node.op_type for node in exported.model.graph.node}


def test_the_gate_refuses_a_graph_that_answers_otherwise_and_writes_nothing(binary_run, tmp_path, monkeypatch, capsys):
    from training.export import onnx_network

    out = tmp_path / "model.onnx"
    out.write_bytes(b"an earlier export")
    honest = onnx_network._activation
    monkeypatch.setattr(onnx_network, "_activation", lambda b, name, x: x if name == "relu" else honest(b, name, x))
    assert main(["export", str(binary_run.path.parent), "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: the ONNX graph of") and "nothing was written" in error and "\n" not in error
    assert out.read_bytes() == b"an earlier export" and list(tmp_path.iterdir()) == [out]


def test_triton_layout_describes_the_graph(binary_run, tmp_path, capsys):
    from google.protobuf import text_format
    from tritonclient.grpc import model_config_pb2

    from training.export.triton import _quoted

    repository = tmp_path / "models"
    assert main(["export", str(binary_run.path.parent), "--format", "triton", "--out", str(repository)]) == 0
    version = binary_run.path.name
    model = repository / "binary" / version / "model.onnx"
    assert sorted(p.name for p in (repository / "binary").iterdir()) == sorted(["config.pbtxt", version])
    config = text_format.Parse((repository / "binary" / "config.pbtxt").read_text(), model_config_pb2.ModelConfig())
    assert config.name == "binary" and config.backend == "onnxruntime" and config.max_batch_size == 0
    session = onnxruntime.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    onnx_types = {"tensor(string)": "TYPE_STRING", "tensor(double)": "TYPE_FP64", "tensor(float)": "TYPE_FP32"}
    for declared, actual in ((config.input, session.get_inputs()), (config.output, session.get_outputs())):
        assert [(t.name, model_config_pb2.DataType.Name(t.data_type)) for t in declared] == [
            (a.name, onnx_types[a.type]) for a in actual
        ]
        assert [list(t.dims) for t in declared] == [[-1 if isinstance(d, str) else d for d in a.shape] for a in actual]
    # the inputs are the v2 metadata's: BYTES categoricals, FP64 numerics, in feature order
    v2 = {"TYPE_STRING": "BYTES", "TYPE_FP64": "DOUBLE"}
    kinds = {f["name"]: f["kind"] for f in binary_run.manifest["features"]}
    assert [v2[model_config_pb2.DataType.Name(t.data_type)] for t in config.input] == [
        "BYTES" if kinds[t.name] == "categorical" else "DOUBLE" for t in config.input
    ]
    weird = 'a "quoted" \\ name, café'  # feature names are column names: quotes and backslashes survive
    assert text_format.Parse(f"name: {_quoted(weird)}", model_config_pb2.ModelConfig()).name == weird
    capsys.readouterr()
    assert main(["export", str(binary_run.path.parent), "--format", "triton", "--out", str(repository)]) == 2
    assert "exists already; a version is never replaced" in capsys.readouterr().err


def test_bad_arguments_are_one_line_and_exit_2(binary_run, tmp_path, capsys):
    cases = [
        (["export", str(tmp_path / "nothing"), "--out", str(tmp_path / "m.onnx")], "no model version found"),
        (["export", str(binary_run.path.parent), "--out", str(tmp_path / "missing" / "m.onnx")], "does not exist"),
        (["export", str(binary_run.path.parent), "--out", str(tmp_path)], "is a folder"),
    ]
    for argv, message in cases:
        assert main(argv) == 2
        error = capsys.readouterr().err.strip()
        assert message in error and "\n" not in error
    with pytest.raises(SystemExit) as usage:
        main(["export", str(binary_run.path.parent), "--format", "pmml", "--out", str(tmp_path / "m")])
    assert usage.value.code == 2


def test_export_never_imports_tensorflow(binary_run, tmp_path):
    script = (
        "import sys\nfrom cli.main import main\n"
        f"assert main(['export', {str(binary_run.path.parent)!r}, '--out', {str(tmp_path / 'm.onnx')!r}]) == 0\n"
        "assert 'tensorflow' not in sys.modules and 'keras' not in sys.modules, 'TensorFlow was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "m.onnx").stat().st_size > 0


def test_a_feature_without_vocabulary_maps_every_value_to_the_unknown_row():
    """min_frequency can fold every value of a feature into row 0: no LabelEncoder keys at all."""
    from onnx import TensorProto

    from training.export.onnx_builder import GraphBuilder
    from training.export.onnx_encoding import categorical_codes

    builder = GraphBuilder()
    builder.reserve(["c", "rows"])
    builder.output(categorical_codes(builder, "c", []), "rows", TensorProto.INT64, ["N"])
    session = onnxruntime.InferenceSession(builder.model("t", "").SerializeToString(), providers=["CPUExecutionProvider"])
    assert session.run(None, {"c": np.asarray(["a", "", "b"], dtype=object)})[0].tolist() == [0, 0, 0]


def test_the_docs_recipe_runs_on_the_demo_and_answers_as_the_service(demo_run, tmp_path, monkeypatch):
    """docs/onnx.md's 'Run it in onnxruntime' block, run as written against the exported demo model."""
    text = (ROOT / "docs" / "onnx.md").read_text(encoding="utf-8")
    recipe = text.split("## Run it in onnxruntime", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert main(["export", str(demo_run.path.parent), "--out", str(tmp_path / "flights.onnx")]) == 0
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(recipe, "docs/onnx.md", "exec"), scope)
    bundle = _bundle(demo_run)
    records = [
        {**{k: v[i] for k, v in scope["rows"].items()}, **{k: float(v[i]) for k, v in scope["numbers"].items()}} for i in range(2)
    ]
    from app.predictor import Predictor

    body = {"records": [{k: (None if v != v else v) for k, v in r.items()} for r in records]}
    served = Predictor(bundle).predict(json.dumps(body).encode())
    expected = [[p["probabilities"][str(label)] for label in bundle.target.classes_] for p in served["predictions"]]
    np.testing.assert_allclose(scope["probabilities"], expected, atol=1e-5)
    assert list(scope["label"]) == [str(p["label"]) for p in served["predictions"]]
    assert scope["vectors"].shape == (2, bundle.manifest["features"][0]["embedding_dim"])
