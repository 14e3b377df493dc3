"""The explorer in a real browser: Debian's Chromium, headless, driven by Playwright, against a real
``catembed serve`` process serving a tiny real model.

No browser is downloaded (never ``playwright install``): ``make test`` installs Debian's chromium
when it can, and these tests skip, saying why, when /usr/bin/chromium or Playwright is missing.
"""

from __future__ import annotations

import json
import os
from urllib.parse import quote

import httpx
import pytest

pytest.importorskip("playwright", reason="playwright is not installed (pip install -e '.[dev]')")
pytest.importorskip("pytest_playwright", reason="pytest-playwright is not installed (pip install -e '.[dev]')")
from bench.explorer import CHROMIUM, FLAGS  # the benchmark launches Chromium the same way

if not os.access(CHROMIUM, os.X_OK):
    pytest.skip(
        f"{CHROMIUM} is missing: apt-get install -y chromium (make test does it when run as root)", allow_module_level=True
    )

from tests.app.live import ROOT, LiveServer
from tests.app.versions import versions_with_a_moved_value

pytestmark = pytest.mark.slow

SHOTS = ROOT / "bench" / "results"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": FLAGS, "headless": True}


# pytest-playwright keeps one Playwright, and with it a running event loop on the main thread, for
# the whole session: every later test calling asyncio.run() would fail. These overrides keep the
# plugin's fixtures (page, context, launch args) but end Playwright with this module.
@pytest.fixture(scope="module")
def playwright():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="module")
def browser_context_args():
    return {"viewport": {"width": 1400, "height": 950}}  # no device emulation, video or base URL here


@pytest.fixture(scope="module")
def browser_type(playwright, browser_name):
    return getattr(playwright, browser_name)


@pytest.fixture(scope="module")
def launch_browser(browser_type_launch_args, browser_type):
    return lambda **options: browser_type.launch(**{**browser_type_launch_args, **options})


@pytest.fixture(scope="module")
def browser(launch_browser):
    launched = launch_browser()
    yield launched
    launched.close()


@pytest.fixture(scope="module")
def moved(tmp_path_factory, binary_run):
    """The one served folder of this module: the binary model as version 1 and, served, a version 2
    in which one city's vector moved (for the version comparison)."""
    folder = tmp_path_factory.mktemp("explorer") / "binary"
    return folder, versions_with_a_moved_value(folder, binary_run, 2)


@pytest.fixture(scope="module")
def server(moved):
    with LiveServer(moved[0]) as live:
        yield live


class Watch:
    """Every request the page made and every console error it logged."""

    def __init__(self, page) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", lambda r: self.requests.append(r.url))
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))

    def check(self, origin: str, allowed_errors: tuple[str, ...] = ()) -> None:
        foreign = [u for u in self.requests if not (u.startswith(origin + "/") or u.startswith("data:"))]
        assert not foreign, f"requests to other origins: {foreign}"
        errors = [e for e in self.errors if not any(a in e for a in allowed_errors)]
        assert not errors, f"console errors: {errors}"


def wait_for_map(page, feature: str) -> int:
    page.wait_for_selector(f'#map[data-feature="{feature}"]:not([data-point-count="0"])', state="attached")
    return int(page.get_attribute("#map", "data-point-count"))


def shown_probability(page, previous: str | None = None) -> float:
    selector = "#prediction:not([data-probability=''])"
    if previous is not None:
        selector = f"#prediction:not([data-probability='']):not([data-probability='{previous}'])"
    page.wait_for_selector(selector, state="attached")
    return float(page.get_attribute("#prediction", "data-probability"))


