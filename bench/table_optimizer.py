"""Row-sparse tables against whole-table Adam on full NYC flights, through ``catembed train``.

Each round trains the default (``lazy_adam``: the tables' batch rows only, the prior on the
batch's rows, the lazy weight average) and ``--table-optimizer adam`` (Keras' Adam and the prior
on whole tables, the route before issue 26) on the same Parquet file, in an order rotated per
round, ``--epochs 3`` with patience above it so that both train exactly 3 epochs; rows/s per
epoch and the holdout AUC come from the manifest, peak RSS from ``/usr/bin/time -v``, the load
average before and after each run. The ratio is taken within each round.

    nice -n 10 .venv/bin/python -m bench.table_optimizer [--rounds 2] [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from bench.scale import ROOT, train
from bench.scale_flights import write_flights

RESULTS = ROOT / "bench" / "results" / "table_optimizer.json"
VARIANTS = {"lazy_adam": [], "adam": ["--table-optimizer", "adam"]}


def main(argv: list[str] | None = None) -> int:
    from bench.training import CATEGORICAL, NUMERIC

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    spec = ["--target", "delayed", "--categorical", ",".join(CATEGORICAL), "--numeric", ",".join(NUMERIC)]
    common = [*spec, "--epochs", str(args.epochs), "--patience", str(args.epochs + 1)]
    runs: dict[str, list[dict]] = {name: [] for name in VARIANTS}
    names = list(VARIANTS)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    with tempfile.TemporaryDirectory(prefix="catembed-tables-") as tmp:
        work = Path(tmp)
        file, _ = write_flights(work)
        for round_ in range(args.rounds):
            for name in names[round_ % 2 :] + names[: round_ % 2]:
                r = train(file, work / f"{name}-{round_}", "flights", [*common, *VARIANTS[name]])
                runs[name].append(r)
                print(
                    f"round {round_} {name:9s} {r['rows_per_second']:>8,.0f} rows/s  AUC {(r.get('holdout') or {}).get('roc_auc')}  "
                    f"peak RSS {r['peak_rss_mb']:6.0f} MB  load {r['load_average_before'][0]:.2f}→{r['load_average_after'][0]:.2f}",
                    flush=True,
                )
    ratios = [s["rows_per_second"] / d["rows_per_second"] for s, d in zip(runs["lazy_adam"], runs["adam"], strict=True)]
    result = {
        "started": started,
        "epochs": args.epochs,
        "runs": runs,
        "speed_ratio_per_round": [round(x, 3) for x in ratios],
        "speed_ratio_median": round(statistics.median(ratios), 3),
    }
    print(f"lazy_adam ÷ adam rows/s per round: {result['speed_ratio_per_round']}")
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
