"""Fixed-height row blocks: why a record's answer does not depend on the batch it came in.

BLAS rounds a row of a matrix product differently depending on the product's height and on
where the row sits in it: OpenBLAS splits the rows into micro-tiles whose kernels accumulate in
different orders, and splits the work between threads by size. On its Haswell kernels a row's
last float32 bit changed between a 1,025-row and a 513-row product (issue 31). The served graph
therefore never multiplies a matrix of the caller's height:

- every product is a stack of ``BLOCK_ROWS``-row products (``matmul``), the rows padded to a
  multiple of it, so a record meets the same kernel call whether it is alone or among 10,000;
- that call computes each of its rows the same way wherever the row sits. This is a property of
  the BLAS, so it is *checked* when a graph is built (``stable_block_rows``): for each of the
  graph's kernels a probe row is put at every position of three blocks of random neighbours and
  must come out bit for bit the same. If it does not (another BLAS, another kernel family), the
  graph falls back to one-row products, which are the same call for every row by construction;
- products run on one BLAS thread (``one_blas_thread``), since the thread split changes the
  tiling too. The service and ``catembed predict`` already run BLAS on one thread; this makes it
  hold for every caller, for the length of the graph's call only.

Elementwise NumPy ops (adds, activations) compute each element on its own, and every reduction
in the graph runs along a row (softmax) or across members (ensemble mean): neither sees the
batch. docs/training-serving-parity.md states the guarantee and what it costs.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

# 8 rows: the largest height at which every row of an OpenBLAS product met the same kernel path on
# both kernel families measured here (Haswell, SkylakeX); from 12 rows on, Haswell's kernels
# round rows 6-11 differently from rows 0-5 (docs/training-serving-parity.md).
BLOCK_ROWS = 8
_PROBE_BLOCKS = 3  # the probe spans several blocks: a NumPy that fused the stack into one product would fail it


def padded_rows(n: int, block: int) -> int:
    return -(-n // block) * block


def matmul(x: np.ndarray, kernel: np.ndarray, block: int) -> np.ndarray:
    """``x @ kernel`` as a stack of ``block``-row products, rows padded with zeros to a multiple of
    ``block`` (the padding rows are computed and dropped). x: (..., n, k); kernel: (k, h), or
    (..., k, h) matching x's leading axes (grouped members, periodic features)."""
    *lead, n, k = x.shape
    rows = padded_rows(n, block)
    if rows != n:
        padded = np.zeros((*lead, rows, k), dtype=x.dtype)
        padded[..., :n, :] = x
        x = padded
    stacked = kernel if kernel.ndim == 2 else kernel[..., None, :, :]
    y = np.matmul(x.reshape(*lead, rows // block, block, k), stacked).reshape(*lead, rows, kernel.shape[-1])
    return y if rows == n else y[..., :n, :]


def row_stable(kernel: np.ndarray, block: int, rng: np.random.Generator) -> bool:
    """Whether ``matmul`` gives a probe row the same bits at every position of a stack of blocks."""
    kernel = kernel if kernel.ndim == 2 else kernel[0]
    rows = _PROBE_BLOCKS * block
    neighbours = rng.standard_normal((rows, kernel.shape[0])).astype(np.float32)
    probe = rng.standard_normal((1, kernel.shape[0])).astype(np.float32)[0]
    first = None
    for position in range(rows):
        x = neighbours.copy()
        x[position] = probe
        row = matmul(x, kernel, block)[position]
        if first is None:
            first = row
        elif not np.array_equal(row, first):
            return False
    return True


def stable_block_rows(kernels: Sequence[np.ndarray]) -> int:
    """``BLOCK_ROWS`` if this process' BLAS computes every row of such a block alike for each of
    ``kernels``, else 1 (one product per row: slower, invariant by construction)."""
    rng = np.random.default_rng(0)
    with one_blas_thread():
        if all(row_stable(np.asarray(k, dtype=np.float32), BLOCK_ROWS, rng) for k in kernels):
            return BLOCK_ROWS
    return 1


class _OneBlasThread:
    """BLAS on one thread while any graph call is running, restored after the last one ends.

    Reference-counted under a lock, so concurrent calls from several Python threads all run on
    one BLAS thread and the first to leave cannot restore the setting under another's product.
    Costs a lock and a ``get_num_threads`` call when BLAS is already on one thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._active = 0
        self._restore: list[tuple[Any, int]] = []
        self._libraries: list[Any] | None = None

    def _blas(self) -> list[Any]:
        if self._libraries is None:
            from threadpoolctl import ThreadpoolController  # a base dependency of the service

            self._libraries = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        return self._libraries

    def __enter__(self) -> None:
        with self._lock:
            if self._active == 0:
                for library in self._blas():
                    threads = library.get_num_threads()
                    if threads is not None and threads != 1:
                        library.set_num_threads(1)
                        self._restore.append((library, threads))
            self._active += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._active -= 1
            if self._active == 0:
                for library, threads in self._restore:
                    library.set_num_threads(threads)
                self._restore.clear()


_ONE_BLAS_THREAD = _OneBlasThread()


def one_blas_thread() -> _OneBlasThread:
    return _ONE_BLAS_THREAD
