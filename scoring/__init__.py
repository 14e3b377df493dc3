"""Batch scoring of files: ``catembed predict``.

A package of its own, beside ``app`` and ``training``: it streams Parquet or CSV files through
the service's own path (the bundle from ``features.artifacts.load_bundle``, its fitted encoder,
its NumPy graph), so it needs pyarrow, which the service does not ship, and never TensorFlow,
which ``training`` is built around. Ray is imported only by ``scoring.distributed``.
"""
