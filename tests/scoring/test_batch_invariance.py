"""Issue 31's guarantee end to end: a record gets the same floats from ``/predict`` alone (the
single-record path), from ``/predict`` in a batch, from the v2 route's columns and from
``catembed predict``'s scorer, whatever the batch around it. (1 vs 2 Ray workers:
tests/scoring/test_ray_workers.py.)"""

from __future__ import annotations

import numpy as np
import orjson
import pyarrow as pa
import pytest

from features.artifacts import load_bundle
from scoring.scorer import BatchScorer
from tests.scoring.conftest import FEATURES, service_answers


@pytest.mark.parametrize("task", ["binary", "regression"])
def test_every_route_gives_a_record_the_same_bits(task, request):
    run = request.getfixturevalue(f"{task}_run")
    frame = run.valid.reset_index(drop=True).copy()
    frame.loc[::17, "color"] = "purple"  # unseen and missing values take the same path as in serving
    batch_answers, predictor = service_answers(run, frame)
    keys = [str(label) for label in predictor.labels]

    def floats(answer):
        return answer["value"] if task == "regression" else [answer["probabilities"][k] for k in keys]

    batch = [floats(a) for a in batch_answers]
    picked = [0, 1, 8, 17, 513, len(frame) - 1]
    for i in picked:  # one record per request: the fast path for a clean record, the general one otherwise
        record = {k: None if isinstance(v, float) and np.isnan(v) else v for k, v in frame.loc[i, FEATURES].items()}
        alone = predictor.predict(orjson.dumps(record, option=orjson.OPT_SERIALIZE_NUMPY))["predictions"][0]
        assert floats(alone) == batch[i], i
    # the v2 route's columns, cut into other batches
    for part in (slice(0, 9), slice(9, None)):
        rows = frame.iloc[part]
        columns = {name: rows[name].tolist() for name in FEATURES}
        outputs = predictor.predict_columns(columns).outputs
        got = outputs["value"].tolist() if task == "regression" else outputs["probabilities"].tolist()
        assert got == batch[part]
    # catembed predict's scorer, on Arrow batches of other sizes
    scorer = BatchScorer(load_bundle(run.path.parent, int(run.path.name)))
    table = pa.Table.from_pandas(frame[FEATURES], preserve_index=False)
    scored = []
    for start in range(0, len(frame), 100):
        columns = scorer.predict(table.slice(start, 100).to_batches()[0])
        values = np.column_stack([c.to_numpy() for c in columns[: 1 if task == "regression" else -1]])
        scored += values[:, 0].tolist() if task == "regression" else values.tolist()
    assert scored == batch
