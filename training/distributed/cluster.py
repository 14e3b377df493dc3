"""This process's place in a multi-worker training cluster, from ``TF_CONFIG``, and joining it.

``TF_CONFIG`` is how every TensorFlow launcher describes the cluster (Ray Train, Kubeflow's
TFJob, a shell script): the workers' addresses and this process's task. Worker 0 (or the task a
launcher calls "chief") is the chief, the one that writes the bundle.
"""

from __future__ import annotations

import functools
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass

import tensorflow as tf

from features.errors import DataError


class WorkerLost(RuntimeError):
    """A peer stopped answering (killed, out of memory, its machine gone): the collective is over."""


@dataclass(frozen=True)
class Cluster:
    workers: int
    index: int

    @property
    def is_chief(self) -> bool:
        return self.index == 0


def cluster_from_env(environ: Mapping[str, str] = os.environ) -> Cluster | None:
    """This process's place in the ``TF_CONFIG`` cluster; None when there is no cluster of two or more."""
    text = environ.get("TF_CONFIG", "").strip()
    if not text:
        return None
    try:
        config = json.loads(text)
        workers = config["cluster"].get("worker", [])
        chiefs = config["cluster"].get("chief", [])
        task = config["task"]
        kind, index = task["type"], int(task["index"])
        if not isinstance(workers, list) or not isinstance(chiefs, list):
            raise TypeError("cluster entries must be lists of host:port")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise DataError(
            f"TF_CONFIG is not a valid cluster description ({type(exc).__name__}: {exc}); expected "
            '{"cluster": {"worker": ["host:port", ...]}, "task": {"type": "worker", "index": i}}',
            field="TF_CONFIG",
            value=text[:200],
        ) from None
    # a "chief" task, when the launcher names one, is worker 0 of the collective
    members = len(chiefs) + len(workers)
    position = index if kind == "chief" else len(chiefs) + index
    if kind not in ("chief", "worker") or not 0 <= position < members:
        raise DataError(
            f"TF_CONFIG task {kind!r} #{index} is not one of the cluster's {members} workers",
            field="TF_CONFIG",
            value=text[:200],
        )
    return Cluster(members, position) if members > 1 else None


@functools.cache
def join(cluster: Cluster) -> tf.distribute.Strategy:
    """Join the collective. Call it before any TensorFlow op runs in this process: the strategy
    configures the runtime, which cannot change once it has started."""
    try:
        return tf.distribute.MultiWorkerMirroredStrategy()
    except RuntimeError as exc:  # "Collective ops must be configured at program startup"
        raise RuntimeError(f"{exc}: call training.distributed.cluster.join(cluster) before any TensorFlow op") from None
