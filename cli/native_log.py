"""TensorFlow's own log lines, held back unless they explain a failure.

TensorFlow and absl log from C++ straight to file descriptor 2, some of it before any Python
setting is read (``WARNING: All log messages before absl::InitializeLog()``, the oneDNN notice,
``E0000 … NodeDef mentions attribute use_unbounded_threadpool``). ``TF_CPP_MIN_LOG_LEVEL`` hides
only part of it, and an ``E`` line that is not an error alarms users. So while training runs,
fd 2 points at a temporary file; Python's ``sys.stderr`` keeps writing to the terminal, so
catembed's own messages are unaffected. The held lines are printed only if training fails with
something other than a ``CatembedError`` (those are one clear line by contract), or when the
user asked for ``--verbose``.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import tempfile
from collections.abc import Iterator
from typing import IO

from features.errors import CatembedError

STDERR_FD = 2


@contextlib.contextmanager
def held_native_log(verbose: bool = False) -> Iterator[None]:
    """Hold fd 2 (C++ logging) in a temporary file for the block; replay it on a crash."""
    if verbose:
        yield
        return
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stdout.flush()
    sys.stderr.flush()
    terminal = os.dup(STDERR_FD)
    python_stderr = sys.stderr
    # sys.stderr usually writes to fd 2; keep it on the terminal. Under a capturing test runner
    # it is not fd 2 and is left alone.
    moved: IO[str] | None = open(terminal, "w", buffering=1, closefd=False) if _is_fd2(sys.stderr) else None  # noqa: SIM115
    with tempfile.TemporaryFile() as held:
        os.dup2(held.fileno(), STDERR_FD)
        if moved is not None:
            sys.stderr = moved
        crashed = False
        try:
            yield
        except BaseException as exc:
            crashed = not isinstance(exc, CatembedError | KeyboardInterrupt)
            raise
        finally:
            sys.stderr.flush()
            os.dup2(terminal, STDERR_FD)
            os.close(terminal)
            sys.stderr = python_stderr
            if moved is not None:
                moved.close()
            if crashed:
                _replay(held)


def _is_fd2(stream: IO[str]) -> bool:
    try:
        return stream.fileno() == STDERR_FD
    except (AttributeError, OSError, io.UnsupportedOperation):
        return False


def _replay(held: IO[bytes]) -> None:
    held.seek(0)
    text = held.read().decode("utf-8", errors="replace")
    if text.strip():
        sys.stderr.write("TensorFlow's log, shown because training failed:\n" + text)
        sys.stderr.flush()
