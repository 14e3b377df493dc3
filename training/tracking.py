"""MLflow tracking of ``catembed train``: one run per written bundle, read back from the bundle itself.

Asked for by ``--mlflow [URI]``, ``--register NAME`` or ``MLFLOW_TRACKING_URI``; otherwise
nothing here imports mlflow (the ``mlflow`` extra is optional). Everything logged comes from the
bundle on disk, the record of what was trained, so a run says exactly what the folder holds:

- params: the task, target and features, the resolved training settings (``training.config``), rows, data source;
- metrics: ``training.history`` per epoch (step = epoch, from 1), the holdout and baseline metrics
  (``holdout_<m>``, ``baseline_<m>``), the best epoch and the NumPy graph's parity;
- artifacts: ``report.html``, the bundle folder (``bundle/<name>/<version>/``), and the pyfunc
  model (scoring/mlflow_model.py: the bundle plus the code that loads it), registered as NAME with ``--register``.

Logging starts after the bundle is written: a tracking server that fails cannot cost the model.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterator
from importlib.util import find_spec
from pathlib import Path
from typing import Any

from features.errors import CatembedError

ModelLogger = Callable[[Path, "str | None"], Any]  # (bundle, registered name) → mlflow's ModelInfo

BATCH = 900  # MLflow's log_batch takes at most 1,000 entities, 100 of them params
PARAM_BATCH = 100
PARAM_CHARS = 6000  # MLflow's limit for one param value


class TrackingFailed(CatembedError, kind="tracking_failed"):
    """The bundle is written; logging it to MLflow failed."""


def requested(uri: str | None, register: str | None) -> bool:
    """``uri``: the ``--mlflow`` value ("" for the flag alone, None when absent)."""
    return uri is not None or register is not None or bool(os.environ.get("MLFLOW_TRACKING_URI"))


def check(uri: str | None, register: str | None) -> None:
    """Before training, so that nothing is trained for a run that cannot be logged: mlflow must be
    installed, and a tracking server must answer (MLflow itself retries for about four minutes)."""
    if not requested(uri, register):
        return
    if find_spec("mlflow") is None:
        raise CatembedError(
            "MLflow tracking was asked for (--mlflow, --register or MLFLOW_TRACKING_URI) but mlflow is not installed:"
            " pip install 'catembed[mlflow]'",
            field="mlflow",
        )
    server = uri or os.environ.get("MLFLOW_TRACKING_URI") or ""
    if server.startswith(("http://", "https://")):
        import urllib.error
        import urllib.request

        try:
            with urllib.request.urlopen(f"{server.rstrip('/')}/health", timeout=10):
                pass
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            raise CatembedError(f"the MLflow tracking server {server} does not answer: {reason}", field="mlflow") from None


def track(bundle: Path, uri: str | None, register: str | None, log_model: ModelLogger, log: Callable[[str], None] = print) -> str:
    """Log the bundle as one MLflow run; its id. ``log_model`` logs (and registers) the servable
    model inside the run: scoring/mlflow_model.py's, handed over by the CLI, which sits above both."""
    try:
        return _log_run(bundle, uri or None, register, log_model, log)
    except CatembedError:
        raise
    except Exception as exc:  # the server's or the store's error, whatever its type: one line, the bundle kept
        raise TrackingFailed(
            f"the bundle is written ({bundle}), but logging it to MLflow failed: {exc}", field="mlflow"
        ) from None


def _log_run(bundle: Path, uri: str | None, register: str | None, log_model: ModelLogger, log: Callable[[str], None]) -> str:
    import mlflow
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    manifest = json.loads((bundle / "manifest.json").read_text())
    name, version = bundle.parent.name, int(bundle.name)
    if uri:
        mlflow.set_tracking_uri(uri)
    mlflow.set_experiment(os.environ.get("MLFLOW_EXPERIMENT_NAME") or name)
    client = MlflowClient()
    tags = {"catembed.model": name, "catembed.version": str(version), "catembed.bundle": str(bundle.resolve())}
    with mlflow.start_run(run_name=f"{name} v{version}", tags=tags) as run:
        run_id = run.info.run_id
        params = [Param(key, value) for key, value in sorted(params_of(manifest).items())]
        for start in range(0, len(params), PARAM_BATCH):
            client.log_batch(run_id, params=params[start : start + PARAM_BATCH])
        metrics = list(metrics_of(manifest, int(time.time() * 1000)))
        for start in range(0, len(metrics), BATCH):
            client.log_batch(run_id, metrics=[Metric(*m) for m in metrics[start : start + BATCH]])
        if (bundle / "report.html").is_file():
            mlflow.log_artifact(str(bundle / "report.html"))
        mlflow.log_artifacts(str(bundle), artifact_path=f"bundle/{name}/{version}")
        model = log_model(bundle, register)
    registered = f", registered as {register!r} version {model.registered_model_version}" if register else ""
    log(f"MLflow run {run_id} at {mlflow.get_tracking_uri()}: model {model.model_uri}{registered}")
    return str(run_id)


def params_of(manifest: dict[str, Any]) -> dict[str, str]:
    """The run's params: what was trained on what, and every resolved training setting."""
    training = manifest.get("training", {})
    features = manifest.get("features", [])
    described = {
        "task": manifest.get("task"),
        "target": manifest.get("target", {}).get("name"),
        "categorical": [f["name"] for f in features if f.get("kind") == "categorical"],
        "numeric": [f["name"] for f in features if f.get("kind") == "numeric"],
        "rows_train": training.get("rows", {}).get("train"),
        "rows_valid": training.get("rows", {}).get("valid"),
        "source": training.get("source"),
        "data_fingerprint": training.get("data_fingerprint"),
        "batch_size": training.get("batch_size"),
    }
    found = {key: value for key, value in described.items() if value is not None}
    found.update(_flat("config", training.get("config", {})))  # every setting, None ones too: "None" was the choice
    return {key: _text(value) for key, value in found.items()}


def metrics_of(manifest: dict[str, Any], timestamp: int) -> Iterator[tuple[str, float, int, int]]:
    """(key, value, timestamp, step): the per-epoch history, then the run's single numbers."""
    training = manifest.get("training", {})
    for key, values in training.get("history", {}).items():
        for epoch, value in enumerate(values, start=1):
            yield key, float(value), timestamp, epoch
    for kind in ("holdout", "baseline"):
        for key, value in manifest.get("metrics", {}).get(kind, {}).items():
            yield f"{kind}_{key}", float(value), timestamp, 0
    for key in ("best_epoch", "epochs_run", "fit_seconds"):
        if isinstance(training.get(key), int | float):
            yield key, float(training[key]), timestamp, 0
    parity = (manifest.get("parity") or {}).get("max_abs_diff")
    if isinstance(parity, int | float):
        yield "parity_max_abs_diff", float(parity), timestamp, 0


def _flat(prefix: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict):
        for key, inner in value.items():
            yield from _flat(f"{prefix}.{key}", inner)
    else:
        yield prefix, value


def _text(value: Any) -> str:
    text = ",".join(map(str, value)) if isinstance(value, list | tuple) else str(value)
    return text if len(text) <= PARAM_CHARS else text[: PARAM_CHARS - 20] + f"… ({len(text)} chars)"
