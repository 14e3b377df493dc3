"""Benchmarks: `python -m bench.perf` measures latency, throughput, batch, training and footprint."""