def test_map_card_and_neighbours(page, server, binary_run):
    watch = Watch(page)
    page.goto(server.url + "/")
    model = httpx.get(server.url + "/model").json()
    features = page.eval_on_selector_all("#feature option", "options => options.map(o => o.value)")
    assert features == list(model["coverage"])
    page.select_option("#feature", "city")
    assert wait_for_map(page, "city") == len(binary_run.encoder.categorical_["city"].vocabulary_)
    stats = page.inner_text("#feature-stats")
    assert f"{model['coverage']['city']['values_folded']}" in stats and "embedding size" in stats

    value = binary_run.encoder.categorical_["city"].vocabulary_[3]
    page.fill("#search", value)
    page.press("#search", "Enter")
    page.wait_for_selector(f'#card[data-value="{value}"]:not([hidden])')
    shown = page.eval_on_selector_all("#neighbors button", "buttons => buttons.map(b => b.dataset.value)")
    expected = httpx.get(f"{server.url}/embeddings/city/{quote(value, safe='')}/neighbors?k=10").json()["neighbors"]
    assert shown == [n["value"] for n in expected] and len(shown) == 10

    # clicking a neighbour opens its card; the share link reopens the same view in a new page
    page.click(f'#neighbors button[data-value="{shown[0]}"]')
    page.wait_for_selector(f'#card[data-value="{shown[0]}"]')
    link = page.get_attribute("#share-link", "href")
    assert link.startswith("/?") and "feature=city" in link
    page.select_option("#colour-by", "effect")
    assert "blue lowers it" in page.inner_text("#legend")
    page.focus("#map-canvas")
    for key in ("+", "ArrowLeft", "-", "Enter"):
        page.keyboard.press(key)
    page.screenshot(path=str(SHOTS / "explorer-test.png"), full_page=True)

    other = page.context.new_page()
    watch_other = Watch(other)
    other.goto(server.url + link)
    assert wait_for_map(other, "city") > 0
    other.wait_for_selector(f'#card[data-value="{shown[0]}"]:not([hidden])')
    unlabelled = other.eval_on_selector_all(
        "input, select, textarea", "els => els.filter(e => e.type !== 'hidden' && e.labels.length === 0).map(e => e.id)"
    )
    assert unlabelled == []
    watch.check(server.url)
    watch_other.check(server.url)


def test_what_if_matches_predict_and_sweep(page, server, binary_run):
    watch = Watch(page)
    page.goto(server.url + "/")
    record = dict(binary_run.manifest["example"])
    first = shown_probability(page)
    direct = httpx.post(server.url + "/predict", json=record).json()["predictions"][0]["probabilities"]["yes"]
    assert first == direct

    page.fill("#field-color", "green" if record["color"] != "green" else "red")
    record["color"] = page.input_value("#field-color")
    second = shown_probability(page, previous=str(first))
    direct = httpx.post(server.url + "/predict", json=record).json()["predictions"][0]["probabilities"]["yes"]
    assert second == direct and f"{direct:.4f}" in page.inner_text("#prediction")

    page.fill("#field-color", "purple")
    page.wait_for_selector("#warnings li")
    assert "'purple' was not in the training vocabulary of 'color'" in page.inner_text("#warnings")

    page.select_option("#sweep-feature", "size")
    page.click("#sweep")
    page.wait_for_selector('#sweep-chart[data-feature="size"] .bar')
    names = page.eval_on_selector_all("#sweep-chart .name", "spans => spans.map(s => s.textContent)")
    vocabulary = binary_run.encoder.categorical_["size"].vocabulary_
    assert names == vocabulary[:20]
    record["color"] = "purple"
    batch = httpx.post(server.url + "/predict", json={"records": [{**record, "size": v} for v in names]}).json()
    numbers = page.eval_on_selector_all("#sweep-chart .num", "spans => spans.map(s => s.textContent)")
    assert numbers == [f"{p['probabilities']['yes']:.4f}" for p in batch["predictions"]]
    watch.check(server.url)


def test_asks_for_the_api_key_once_and_sends_it(page, binary_run):
    with LiveServer(binary_run.path.parent, CATEMBED_MODEL_VERSION=binary_run.path.name, CATEMBED_API_KEY="s3cret") as server:
        watch = Watch(page)
        page.goto(server.url + "/")
        page.wait_for_selector("#key-dialog[open]")
        page.fill("#api-key", "s3cret")
        page.click('#key-form button[value="ok"]')
        assert shown_probability(page) > 0
        assert page.evaluate("() => sessionStorage.getItem('catembed-key')") == "s3cret"
        before = page.get_attribute("#prediction", "data-probability")
        page.fill("#field-color", "green" if binary_run.manifest["example"]["color"] != "green" else "red")
        shown_probability(page, previous=before)
        assert not page.is_visible("#key-dialog")  # asked once: the key rides on every later call
        # the one refused call before the key was given is the only error the console shows
        watch.check(server.url, allowed_errors=("401",))


