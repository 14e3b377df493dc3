"""Prometheus metrics: request counts and latency per route and status, and the served model's
own counters (predictions, drift signals, load time) read at scrape time.

Each app owns its registry, so several apps in one process (the tests) never collide. The
counters live in the process: with ``--workers N`` each worker reports its own share, and a
scrape reaches one worker; see docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from app import __version__

if TYPE_CHECKING:
    from app.serving import ServedModel

# from a sub-millisecond single prediction to a 10k-record batch
LATENCY_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
KEEP_MODELS = 4  # retired versions kept reporting


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        labels = ["method", "route", "status", "model"]  # model: the {name} of /models/{name}/..., else ""
        self.requests = Counter("catembed_http_requests", "HTTP requests", labels, registry=self.registry)
        self.latency = Histogram(
            "catembed_http_request_duration_seconds",
            "time from request to the last byte of the response",
            labels,
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        # the explorer page's own calls (app/traffic.py): counted apart, never as served traffic
        self.explorer = Counter(
            "catembed_explorer_requests",
            "requests of the explorer page (X-Catembed-Client: explorer), left out of catembed_http_requests",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.reloads = Counter(
            "catembed_model_reloads", "attempts to switch to a new model version, by result", ["result"], registry=self.registry
        )
        self.serving: list[ServedModel] = []  # every loaded version of every model
        self.retired: list[ServedModel] = []  # replaced ones keep reporting for a while, so their last increments are scraped
        # labelled children cached per key: a dict lookup instead of labels()' validation per request
        self._children: dict[tuple[str, str, int, str], tuple[Counter, Histogram]] = {}
        self.registry.register(ModelCollector(self))

    def observe(self, method: str, route: str, status: int, seconds: float, model: str = "") -> None:
        key = (method, route, status, model)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = (self.requests.labels(*key), self.latency.labels(*key))
        child[0].inc()
        child[1].observe(seconds)

    def observe_explorer(self, method: str, route: str, status: int) -> None:
        self.explorer.labels(method, route, status).inc()

    def track(self, served: ServedModel) -> None:
        """Report this model version from now on, as served."""
        if not any(s is served for s in self.serving):
            self.serving = [*self.serving, served]

    def retire(self, served: ServedModel) -> None:
        """No longer served (replaced or unloaded): reported as such, then forgotten."""
        if any(s is served for s in self.serving):
            self.serving = [s for s in self.serving if s is not served]
            self.retired = [*self.retired, served][-KEEP_MODELS:]

    @property
    def models(self) -> list[ServedModel]:
        """Retired versions first, minus those loaded again (one series per model and version)."""
        live = {(s.predictor.name, s.predictor.version) for s in self.serving}
        return [*(s for s in self.retired if (s.predictor.name, s.predictor.version) not in live), *self.serving]

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class ModelCollector(Collector):
    """Reads the counters the served models keep, at scrape time: no cost on the request path."""

    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[Metric]:
        build = GaugeMetricFamily("catembed_build_info", "catembed version", labels=["version"])
        build.add_metric([__version__], 1)
        yield build
        serving = self.metrics.serving
        models = self.metrics.models
        info = GaugeMetricFamily(
            "catembed_model_info", "the model versions being served (1) and retired ones (0)", labels=["model", "version", "task"]
        )
        load = GaugeMetricFamily(
            "catembed_model_load_seconds", "time to verify, load and warm the bundle", labels=["model", "version"]
        )
        loaded = GaugeMetricFamily(
            "catembed_model_loaded_timestamp_seconds", "when the version was loaded", labels=["model", "version"]
        )
        predictions = CounterMetricFamily("catembed_predictions", "predictions returned by /predict", labels=["model", "version"])
        rows = CounterMetricFamily(
            "catembed_records", "records through /predict, /encode and /embed", labels=["model", "version"]
        )
        per_feature = ["model", "version", "feature"]
        unknown = CounterMetricFamily("catembed_unknown_category", "values not in the training vocabulary", labels=per_feature)
        missing = CounterMetricFamily(
            "catembed_missing_category", "categorical values that were null or absent", labels=per_feature
        )
        imputed = CounterMetricFamily(
            "catembed_imputed_numeric", "numeric values replaced by the training median", labels=per_feature
        )
        unknown_rate = GaugeMetricFamily("catembed_unknown_category_rate", "unknown / records, since load", labels=per_feature)
        imputed_rate = GaugeMetricFamily("catembed_imputed_numeric_rate", "imputed / records, since load", labels=per_feature)
        for served in models:
            p = served.predictor
            key = [p.name, str(p.version)]
            info.add_metric([*key, p.task], 1 if any(served is s for s in serving) else 0)
            load.add_metric(key, served.load_seconds)
            loaded.add_metric(key, p.loaded_at)
            predictions.add_metric(key, p.drift.predictions)
            drift = p.drift
            total = drift.rows
            rows.add_metric(key, total)
            # .get(): a worker thread may be adding a key while we read
            for feature in p.categorical:
                n = drift.unknown.get(feature, 0)
                unknown.add_metric([*key, feature], n)
                missing.add_metric([*key, feature], drift.missing.get(feature, 0))
                unknown_rate.add_metric([*key, feature], n / total if total else 0.0)
            for feature in p.numeric:
                n = drift.imputed.get(feature, 0)
                imputed.add_metric([*key, feature], n)
                imputed_rate.add_metric([*key, feature], n / total if total else 0.0)
        yield from (info, load, loaded, predictions, rows, unknown, missing, imputed, unknown_rate, imputed_rate)
