"""The explorer's files as the service serves them (the browser tests drive the page itself)."""

from __future__ import annotations

import re

import pytest

from tests.app.conftest import assert_error


@pytest.mark.parametrize("path", ["/", "/explorer"])
def test_page_served_at_root_and_explorer(client, path):
    response = client.get(path)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in response.headers["content-security-policy"]
    assert '<link rel="icon" href="data:,">' in response.text
    assert 'src="/explorer/explorer.js"' in response.text and 'href="/explorer/explorer.css"' in response.text


def test_assets_are_served_and_nothing_points_elsewhere(client):
    assets = [("index.html", "text/html"), ("explorer.css", "text/css")]
    assets += [(name, "text/javascript") for name in ("explorer.js", "map.js", "common.js")]
    for name, kind in assets:
        response = client.get(f"/explorer/{name}")
        assert response.status_code == 200 and response.headers["content-type"].startswith(kind)
        # no other origin: no absolute URL, no protocol-relative one
        assert not re.search(r"(https?:)?//[a-z0-9.-]+\.[a-z]{2,}", response.text, re.IGNORECASE), name
    assert_error(client.get("/explorer/secrets.py"), 404, "name")
    assert_error(client.get("/explorer/..%2Fmain.py"), 404)


def test_page_is_not_in_the_api_schema(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert "/" not in paths and "/explorer" not in paths
    assert "/embeddings/{feature}/projection" in paths