def test_model_picker_switches_between_the_repository_models(page, tmp_path, binary_run, multiclass_run):
    import shutil

    for name, run in (("binary", binary_run), ("multiclass", multiclass_run)):
        shutil.copytree(run.path, tmp_path / name / "1")
    with LiveServer(tmp_path / "nowhere", CATEMBED_MODEL_REPOSITORY=str(tmp_path)) as server:
        watch = Watch(page)
        page.goto(server.url + "/?model=multiclass")
        page.wait_for_selector("#model-picker-box:not([hidden])")
        names = page.eval_on_selector_all("#model-picker option", "options => options.map(o => o.value)")
        assert names == ["binary", "multiclass"] and page.input_value("#model-picker") == "multiclass"
        page.wait_for_selector('#report-link[href="/models/multiclass/report"]:not([hidden])')
        # the multiclass model's own vocabulary is drawn, read through /models/multiclass/...
        feature = next(iter(multiclass_run.encoder.categorical_))
        assert wait_for_map(page, feature) == len(multiclass_run.encoder.categorical_[feature].vocabulary_)
        shown_multiclass = shown_probability(page)
        record = dict(multiclass_run.manifest["example"])
        answer = httpx.post(f"{server.url}/models/multiclass/predict", json=record).json()["predictions"][0]
        assert shown_multiclass == pytest.approx(answer["probabilities"][str(answer["label"])], abs=1e-6)

        page.select_option("#model-picker", "binary")
        feature = next(iter(binary_run.encoder.categorical_))
        assert wait_for_map(page, feature) == len(binary_run.encoder.categorical_[feature].vocabulary_)
        record = dict(binary_run.manifest["example"])
        expected = httpx.post(f"{server.url}/models/binary/predict", json=record).json()["predictions"][0]
        assert shown_probability(page, previous=str(shown_multiclass)) == pytest.approx(
            list(expected["probabilities"].values())[1], abs=1e-6
        )
        page.wait_for_selector('#report-link[href="/models/binary/report"]:not([hidden])')
        watch.check(server.url)


# ---------- the map: stored maps, 3-D, neighbours, labels, tooltip, metadata, versions ----------


def labels(page) -> list[dict]:
    return json.loads(page.get_attribute("#map", "data-labels"))


def canvas_size(page) -> tuple[float, float]:
    return float(page.get_attribute("#map", "data-width")), float(page.get_attribute("#map", "data-height"))


def overlapping(boxes: list[dict]) -> list[tuple[str, str]]:
    return [
        (a["text"], b["text"])
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
        if min(a["x"] + a["w"], b["x"] + b["w"]) > max(a["x"], b["x"])
        and min(a["y"] + a["h"], b["y"] + b["h"]) > max(a["y"], b["y"])
    ]


def test_stored_maps_the_3d_view_and_the_unknown_vector(page, server, binary_run):
    watch = Watch(page)
    page.goto(server.url + "/?feature=city")
    count = wait_for_map(page, "city")
    assert page.eval_on_selector_all("#method option", "options => options.map(o => o.value)") == ["pca", "tsne"]
    assert "computed at training" in page.inner_text("#feature-stats")
    # the unknown vector is drawn, marked and named
    width, height = canvas_size(page)
    x, y = map(float, page.get_attribute("#map", "data-unknown").split(","))
    assert 0 <= x <= width and 0 <= y <= height
    assert any(label["kind"] == "unknown" and label["text"] == "unknown vector" for label in labels(page))

    page.select_option("#view-dim", "3")
    page.wait_for_selector('#map[data-dim="3"]', state="attached")
    assert int(page.get_attribute("#map", "data-point-count")) == count
    page.select_option("#method", "tsne")
    page.wait_for_selector('#map[data-method="tsne"][data-dim="2"]', state="attached")  # t-SNE is flat
    assert page.is_disabled('#view-dim option[value="3"]') and int(page.get_attribute("#map", "data-point-count")) == count
    assert "t-SNE (cosine), computed at training" in page.inner_text("#feature-stats")
    page.select_option("#feature", "color")  # six colours: PCA only
    wait_for_map(page, "color")
    assert page.eval_on_selector_all("#method option", "options => options.map(o => o.value)") == ["pca"]
    watch.check(server.url)


