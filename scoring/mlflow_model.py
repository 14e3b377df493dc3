"""A catembed bundle as an MLflow ``pyfunc`` model: ``mlflow.pyfunc.load_model(uri).predict(frame)``
answers as ``catembed predict`` does, with the same columns (``p_<label>``…, ``label``; or ``prediction``).

Logged as MLflow's *model from code*: this file is the model's code and the bundle folder is an
artifact, loaded with ``features.artifacts.load_bundle`` (checksums verified) when the model is
loaded. Nothing is pickled for the model: no ``python_model.pkl``, no copy of the encoders but the
bundle's own files. ``features`` and ``scoring`` travel in the model's ``code/`` folder, so a
machine with the listed requirements and without catembed installed can load it.
"""

from __future__ import annotations

import shutil
import tempfile
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.pyfunc import PythonModel

ARTIFACT = "bundle"
REQUIREMENTS = ("mlflow", "numpy", "pandas", "pyarrow", "joblib")  # what features + scoring import to score
PACKAGES = Path(__file__).resolve().parents[1]


class CatembedModel(PythonModel):
    def load_context(self, context: Any) -> None:
        from features.artifacts import load_bundle
        from scoring.scorer import BatchScorer

        self.scorer = BatchScorer(load_bundle(Path(context.artifacts[ARTIFACT])))

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        return score_frame(self.scorer, model_input)


def score_frame(scorer: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """The prediction columns for the rows of ``frame``: the batch scorer's path, its refusals."""
    import pyarrow as pa

    from features.errors import InvalidInput
    from scoring import rejects
    from scoring.scorer import BadBatch

    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput("the input must be a pandas DataFrame with one column per feature", field="model_input")
    absent = [name for name in scorer.features if name not in frame.columns]
    if absent:
        raise InvalidInput(
            f"the input has no column {absent[0]!r}; the model needs {', '.join(scorer.features)}",
            field=absent[0],
            expected="one column per feature",
        )
    batch = pa.RecordBatch.from_pandas(frame[scorer.features], preserve_index=False)
    try:
        columns = scorer.predict(batch)
    except BadBatch as exc:
        bad = rejects.find(batch, scorer.categorical, scorer.numeric, "the input", 0)
        raise bad[0].error() if bad else InvalidInput(str(exc), field="model_input") from None
    names = [field.name for field in scorer.output_fields]
    return pa.Table.from_arrays(columns, names=names).to_pandas()


def log_model(bundle: Path, register: str | None = None) -> Any:
    """Log the bundle version folder as a pyfunc model in the active run (``name="model"``);
    registered as ``register`` when given. mlflow's ModelInfo."""
    name, number = bundle.parent.name, bundle.name
    with tempfile.TemporaryDirectory() as folder:
        staged = Path(folder)
        # <name>/<version>/: what load_bundle reads, exactly as it was written
        shutil.copytree(bundle, staged / ARTIFACT / name / number)
        code = []
        for package in ("features", "scoring"):
            code.append(str(staged / "code" / package))
            shutil.copytree(PACKAGES / package, code[-1], ignore=shutil.ignore_patterns("__pycache__"))
        return mlflow.pyfunc.log_model(
            name="model",
            python_model=__file__,
            artifacts={ARTIFACT: str(staged / ARTIFACT / name)},
            code_paths=code,
            pip_requirements=_requirements(),
            registered_model_name=register,
            metadata={"catembed_model": name, "catembed_version": int(number)},
        )


def _requirements() -> list[str]:
    pinned = []
    for package in REQUIREMENTS:
        try:
            pinned.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pinned.append(package)
    return pinned


mlflow.models.set_model(CatembedModel())
