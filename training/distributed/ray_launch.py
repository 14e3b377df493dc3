"""``catembed train --workers N``: N Ray Train workers, each running the same ``catembed train``.

Ray only places the processes: its ``TensorflowTrainer`` (Ray Train V2) sets ``TF_CONFIG`` for
each worker, and from there the run is exactly the one any ``TF_CONFIG`` launcher gives
(training/distributed/strategy.py): every worker reads its share of the data, the chief writes the bundle.
Ray is the optional extra ``catembed[distributed]``, imported only from here, only when N ≥ 2.

On one machine there is no cluster to join, so a local one is started with explicit resources:
a CPU count Ray cannot overcommit, and fractional CPUs per worker so N workers always fit (two
1-CPU workers on a 2-CPU machine leave nothing for anything else Ray runs, and it waits forever).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from typing import Any

from features.errors import CatembedError


class WorkerFailed(Exception):
    """A worker's non-CatembedError failure, reduced to one line the driver can print."""


def train_on_ray(argv: list[str], workers: int, entry: Callable[..., int]) -> int:
    """Run ``entry(["train", *argv])`` (the ``catembed`` command, handed over by the CLI so this
    package never imports the layer above it) on ``workers`` Ray workers; 0 once all of them
    have finished."""
    try:
        import ray
        from ray.train.v2.api.config import RunConfig, ScalingConfig
        from ray.train.v2.api.exceptions import TrainingFailedError
        from ray.train.v2.tensorflow.tensorflow_trainer import TensorflowTrainer
    except ImportError as exc:
        raise CatembedError(
            f"--workers {workers} needs Ray ({exc.name} is missing): pip install 'catembed[distributed]'", field="workers"
        ) from None

    local = not os.environ.get("RAY_ADDRESS")
    storage = tempfile.mkdtemp(prefix="catembed-ray-train-", dir=os.environ.get("RAY_TMPDIR"))  # Ray Train's run state
    if local:
        cpus = os.cpu_count() or 1
        ray.init(num_cpus=cpus, include_dashboard=False, logging_level=logging.WARNING, _temp_dir=os.environ.get("RAY_TMPDIR"))
        per_worker = min(1.0, cpus / (workers + 1))  # leaves room for Ray's own actors
    else:
        ray.init(address=os.environ["RAY_ADDRESS"], logging_level=logging.WARNING)
        per_worker = float(os.environ.get("CATEMBED_RAY_CPUS_PER_WORKER", "1"))
    # the workers' log lines reach this terminal; TensorFlow's C++ notices would drown them
    env = {"TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    env.update({name: os.environ[name] for name in ("CATEMBED_WORKTREE",) if name in os.environ})
    trainer = TensorflowTrainer(
        train_loop_per_worker=_worker,
        train_loop_config={"argv": argv, "cwd": os.getcwd(), "entry": entry},
        scaling_config=ScalingConfig(
            num_workers=workers,
            use_gpu=False,
            resources_per_worker={"CPU": per_worker},
            placement_strategy="PACK" if local else "SPREAD",  # on a cluster: one worker per machine when possible
        ),
        run_config=RunConfig(name="catembed-train", storage_path=storage, worker_runtime_env={"env_vars": env}),
    )
    print(f"training on {workers} Ray workers ({'a local cluster' if local else os.environ['RAY_ADDRESS']})", flush=True)
    try:
        trainer.fit()
    except TrainingFailedError as exc:
        raise _first_failure(exc) from None
    finally:
        ray.shutdown()
        shutil.rmtree(storage, ignore_errors=True)
    return 0


def _worker(config: dict[str, Any]) -> None:
    """One Ray Train worker: ``catembed train`` in this process, with TF_CONFIG set by Ray."""
    if os.path.isdir(config["cwd"]):  # relative --data and --out paths mean what they meant to the user
        os.chdir(config["cwd"])
    try:
        code = config["entry"](["train", *config["argv"]], raise_errors=True)
    except CatembedError:
        raise
    except Exception as exc:
        raise WorkerFailed(f"{type(exc).__name__}: {exc}".splitlines()[0]) from None
    if code:
        raise WorkerFailed(f"catembed train exited with {code}")


def _first_failure(error: Exception) -> Exception:
    """One worker's own exception: a CatembedError stays one (one line, exit 2); else a worker
    that died explains the others' failures better than their "lost a worker"."""
    failures = getattr(error, "worker_failures", None) or {}
    causes = [(rank, getattr(failure, "cause", failure)) for rank, failure in sorted(failures.items())]
    for rank, cause in causes:
        if isinstance(cause, CatembedError):
            return CatembedError(f"worker {rank}: {cause.message}", field=cause.field, value=cause.value)
    for rank, cause in sorted(causes, key=lambda item: isinstance(item[1], WorkerFailed)):
        return WorkerFailed(f"worker {rank}: {_one_line(cause)}")
    return WorkerFailed(_one_line(error))


def _one_line(error: BaseException) -> str:
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    line = lines[-1] if lines else type(error).__name__
    return line if len(line) <= 300 else line[:297] + "..."
