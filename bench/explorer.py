"""The explorer's drawing time: a 50,000-value vocabulary in headless Chromium, no sampling.

``python -m bench.explorer`` trains a tiny real model whose ``item`` feature has ~50,000 values
(each seen 6 times, so all but a handful survive the validation split), serves it with
``catembed serve``, opens ``/?feature=item`` in Debian's Chromium and reads what the page itself
measured: from navigation start to the last point drawn (cold: the service computes the PCA and
the 50,000 effects on that first request; warm: a reload, served from the cache), and the canvas
drawing alone. Writes bench/results/explorer.json and a screenshot.

``--demo MODEL_DIR`` instead takes the README's screenshots of a trained model folder (the flights
demo; with two versions or more it shows their comparison): bench/results/explorer.png (the t-SNE
map of ``dest`` coloured by the airports' longitude from training/data/demo/airports.csv, ATL and
its neighbours) and bench/results/explorer-3d.png (``carrier`` in 3-D, named by carriers.csv).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import server

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]
RESULTS = server.ROOT / "bench" / "results"


def train_wide_model(root: Path, values: int) -> Path:
    import numpy as np
    import pandas as pd

    from features.schema import FeatureSpec
    from training.loop.config import TrainConfig
    from training.loop.trainer import train

    rng = np.random.default_rng(0)
    item = np.repeat(np.arange(values), 6)
    effect = rng.normal(0, 1, values)
    group = rng.integers(0, 20, len(item))
    x = rng.normal(0, 1, len(item))
    score = effect[item] + 0.1 * group + x
    frame = pd.DataFrame(
        {"item": [f"item-{i:05d}" for i in item], "group": group, "x": x, "label": score + rng.logistic(0, 1, len(item)) > 0}
    )
    spec = FeatureSpec(target="label", task="binary", categorical=["item", "group"], numeric=["x"], embedding_dims={"item": 16})
    config = TrainConfig(hidden_units=(32,), dropout=(0.0,), epochs=2, patience=1, min_frequency=1)
    run = train(frame, spec, config, name="wide", out=root, log=lambda _: None, verbose=0)
    return Path(run.path).parent


def open_page(url: str, shot: Path | None, feature: str, value: str | None = None) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        timings = []
        for _ in range(4):  # the first load is cold (the service computes the map), the others warm
            page.goto(f"{url}/?feature={feature}" + (f"&value={value}" if value else ""))
            page.wait_for_selector(
                f'#map[data-feature="{feature}"]:not([data-point-count="0"])', state="attached", timeout=120_000
            )
            if value:
                page.wait_for_selector("#neighbors li")
            timings.append(
                {k: page.get_attribute("#map", f"data-{k}") for k in ("point-count", "drawn-at-ms", "draw-ms", "paint-ms")}
            )
        if shot is not None:
            if not value:
                page.select_option("#colour-by", "effect")
            page.click("#sweep")
            page.wait_for_selector("#sweep-chart .bar")
            time.sleep(0.3)
            page.screenshot(path=str(shot), full_page=True)
        browser.close()
    return {
        "points": int(timings[0]["point-count"] or 0),
        "cold_ms": float(timings[0]["drawn-at-ms"] or "nan"),
        "warm_ms": statistics.median(float(t["drawn-at-ms"] or "nan") for t in timings[1:]),
        "warm_paint_ms": statistics.median(float(t["paint-ms"] or "nan") for t in timings[1:]),
    }


def demo_screenshots(url: str, out: Path) -> None:
    from playwright.sync_api import sync_playwright

    from training.data.tables import DEMO_DIR

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 950})
        page.goto(f"{url}/?feature=dest&value=ATL")
        page.wait_for_selector('#card[data-value="ATL"]:not([hidden])', timeout=120_000)
        page.select_option("#method", "tsne")
        page.wait_for_selector('#map[data-method="tsne"]', state="attached")
        page.wait_for_selector('#card[data-value="ATL"]:not([hidden])')
        page.set_input_files("#metadata-file", str(DEMO_DIR / "airports.csv"))
        page.wait_for_selector('#colour-by option[value="meta:lon"]', state="attached")
        page.select_option("#colour-by", "meta:lon")
        page.click("#sweep")
        page.wait_for_selector("#sweep-chart .bar")
        time.sleep(0.5)
        page.screenshot(path=str(out / "explorer.png"), full_page=True)
        page.goto(f"{url}/?feature=carrier&value=UA")
        page.wait_for_selector('#card[data-value="UA"]:not([hidden])')
        page.set_input_files("#metadata-file", str(DEMO_DIR / "carriers.csv"))
        page.wait_for_selector('#colour-by option[value="meta:name"]', state="attached")
        page.select_option("#colour-by", "effect")
        page.select_option("#view-dim", "3")
        page.wait_for_selector('#map[data-dim="3"]', state="attached")
        time.sleep(0.5)
        page.locator("#map-section").screenshot(path=str(out / "explorer-3d.png"))
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--values", type=int, default=50_010, help="distinct values of the wide feature")
    parser.add_argument("--demo", type=Path, help="screenshot this model folder instead (explorer.png, explorer-3d.png)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for explorer.json and the screenshot")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        if args.demo:
            live = server.catembed(args.demo, Path(tmp) / "serve.log", floor=False)
            try:
                demo_screenshots(f"http://127.0.0.1:{live.port}", args.out)
            finally:
                live.stop()
            print(f"screenshots: {args.out / 'explorer.png'}, {args.out / 'explorer-3d.png'}")
            return
        started = time.perf_counter()
        model_dir = train_wide_model(Path(tmp), args.values)
        print(f"trained the {args.values:,}-value model in {time.perf_counter() - started:.1f} s")
        shot = args.out / "explorer-50k.png"
        live = server.catembed(model_dir, Path(tmp) / "serve.log", floor=False)
        try:
            found = open_page(f"http://127.0.0.1:{live.port}", shot, "item")
        finally:
            live.stop()
    print(json.dumps(found))
    found["date"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    found["load"] = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    (args.out / "explorer.json").write_text(json.dumps(found, indent=2) + "\n")
    print(f"screenshot: {shot}")


if __name__ == "__main__":
    main()
