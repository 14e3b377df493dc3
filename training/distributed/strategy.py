"""Synchronous data-parallel training on many machines: TensorFlow's MultiWorkerMirroredStrategy.

Any launcher that sets ``TF_CONFIG`` (Ray Train, Kubeflow's TFJob, two shells) makes each
``catembed train`` process one worker. Keras 3 ``model.fit`` fails under this strategy with
multi-input models (keras-team/keras#20329), so the loop is ours, and small: a ``tf.function``
step under ``strategy.run`` with the compiled model's loss and optimizer (the optimizer sums the
gradients across workers); per epoch, the compiled metrics on the training batches and on the
holdout (evaluated in shards), their accumulators all-reduced; and the fit's callbacks as
``training.loop.fitting.HandLoopSchedule`` re-states them: the weight average swapped in for
the holdout, early stopping with best-weights restore, and ReduceLROnPlateau. Every decision is
taken on the chief's numbers, broadcast to all workers, so no worker can stop an epoch before
another and leave it waiting in a collective.

Only TensorFlow, Keras and NumPy: the launcher (Ray or not) is someone else's business.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from features.errors import DataError
from training.distributed.cluster import Cluster, WorkerLost, cluster_from_env, join
from training.loop.config import TrainConfig
from training.loop.fitting import HandLoopSchedule, served_weights
from training.model.batch_ensemble import training_losses

__all__ = ["Cluster", "WorkerLost", "cluster_from_env", "fit_distributed", "join"]


def fit_distributed(
    cluster: Cluster,
    build_model: Callable[[], keras.Model],
    train_batches: Callable[[int, int, int], tf.data.Dataset],
    steps_per_epoch: int,
    valid_x: list[np.ndarray],
    valid_y: np.ndarray,
    config: TrainConfig,
    *,
    monitor: str = "val_fit_loss",
    class_weight: dict[int, float] | None = None,
    log: Callable[[str], None] = print,
) -> tuple[keras.Model, dict[str, list[float]]]:
    """Train on every worker; return a plain (strategy-free) model with the best weights, and the history.

    ``build_model()`` builds and compiles a fresh model; ``train_batches(worker, workers, epoch)``
    yields exactly ``steps_per_epoch`` ``(inputs, y)`` batches of this worker's share.
    """
    strategy = join(cluster)
    with strategy.scope():
        model = build_model()
    plain = build_model()  # evaluates the holdout and is returned: no collective ops in it
    if len(valid_y) < cluster.workers:
        raise DataError(f"the holdout has {len(valid_y)} rows, fewer than the {cluster.workers} workers", field="valid")
    shard = slice(cluster.index, None, cluster.workers)
    valid_shard = ([x[shard] for x in valid_x], valid_y[shard])

    try:
        history, best_weights = _epochs(
            strategy, cluster, model, plain, train_batches, steps_per_epoch, valid_shard, config, monitor, class_weight, log
        )
        plain.set_weights(best_weights)
        _copy_optimizer_state(model, plain)
        _all_sum(strategy, np.zeros(1))  # a barrier: every worker has finished before the chief writes
    except (tf.errors.UnavailableError, tf.errors.AbortedError, tf.errors.DeadlineExceededError) as exc:
        # TensorFlow's coordination service notices a silent peer within seconds and aborts the collectives
        reason = next((line for line in exc.message.splitlines() if "unhealthy" in line), exc.message.splitlines()[0])
        raise WorkerLost(f"worker {cluster.index}: the training cluster lost a worker ({reason.strip()})") from None
    return plain, history


def _epochs(
    strategy: tf.distribute.Strategy,
    cluster: Cluster,
    model: keras.Model,
    plain: keras.Model,
    train_batches: Callable[[int, int, int], tf.data.Dataset],
    steps_per_epoch: int,
    valid_shard: tuple[list[np.ndarray], np.ndarray],
    config: TrainConfig,
    monitor: str,
    class_weight: dict[int, float] | None,
    log: Callable[[str], None],
) -> tuple[dict[str, list[float]], list[np.ndarray]]:
    """The epochs, as ``fit`` with EarlyStopping (and ReduceLROnPlateau) runs them: (history, best weights)."""
    # the compiled metrics on the training batches, as fit logs them: plain variables, this worker's batches
    train_metrics = [keras.metrics.deserialize(c) for c in model.get_compile_config().get("metrics") or []]
    step = _train_step(strategy, model, class_weight, train_metrics)
    schedule = HandLoopSchedule(config)
    history: dict[str, list[float]] = {}
    epochs = config.fitting.epochs
    for epoch in range(epochs):
        batches = strategy.distribute_datasets_from_function(
            lambda context, epoch=epoch: train_batches(context.input_pipeline_id, context.num_input_pipelines, epoch)
        )
        batch_iterator, loss_sum = iter(batches), 0.0
        for metric in train_metrics:
            metric.reset_state()
        for _ in range(steps_per_epoch):
            loss_sum += float(step(batch_iterator))  # this worker's share of the global mean loss
        served = served_weights(model)
        plain.set_weights(served)
        states = [np.asarray([loss_sum]), _states(train_metrics), _evaluate_states(plain, valid_shard)]
        summed = _chief_value(strategy, cluster, _all_sum(strategy, np.concatenate(states)))
        trained = _assign_states(train_metrics, summed[1:])
        _assign_states(plain.metrics, summed[1 + trained :])
        logs = {"loss": summed[0] / steps_per_epoch, **{m.name: float(m.result()) for m in train_metrics}}
        logs.update({f"val_{k}": float(v) for k, v in plain.get_metrics_result().items()})
        logs["learning_rate"] = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        for key, value in logs.items():
            history.setdefault(key, []).append(float(value))
        log(f"epoch {epoch + 1}/{epochs} - " + " - ".join(f"{k}: {v:.4g}" for k, v in logs.items()))
        if schedule.should_stop(logs[monitor], epoch, served):
            log(f"early stopping: no {monitor} improvement in {schedule.patience} epochs; best epoch {schedule.best_epoch + 1}")
            break
        if (lr := schedule.new_learning_rate(logs[monitor], logs["learning_rate"])) is not None:
            model.optimizer.learning_rate.assign(lr)
            log(f"learning rate reduced to {lr:.3g}")
    return history, schedule.best_weights if schedule.best_weights is not None else served_weights(model)


def _train_step(
    strategy: tf.distribute.Strategy,
    model: keras.Model,
    class_weight: dict[int, float] | None,
    metrics: list[keras.metrics.Metric],
) -> Callable[[Any], tf.Tensor]:
    loss = keras.losses.get(model.loss)
    per_example = loss.call if isinstance(loss, keras.losses.Loss) else loss  # unreduced: we average over the global batch
    weights = None if class_weight is None else tf.constant([class_weight[i] for i in range(len(class_weight))], tf.float32)

    def replica_step(x: tuple[tf.Tensor, ...], y: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        with tf.GradientTape() as tape:
            losses, output = training_losses(model, list(x), y, per_example)
            if weights is not None:
                losses = losses * tf.gather(weights, tf.cast(tf.reshape(y, [-1]), tf.int32))
            value = tf.nn.compute_average_loss(losses)  # divided by the GLOBAL batch: the sum over workers is the mean
            if model.losses:
                value += tf.nn.scale_regularization_loss(tf.add_n(model.losses))
        gradients = tape.gradient(value, model.trainable_variables)
        model.optimizer.apply_gradients(zip(gradients, model.trainable_variables, strict=True))  # all-reduces
        return value, output

    @tf.function
    def step(iterator: Any) -> tf.Tensor:
        x, y = next(iterator)
        value, output = strategy.run(replica_step, args=(x, y))
        local = strategy.experimental_local_results
        for metric in metrics:  # unweighted, as compile(metrics=...) is under fit
            metric.update_state(local(y)[0], local(output)[0])
        return local(value)[0]

    return step


def _copy_optimizer_state(source: keras.Model, target: keras.Model) -> None:
    """The saved model carries its optimizer's state, as after ``fit`` (loading it then warns of nothing)."""
    target.optimizer.build(target.trainable_variables)
    for mine, theirs in zip(target.optimizer.variables, source.optimizer.variables, strict=True):
        mine.assign(keras.ops.convert_to_numpy(theirs))


