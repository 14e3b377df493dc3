import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from features.artifacts import REQUIRED_FILES, list_versions, load_bundle
from features.bundle_writer import write_bundle
from features.errors import BundleError
from tests.bundles import Payload, copy_version, make_format_1, rehash


def _copy(run, tmp_path) -> Path:
    target = tmp_path / "m" / "1"
    shutil.copytree(run.path, target)
    return target


def _fake_files(folder: Path) -> None:
    for name in REQUIRED_FILES:
        (folder / name).write_bytes(name.encode())


def test_versions_increase_and_load_newest(binary_run, tmp_path):
    first = write_bundle(tmp_path, "m", {"k": 1}, _fake_files)
    second = write_bundle(tmp_path, "m", {"k": 2}, _fake_files)
    assert (first.name, second.name) == ("1", "2")
    assert list_versions(tmp_path / "m") == [1, 2]
    manifest = json.loads((second / "manifest.json").read_text())
    assert manifest["version"] == 2 and set(manifest["files"]) == set(REQUIRED_FILES)


def test_real_bundle_loads_and_pins_version(binary_run):
    bundle = load_bundle(binary_run.path.parent, int(binary_run.path.name))
    assert bundle.version == int(binary_run.path.name)
    assert bundle.encoder.categorical == ("color", "city", "size")


@pytest.mark.parametrize("filename", ["model.keras", "encoders.json", "encoders.npz", "graph.npz"])
def test_flipped_byte_is_refused_before_reading(binary_run, tmp_path, filename):
    folder = _copy(binary_run, tmp_path)
    data = bytearray((folder / filename).read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / filename).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=f"{filename} does not match its sha256"):
        load_bundle(folder.parent)


def test_missing_file_is_named(binary_run, tmp_path):
    folder = _copy(binary_run, tmp_path)
    (folder / "encoders.npz").unlink()
    with pytest.raises(BundleError, match=r"encoders\.npz is missing"):
        load_bundle(folder.parent)


def test_truncated_model_file(binary_run, tmp_path):
    folder = _copy(binary_run, tmp_path)
    data = (folder / "graph.npz").read_bytes()
    (folder / "graph.npz").write_bytes(data[: len(data) // 3])
    with pytest.raises(BundleError, match=r"graph\.npz does not match"):
        load_bundle(folder.parent)


def test_future_format_version_is_refused(binary_run, tmp_path):
    folder = _copy(binary_run, tmp_path)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["format_version"] = 99
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="format version 99; this catembed reads format version 2"):
        load_bundle(folder.parent)


def test_empty_model_dir_says_what_to_do(tmp_path):
    with pytest.raises(BundleError, match=r"no model version found.*catembed train"):
        load_bundle(tmp_path / "nothing")


def test_invalid_model_name_is_refused(tmp_path):
    with pytest.raises(BundleError, match="invalid model name"):
        write_bundle(tmp_path, "../escape", {}, _fake_files)


WRITER = """
import sys, time
from pathlib import Path
from features.bundle_writer import write_bundle
def slow(folder):
    (folder / "model.keras").write_bytes(b"x" * 1000)
    Path(sys.argv[2]).write_text("writing")
    time.sleep(60)
write_bundle(Path(sys.argv[1]), "m", {}, slow)
"""


def test_kill_9_mid_write_leaves_no_loadable_version(tmp_path):
    marker = tmp_path / "marker"
    process = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), str(marker)], cwd=Path(__file__).parents[2])
    deadline = time.time() + 30
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.05)
    assert marker.exists(), "writer did not start"
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    leftovers = list((tmp_path / "m").iterdir())
    assert leftovers and all(p.name.startswith(".tmp-") for p in leftovers)  # half-written, hidden
    assert list_versions(tmp_path / "m") == []
    with pytest.raises(BundleError, match="no model version found"):
        load_bundle(tmp_path / "m")
    # the next run writes version 1 and clears the dead writer's folder
    assert write_bundle(tmp_path, "m", {}, _fake_files).name == "1"
    assert [p.name for p in (tmp_path / "m").iterdir()] == ["1"]


