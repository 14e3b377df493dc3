"""Damaged bundles at the service level, pickles that must never run, and the 500 that must not
leak a traceback. Each fault is applied to a copy of a real trained bundle."""

from __future__ import annotations

import hashlib
import io
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from app.main import create_app
from app.settings import Settings
from features.artifacts import load_bundle
from features.errors import BundleError
from tests.app.conftest import assert_error
from tests.bundles import Payload, make_format_1


def _copy(run, tmp_path: Path) -> Path:
    folder = tmp_path / "m" / "1"
    shutil.copytree(run.path, folder)
    return folder


def _startup_error(model_dir: Path) -> str:
    """Start the real app on this folder; return the one-line reason it refused to start."""
    app = create_app(Settings(model_dir=model_dir))
    with pytest.raises(BundleError), TestClient(app):
        pass
    reason = app.state.startup_error
    assert reason.startswith("catembed cannot start: ") and "\n" not in reason, reason
    return reason


def _rehash(folder: Path, filename: str) -> None:
    """Rewrite the manifest's checksum of one file, as a buggy or malicious writer would."""
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["files"][filename] = hashlib.sha256((folder / filename).read_bytes()).hexdigest()
    (folder / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("filename", ["model.keras", "encoders.json", "encoders.npz", "graph.npz", "spec.yaml", "report.html"])
def test_flipped_byte_stops_the_service_naming_the_file(binary_run, tmp_path, filename):
    folder = _copy(binary_run, tmp_path)
    data = bytearray((folder / filename).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / filename).write_bytes(bytes(data))
    reason = _startup_error(folder.parent)
    assert f"m/1/{filename} does not match its sha256 in the manifest" in reason
    assert str(tmp_path) not in reason  # no absolute server path, here or in any answer


@pytest.mark.parametrize("filename", ["model.keras", "encoders.json", "graph.npz", "manifest.json"])
def test_missing_file_stops_the_service_naming_it(binary_run, tmp_path, filename):
    folder = _copy(binary_run, tmp_path)
    (folder / filename).unlink()
    reason = _startup_error(folder.parent)
    # without its manifest a folder is not a version at all
    assert f"{filename} is missing" in reason if filename != "manifest.json" else "no model version found" in reason


def test_truncated_model_keras_is_refused(binary_run, tmp_path):
    folder = _copy(binary_run, tmp_path)
    data = (folder / "model.keras").read_bytes()
    (folder / "model.keras").write_bytes(data[: len(data) // 2])
    with pytest.raises(BundleError, match=r"model\.keras does not match its sha256"):
        load_bundle(folder.parent)
    assert "model.keras does not match" in _startup_error(folder.parent)


@pytest.mark.parametrize("filename", ["graph.npz", "encoders.npz", "encoders.json"])
def test_truncated_file_with_a_matching_checksum_is_a_clear_error(binary_run, tmp_path, filename):
    folder = _copy(binary_run, tmp_path)
    data = (folder / filename).read_bytes()
    (folder / filename).write_bytes(data[: len(data) // 2])
    _rehash(folder, filename)
    reason = _startup_error(folder.parent)
    assert "could not be read: " in reason


def test_graph_and_encoder_from_different_runs_are_refused(binary_run, tmp_path):
    """Checksums all match, but the 'size' table has fewer rows than its vocabulary: refused at
    load, instead of failing on some values or reading the next feature's rows for them."""
    folder = _copy(binary_run, tmp_path)
    with np.load(folder / "graph.npz") as data:
        arrays = {key: data[key] for key in data.files}
    arrays["embedding_2"] = arrays["embedding_2"][:-1]
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    (folder / "graph.npz").write_bytes(buffer.getvalue())
    _rehash(folder, "graph.npz")
    reason = _startup_error(folder.parent)
    assert "the embedding table of 'size' has" in reason and "not from the same training run" in reason


def test_a_planted_pickle_with_a_matching_checksum_is_never_unpickled(binary_run, tmp_path):
    """Whoever can write a model folder can plant a pickle and its sha256: format 1 ran it on load.
    The service refuses format 1 in one line naming the converter, before reading the pickle."""
    marker = tmp_path / "pickle-ran"
    folder = make_format_1(_copy(binary_run, tmp_path), payload=Payload(marker))
    reason = _startup_error(folder.parent)
    assert "format-1 bundle" in reason and "catembed upgrade-bundle" in reason
    assert not marker.exists()


def test_an_unexpected_error_is_a_500_in_the_error_shape_without_traceback(binary_run):
    app = create_app(Settings(model_dir=binary_run.path.parent, model_version=int(binary_run.path.name)))
    logged: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = logged.append  # type: ignore[method-assign]
    secret = "/srv/secret/path.py line 42 in _internal"

    async def broken() -> None:
        raise RuntimeError(secret)

    app.add_api_route("/broken", broken, methods=["GET"])  # the real app and handlers, one route that fails
    with TestClient(app, raise_server_exceptions=False) as client:
        logging.getLogger("catembed").addHandler(handler)
        try:
            response = client.get("/broken")
        finally:
            logging.getLogger("catembed").removeHandler(handler)
        error = assert_error(response, 500)
        assert error == {"type": "internal_error", "message": "internal error; the server log has the details"}
        assert secret not in response.text and "RuntimeError" not in response.text
        assert client.get("/health").status_code == 200  # and the service carries on
    # the traceback went to the server log instead
    assert any(record.exc_info and secret in str(record.exc_info[1]) for record in logged), logged
