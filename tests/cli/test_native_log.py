"""fd 2 held during training: C++ writes are hidden, replayed after a crash, never after a CatembedError."""

import os
import sys

import pytest

from cli.native_log import held_native_log
from features.errors import CatembedError


def _native(text: str) -> None:
    os.write(2, text.encode())  # what TensorFlow's C++ logging does: straight to the descriptor


def test_native_lines_are_held_and_python_stderr_still_reaches_the_terminal(capfd):
    with held_native_log():
        _native("E0000 fake NodeDef line\n")
        print("progress", flush=True)
    print("after", file=sys.stderr, flush=True)
    out, err = capfd.readouterr()
    assert "NodeDef" not in err and out == "progress\n" and err == "after\n"


def test_a_crash_replays_the_held_lines(capfd):
    with pytest.raises(RuntimeError), held_native_log():
        _native("I0000 oneDNN custom operations are on\n")
        raise RuntimeError("boom")
    err = capfd.readouterr().err
    assert "shown because training failed" in err and "oneDNN custom operations" in err


def test_a_catembed_error_stays_one_line(capfd):
    with pytest.raises(CatembedError), held_native_log():
        _native("I0000 oneDNN custom operations are on\n")
        raise CatembedError("bad column")
    assert capfd.readouterr().err == ""


def test_verbose_holds_nothing(capfd):
    with held_native_log(verbose=True):
        _native("W0000 visible\n")
    assert capfd.readouterr().err == "W0000 visible\n"