def test_neighbours_are_highlighted_labelled_and_isolated(page, server, binary_run):
    watch = Watch(page)
    value = binary_run.encoder.categorical_["city"].vocabulary_[0]
    page.goto(server.url + f"/?feature=city&value={quote(value, safe='')}")
    page.wait_for_selector(f'#card[data-value="{value}"]:not([hidden])')
    page.wait_for_selector('#map:not([data-neighbours="0"])', state="attached")
    expected = httpx.get(f"{server.url}/embeddings/city/{quote(value, safe='')}/neighbors?k=10").json()["neighbors"]
    assert page.get_attribute("#map", "data-neighbours") == "10"
    drawn = labels(page)
    assert [(d["value"], d["kind"]) for d in drawn[:11]] == [(value, "selected")] + [(n["value"], "neighbour") for n in expected]
    width, height = canvas_size(page)
    assert all(d["x"] >= 0 and d["x"] + d["w"] <= width and d["y"] >= 0 and d["y"] + d["h"] <= height for d in drawn)
    assert overlapping(drawn) == []
    # pushed against the right edge, the selected value's label turns to the left of its point
    page.focus("#map-canvas")
    for _ in range(40):
        selected = next(d for d in labels(page) if d["kind"] == "selected")
        if selected["px"] + 12 + selected["w"] > width:  # no room on its right any more
            break
        page.keyboard.press("ArrowLeft")
        page.evaluate("() => new Promise(done => requestAnimationFrame(() => requestAnimationFrame(done)))")
    assert selected["px"] <= width and selected["px"] + 12 + selected["w"] > width
    assert selected["x"] + selected["w"] <= width and selected["x"] < selected["px"]
    # isolate: only the value and its neighbours are drawn
    page.check("#isolate")
    page.wait_for_selector('#map[data-point-count="11"]', state="attached")
    assert {d["value"] for d in labels(page)} == {value, *(n["value"] for n in expected)}
    page.fill("#neighbour-count", "3")
    page.dispatch_event("#neighbour-count", "change")
    page.wait_for_selector('#map[data-point-count="4"]', state="attached")
    assert page.eval_on_selector_all("#neighbors button", "bs => bs.map(b => b.dataset.value)") == [
        n["value"] for n in expected[:3]
    ]
    watch.check(server.url)


def test_no_stale_tooltip_and_no_stray_cursor(page, server, binary_run):
    watch = Watch(page)
    page.goto(server.url + "/?feature=city")
    wait_for_map(page, "city")
    box = page.locator("#map-canvas").bounding_box()
    target = next(d for d in labels(page) if d["kind"] == "frequent")
    page.mouse.move(box["x"] + target["px"], box["y"] + target["py"])
    page.wait_for_selector("#tooltip:not([hidden])")
    assert page.inner_text("#tooltip").startswith(target["value"])
    page.select_option("#feature", "size")  # the pointer has not moved: the old tooltip must go
    wait_for_map(page, "size")
    assert page.is_hidden("#tooltip")
    # a click leaves no cursor mark on the map; the keyboard shows it, the pointer hides it again
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    assert page.get_attribute("#map", "data-cursor") == "hidden"
    page.keyboard.press("ArrowUp")
    page.wait_for_selector('#map[data-cursor="shown"]', state="attached")
    page.mouse.click(box["x"] + 5, box["y"] + 5)
    page.wait_for_selector('#map[data-cursor="hidden"]', state="attached")
    watch.check(server.url)


