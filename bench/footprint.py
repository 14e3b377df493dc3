"""Service footprint: resident memory after load and under traffic, cold start to /ready, and
whether TensorFlow is loaded in the serving process (it must not be)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bench import server


def loaded_libraries(pid: int) -> set[str]:
    names = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6 and ".so" in parts[5]:
            names.add(Path(parts[5]).name)
    return names


def _paths(pid: int) -> list[tuple[str, str]]:
    out = []
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        parts = line.split()
        if len(parts) >= 6 and ".so" in parts[5]:
            out.append((Path(parts[5]).name, parts[5]))
    return out


def measure(running: server.Server) -> dict[str, Any]:
    libraries = loaded_libraries(running.pid)
    return {
        "cold_start_to_ready_s": round(running.cold_start_s, 3),
        "rss_after_load_mb": round(server.rss_mb(running.pid), 1),
        "tensorflow_loaded": any("tensorflow" in name for name in libraries),
        "uvloop_loaded": any(name.startswith("loop.") and "uvloop" in path for name, path in _paths(running.pid)),
        "httptools_loaded": any("httptools" in path for _, path in _paths(running.pid)),
    }


def cold_starts(model_dir: Path, log: Path, repeats: int) -> list[float]:
    """Spawn → first 200 on /ready, several fresh processes (the page cache is warm after the first)."""
    times = []
    for _ in range(repeats):
        running = server.catembed(model_dir, log)
        times.append(round(running.cold_start_s, 3))
        running.stop()
    return times
