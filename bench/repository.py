"""Memory of the model repository: RSS of one server holding 1 vs 10 demo-sized models.

The demo (NYC flights) is trained once; the repository of 10 holds 10 copies of it under 10
names (a copied folder is a model of its own: own name, own metrics, own ServedModel). Each
server is measured after /ready, and again after every model has answered 200 predictions
(allocator and caches settled). The single-model mode (CATEMBED_MODEL_DIR) is the baseline.

    python -m bench.repository [--models 10] [--work /tmp/catembed-repo-bench]

Writes bench/results/repository.json and prints the table docs/repository.md quotes.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

from bench import server

RESULTS = Path(__file__).parent / "results" / "repository.json"


def demo_bundle(work: Path) -> Path:
    """The demo model's newest version folder, trained once into ``work/trained``."""
    trained = work / "trained"
    if not (trained / "flights").is_dir():
        command = [sys.executable, "-m", "cli.main", "train", "--demo", "--out", str(trained)]
        subprocess.run(command, cwd=server.ROOT, check=True, stdout=subprocess.DEVNULL)
    return max((trained / "flights").iterdir(), key=lambda p: int(p.name) if p.name.isdigit() else -1)


def repository_of(work: Path, bundle: Path, n: int) -> Path:
    root = work / f"repository-{n}"
    shutil.rmtree(root, ignore_errors=True)
    for i in range(n):
        shutil.copytree(bundle, root / f"flights-{i:02d}" / "1")
    return root


def start(env: dict[str, str], log: Path) -> server.Server:
    port = server.free_port()
    command = [sys.executable, "-m", "cli.main", "serve", "--port", str(port), "--log-level", "warning"]
    return server.start(command, env, ready_path="/ready", log=log, port=port)


def measure(running: server.Server, paths: list[str], example: dict[str, Any]) -> dict[str, float]:
    after_load = server.rss_mb(running.pid)
    with httpx.Client(base_url=f"http://127.0.0.1:{running.port}", timeout=30) as client:
        for path in paths:
            for _ in range(200):
                client.post(path, json=example).raise_for_status()
    return {
        "cold_start_to_ready_s": round(running.cold_start_s, 2),
        "rss_after_load_mb": round(after_load, 1),
        "rss_after_traffic_mb": round(server.rss_mb(running.pid), 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10)
    parser.add_argument("--work", type=Path, default=Path("/tmp/catembed-repo-bench"))
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    bundle = demo_bundle(args.work)
    example = json.loads((bundle / "manifest.json").read_text())["example"]
    sizes = {
        f: round((bundle / f).stat().st_size / 1e6, 2) for f in ("graph.npz", "encoders.json", "encoders.npz", "model.keras")
    }
    runs: dict[str, dict[str, float]] = {}
    cases = [
        ("one model, CATEMBED_MODEL_DIR", {"CATEMBED_MODEL_DIR": str(bundle.parent)}, ["/predict"]),
        *(
            (
                f"repository of {n}",
                {"CATEMBED_MODEL_REPOSITORY": str(repository_of(args.work, bundle, n))},
                [f"/models/flights-{i:02d}/predict" for i in range(n)],
            )
            for n in (1, args.models)
        ),
    ]
    for label, env, paths in cases:
        running = start(env, args.work / "server.log")
        try:
            runs[label] = measure(running, paths, example)
        finally:
            running.stop()
        print(f"{label:32} {runs[label]}", flush=True)
    one, many = runs["repository of 1"], runs[f"repository of {args.models}"]
    per_model = {
        key: round((many[key] - one[key]) / (args.models - 1), 1) for key in ("rss_after_load_mb", "rss_after_traffic_mb")
    }
    result = {
        "measured_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "bundle_files_mb": sizes,
        "runs": runs,
        "per_extra_model_mb": per_model,
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"each extra model: {per_model}; bundle files (MB): {sizes}")


if __name__ == "__main__":
    main()