def test_a_dropped_metadata_csv_names_and_colours_the_values(page, server, binary_run):
    watch = Watch(page)
    vocabulary = binary_run.encoder.categorical_["city"].vocabulary_
    rows = [f'"{v}","Town {i}",{"coast" if i % 2 else "inland"},{i * 10}' for i, v in enumerate(vocabulary[:-1])]  # one left out
    text = "city,label,region,population\n" + "\n".join(rows) + "\n"
    page.goto(server.url + "/?feature=size")  # the file's first column names its feature: city
    wait_for_map(page, "size")
    posted = []
    page.on("request", lambda r: posted.append(r.url) if r.method != "GET" else None)
    page.evaluate(
        """text => { const data = new DataTransfer(); data.items.add(new File([text], "cities.csv", {type: "text/csv"}));
           document.getElementById("map").dispatchEvent(new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true})); }""",
        text,
    )
    page.wait_for_selector("#status:has-text('metadata for city read from cities.csv')")
    page.select_option("#feature", "city")
    wait_for_map(page, "city")
    options = page.eval_on_selector_all("#colour-by option", "options => options.map(o => o.value)")
    assert {"meta:label", "meta:region", "meta:population"} <= set(options)
    assert f"{len(vocabulary) - 1} of {len(vocabulary)} values have metadata" in page.inner_text("#metadata-status")
    page.select_option("#colour-by", "meta:region")
    shown = page.eval_on_selector_all("#colour-bar .category", "items => items.map(i => i.dataset.label)")
    assert set(shown) == {"coast", "inland", "no metadata"}
    page.select_option("#colour-by", "meta:population")
    assert page.get_attribute("#colour-bar", "data-kind") == "ramp"
    assert (page.get_attribute("#colour-bar", "data-min"), page.get_attribute("#colour-bar", "data-max")) == (
        "0",
        str((len(vocabulary) - 2) * 10),
    )
    assert any(d["text"] == f"{vocabulary[0]} · Town 0" for d in labels(page))
    page.fill("#search", "Town 3")  # a label finds its value
    page.press("#search", "Enter")
    page.wait_for_selector(f'#card[data-value="{vocabulary[3]}"]:not([hidden])')
    assert "Town 3" in page.inner_text("#card-title") and "coast" in page.inner_text("#card-meta")
    assert posted == [] or all("/predict" in u for u in posted)  # the file itself went nowhere
    watch.check(server.url)


def test_compare_versions_lists_the_moved_value_first_and_colours_the_map(page, server, moved):
    watch = Watch(page)
    page.goto(server.url + "/?feature=city")
    wait_for_map(page, "city")
    page.wait_for_selector('#compare-section[data-from="1"][data-to="2"]', state="attached")
    assert page.get_attribute("#compare-section", "data-top") == moved[1]
    first = page.eval_on_selector_all("#moved button", "bs => bs.map(b => b.dataset.value)")[0]
    assert first == moved[1]
    page.select_option("#colour-by", "moved")
    assert "moved from version 1 to 2" in page.get_attribute("#colour-bar", "data-title")
    page.click(f'#moved button[data-value="{moved[1]}"]')
    page.wait_for_selector(f'#card[data-value="{moved[1]}"]:not([hidden])')
    page.select_option("#compare-to", "1")  # the same version twice: nothing to compare
    page.click("#compare")
    page.wait_for_selector("#compare-summary:has-text('Pick two different versions')")
    watch.check(server.url)


def test_the_explorer_leaves_the_served_traffic_figures_alone(page, server, binary_run):
    from tests.app.test_reload import metric

    before = httpx.get(server.url + "/metrics").text
    served_unknown = httpx.get(server.url + "/model").json()["coverage"]["color"]["served_unknown"]  # earlier tests' own calls
    watch = Watch(page)
    page.goto(server.url + "/")
    shown_probability(page)
    page.fill("#field-color", "a colour never seen")
    page.wait_for_selector("#warnings li")
    page.click("#sweep")
    page.wait_for_selector("#sweep-chart .bar")
    assert "X-Catembed-Client: explorer" in page.inner_text("#whatif-section")
    after = httpx.get(server.url + "/metrics").text
    key = {"model": "binary", "version": "2"}
    for name in ("catembed_predictions_total", "catembed_records_total"):
        assert metric(after, name, **key) == metric(before, name, **key)
    assert metric(after, "catembed_unknown_category_total", feature="color", **key) == metric(
        before, "catembed_unknown_category_total", feature="color", **key
    )
    assert metric(after, "catembed_explorer_requests_total", route="/predict", status="200") >= 3
    assert httpx.get(server.url + "/model").json()["coverage"]["color"]["served_unknown"] == served_unknown
    watch.check(server.url)