def test_failed_write_leaves_nothing(tmp_path):
    def broken(folder):
        (folder / "model.keras").write_bytes(b"x")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError):
        write_bundle(tmp_path, "m", {}, broken)
    assert list((tmp_path / "m").iterdir()) == []


# ---- a bundle is data (issue 28 §1) ----


def test_a_format_1_bundle_is_refused_in_one_line_and_its_pickle_never_runs(binary_run, tmp_path):
    """Format 1 pickled the encoders; whoever writes a folder can plant code and a matching
    sha256. Loading now refuses it before any byte of the pickle is read, naming the converter."""
    marker = tmp_path / "pickle-ran"
    folder = make_format_1(copy_version(binary_run, tmp_path), payload=Payload(marker))
    with pytest.raises(BundleError) as refused:
        load_bundle(folder.parent)
    message = refused.value.message
    assert "\n" not in message and "format-1" in message
    assert f"catembed upgrade-bundle {folder.parent.name}" in message
    assert not marker.exists()


def test_the_service_load_path_never_unpickles():
    root = Path(__file__).parents[2]
    found = subprocess.run(
        ["grep", "-rnE", r"joblib\.load|pickle\.loads?\(|allow_pickle=True", "app", "scoring", "features"],
        cwd=root,
        capture_output=True,
        text=True,
    )
    assert found.returncode == 1 and found.stdout == "", found.stdout


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"encoder": {"py/object": "os.system"}, "target": {}}, "encoder.categorical"),
        ("not an object", "encoders.json"),
        ({"vocabulary": [1, 2]}, "vocabulary"),
        ({"counts": [1]}, "counts"),
        ({"min_frequency": "5"}, "min_frequency"),
        ({"target": {"kind": "labels", "classes": [{"a": 1}]}}, "target.classes"),
        ({"target": {"kind": "pickle"}}, "target.kind"),
    ],
    ids=["foreign-object", "not-an-object", "int-vocabulary", "short-counts", "string-int", "object-label", "unknown-kind"],
)
def test_malformed_encoders_are_a_bundle_error_naming_the_field(binary_run, document, field):
    from features.encoder_state import encoders_as_data, encoders_from_data

    good, arrays = encoders_as_data(binary_run.encoder, binary_run.target)
    if isinstance(document, dict) and "encoder" not in document and "target" not in document:
        bad = json.loads(json.dumps(good))
        bad["encoder"]["categorical_"]["color"].update(document)
    elif isinstance(document, dict) and "encoder" not in document:
        bad = {**good, **document}
    else:
        bad = document
    with pytest.raises(BundleError, match=field.replace(".", r"\.")):
        encoders_from_data(bad, arrays)


def test_wrongly_shaped_arrays_are_refused(regression_run):
    from features.encoder_state import encoders_as_data, encoders_from_data

    document, arrays = encoders_as_data(regression_run.encoder, regression_run.target)
    for key, bad in [
        ("numeric.means_", np.zeros(7)),
        ("numeric.indicators_", np.zeros(2)),
        ("numeric.scales_", np.asarray(["a", "b"])),
    ]:
        with pytest.raises(BundleError, match=key.replace(".", r"\.")):
            encoders_from_data(document, {**arrays, key: bad})


def test_encoders_round_trip_as_data(any_run):
    """The rebuilt encoders encode the training rows exactly as the fitted ones."""
    from features.encoder_state import encoders_as_data, encoders_from_data

    encoder, target = encoders_from_data(*encoders_as_data(any_run.encoder, any_run.target))
    frame = any_run.valid
    expected, found = any_run.encoder.transform(frame), encoder.transform(frame)
    for a, b in zip(expected.model_inputs(), found.model_inputs(), strict=True):
        np.testing.assert_array_equal(a, b)
    labels = frame["label"]
    np.testing.assert_array_equal(any_run.target.transform(labels), target.transform(labels))
    assert {k: v for k, v in vars(any_run.target).items()} == {k: v for k, v in vars(target).items()}


