"""features.tally: the service's drift counters and catembed predict's summary are one tally."""

from __future__ import annotations

import pyarrow as pa

from features.artifacts import load_bundle
from features.tally import WarningTally
from scoring.scorer import BatchScorer
from tests.scoring.conftest import FEATURES, service_answers


def test_the_service_and_the_scorer_tally_the_same_rows_alike(binary_run):
    frame = binary_run.valid.reset_index(drop=True)[FEATURES].copy()
    frame.loc[::7, "color"] = "purple"  # unknown
    frame.loc[::5, "city"] = None  # missing
    frame.loc[::3, "x"] = None  # imputed
    frame.loc[::4, "noise"] = 1e6  # clipped
    _, predictor = service_answers(binary_run, frame)
    scorer = BatchScorer(load_bundle(binary_run.path.parent, int(binary_run.path.name)))
    for start in range(0, len(frame), 64):  # in batches, as files are read
        scorer.predict(pa.RecordBatch.from_pandas(frame.iloc[start : start + 64], preserve_index=False))
    served = predictor.drift.to_dict()
    assert served == scorer.counts.to_dict()
    assert served["rows"] == len(frame) and served["unknown"]["color"] == len(frame[::7])
    assert served["missing"]["city"] >= len(frame[::5]) and served["imputed"]["x"] >= len(frame[::3])
    assert served["clipped"]["noise"] >= len(frame[::4])
    # a Ray worker's tally travels as a dict and adds up
    total = WarningTally.for_features(scorer.categorical, scorer.numeric)
    total.add(WarningTally.from_dict(scorer.counts.to_dict()))
    total.add(scorer.counts)
    assert total.to_dict() == {
        kind: ({k: 2 * n for k, n in v.items()} if isinstance(v, dict) else 2 * v) for kind, v in served.items()
    }
