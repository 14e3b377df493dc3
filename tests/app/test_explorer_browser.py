"""The explorer in a real browser: Debian's Chromium, headless, driven by Playwright, against a real
``catembed serve`` process serving a tiny real model.

No browser is downloaded (never ``playwright install``): ``make test`` installs Debian's chromium
when it can, and these tests skip, saying why, when /usr/bin/chromium or Playwright is missing.
"""

from __future__ import annotations

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
def server(binary_run):
    with LiveServer(binary_run.path.parent, CATEMBED_MODEL_VERSION=binary_run.path.name) as live:
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