def test_manifest_file_names_are_confined_to_the_version_folder(binary_run, tmp_path):
    """`../../../../etc/passwd` in a manifest was read and hashed, and /models then told whether it
    existed. Any name that is not a plain file of the version folder is refused before it is opened."""
    for name in ("../../../../etc/passwd", "/etc/passwd", "sub/../graph.npz", ".."):
        folder = copy_version(binary_run, tmp_path / name.replace("/", "_"))
        manifest = json.loads((folder / "manifest.json").read_text())
        manifest["files"][name] = "0" * 64
        (folder / "manifest.json").write_text(json.dumps(manifest))
        with pytest.raises(BundleError, match="outside its folder: refused"):
            load_bundle(folder.parent)


def test_symbolic_links_out_of_a_bundle_are_refused(binary_run, tmp_path):
    folder = copy_version(binary_run, tmp_path / "file")
    outside = tmp_path / "outside.yaml"
    shutil.move(folder / "spec.yaml", outside)
    (folder / "spec.yaml").symlink_to(outside)
    with pytest.raises(BundleError, match=r"spec\.yaml is a symbolic link: refused"):
        load_bundle(folder.parent)

    elsewhere = copy_version(binary_run, tmp_path / "elsewhere")
    model_dir = tmp_path / "linked" / "m"
    model_dir.mkdir(parents=True)
    (model_dir / "1").symlink_to(elsewhere)
    with pytest.raises(BundleError, match="is a link to a folder outside"):
        load_bundle(model_dir)


def test_no_absolute_path_in_load_errors(binary_run, tmp_path):
    folder = copy_version(binary_run, tmp_path)
    (folder / "graph.npz").write_bytes(b"x")
    with pytest.raises(BundleError) as refused:
        load_bundle(folder.parent.resolve())
    assert str(tmp_path) not in refused.value.message and refused.value.message.startswith("m/1/graph.npz")


# ---- optional signatures: CATEMBED_BUNDLE_KEY ----


def test_signed_bundles_load_and_tampered_ones_with_a_matching_sha256_do_not(binary_run, tmp_path, monkeypatch):
    from features.bundle_writer import seal

    folder = copy_version(binary_run, tmp_path)
    monkeypatch.setenv("CATEMBED_BUNDLE_KEY", "team secret")
    with pytest.raises(BundleError, match=r"is not signed \(manifest.sig is missing\)"):
        load_bundle(folder.parent)
    seal(folder, json.loads((folder / "manifest.json").read_text()))  # signs with the key, as training does
    assert (folder / "manifest.sig").read_text().startswith("hmac-sha256:")
    assert load_bundle(folder.parent).version == 1

    # the attacker rewrites a vocabulary and its sha256 in the manifest: the signature no longer fits
    document = json.loads((folder / "encoders.json").read_text())
    document["encoder"]["categorical_"]["color"]["vocabulary"].reverse()
    (folder / "encoders.json").write_text(json.dumps(document))
    assert rehash(folder)["files"]["encoders.json"]
    with pytest.raises(BundleError, match="signature that does not match CATEMBED_BUNDLE_KEY"):
        load_bundle(folder.parent)

    monkeypatch.setenv("CATEMBED_BUNDLE_KEY", "another key")
    seal(folder, json.loads((folder / "manifest.json").read_text()))
    monkeypatch.setenv("CATEMBED_BUNDLE_KEY", "team secret")
    with pytest.raises(BundleError, match="signature that does not match"):
        load_bundle(folder.parent)
    monkeypatch.delenv("CATEMBED_BUNDLE_KEY")
    assert (
        load_bundle(folder.parent).encoder.categorical_["color"].vocabulary_[0]
        == document["encoder"]["categorical_"]["color"]["vocabulary"][0]
    )
