"""model.json: the version policies and labels a repository model is served with."""

from __future__ import annotations

import json

import pytest

from app.model_config import ModelConfig, read_config
from features.errors import BundleError

ON_DISK = [1, 2, 3, 5]


@pytest.mark.parametrize(
    ("config", "served"),
    [
        (None, [5]),
        ({"version_policy": {"latest": 2}}, [3, 5]),
        ({"version_policy": {"latest": 9}}, ON_DISK),
        ({"version_policy": {"all": {}}}, ON_DISK),
        ({"version_policy": {"specific": [5, 1, 4]}}, [1, 5]),
        ({"labels": {"stable": 3}}, [5]),
    ],
)
def test_each_policy_selects_its_versions(tmp_path, config, served):
    if config is not None:
        (tmp_path / "model.json").write_text(json.dumps(config))
    parsed = read_config(tmp_path)
    assert parsed.select(ON_DISK) == served
    assert parsed.select([]) == []
    assert parsed.labels == (config or {}).get("labels", {})


@pytest.mark.parametrize(
    "text",
    [
        "{not json",
        "[1, 2]",
        '{"version_policy": {"latest": 0}}',
        '{"version_policy": {"latest": true}}',
        '{"version_policy": {"newest": 1}}',
        '{"version_policy": {"latest": 1, "all": {}}}',
        '{"version_policy": {"specific": []}}',
        '{"version_policy": {"specific": ["3"]}}',
        '{"labels": {"stable": "3"}}',
        '{"labels": {"no spaces": 3}}',
        '{"policy": "latest"}',
    ],
)
def test_a_bad_file_is_one_clear_error(tmp_path, text):
    (tmp_path / "model.json").write_text(text)
    with pytest.raises(BundleError, match=r"model\.json"):
        read_config(tmp_path)


def test_describe_round_trips(tmp_path):
    for config in ({"version_policy": {"latest": 2}}, {"version_policy": {"all": {}}}, {"version_policy": {"specific": [1, 3]}}):
        (tmp_path / "model.json").write_text(json.dumps({**config, "labels": {"stable": 1}}))
        first = read_config(tmp_path)
        assert first.describe() == {**config, "labels": {"stable": 1}}
        (tmp_path / "model.json").write_text(json.dumps(first.describe()))
        assert read_config(tmp_path) == first
    assert ModelConfig().describe() == {"version_policy": {"latest": 1}, "labels": {}}