def _evaluate_states(model: keras.Model, valid: tuple[list[np.ndarray], np.ndarray]) -> np.ndarray:
    """The compiled metrics' accumulators (sums and counts) over this worker's holdout shard."""
    model.evaluate(*valid, batch_size=4096, verbose=0)
    return _states(model.metrics)


def _states(metrics: list[keras.metrics.Metric]) -> np.ndarray:
    values = [np.ravel(keras.ops.convert_to_numpy(v)).astype(np.float64) for m in metrics for v in m.variables]
    return np.concatenate(values) if values else np.zeros(0)


def _assign_states(metrics: list[keras.metrics.Metric], values: np.ndarray) -> int:
    """Load summed accumulators back into the metrics; the number of values they took."""
    start = 0
    for variable in (v for m in metrics for v in m.variables):
        size = int(np.prod(variable.shape))
        variable.assign(values[start : start + size].reshape(variable.shape).astype(variable.dtype))
        start += size
    return start


def _all_sum(strategy: tf.distribute.Strategy, values: np.ndarray) -> np.ndarray:
    return np.asarray(_summer(strategy)(tf.constant(values, tf.float64)))


@functools.cache
def _summer(strategy: tf.distribute.Strategy) -> Callable[[tf.Tensor], tf.Tensor]:
    @tf.function  # collectives run eagerly are slow, and TensorFlow warns about it on every call
    def total(values: tf.Tensor) -> tf.Tensor:
        return strategy.reduce(tf.distribute.ReduceOp.SUM, strategy.run(tf.identity, args=(values,)), axis=None)

    return total


def _chief_value(strategy: tf.distribute.Strategy, cluster: Cluster, values: np.ndarray) -> np.ndarray:
    """The chief's copy of ``values`` on every worker, bit for bit (x + 0 is exact): the same
    decisions everywhere even if another worker's all-reduce rounded differently."""
    return _all_sum(strategy, values if cluster.is_chief else np.zeros_like(values))
