"""OpenAPI links between the service's operations: which answer names the model another call takes.

A client (or a stateful fuzzer such as schemathesis) can follow them: a model loaded through the
repository API is then described, served, unloaded and loaded again, in sequences a single request
never exercises (unloading a model once made /predict answer 404 until a restart: issue 28).
"""

from __future__ import annotations

from typing import Any

_MODEL = {"name": "$response.body#/name"}
_VERSION = {"name": "$response.body#/name", "version": "$response.body#/version"}

# source operation → {link name: (target path, target method, parameters)}
LINKS: dict[tuple[str, str], dict[str, tuple[str, str, dict[str, str]]]] = {
    ("/v2/repository/models/{name}/load", "post"): {
        "Unload": ("/v2/repository/models/{name}/unload", "post", _MODEL),
        "Describe": ("/models/{name}", "get", _MODEL),
        "Predict": ("/models/{name}/predict", "post", _MODEL),
        "Ready": ("/v2/models/{name}/ready", "get", _MODEL),
        "Config": ("/v2/models/{name}/config", "get", _MODEL),
    },
    ("/v2/repository/models/{name}/unload", "post"): {
        "Load": ("/v2/repository/models/{name}/load", "post", _MODEL),
        "Describe": ("/models/{name}", "get", _MODEL),
        "Predict": ("/models/{name}/predict", "post", _MODEL),
    },
    ("/models/{name}", "get"): {
        "Load": ("/v2/repository/models/{name}/load", "post", _MODEL),
        "Unload": ("/v2/repository/models/{name}/unload", "post", _MODEL),
    },
    ("/model", "get"): {
        "Version": ("/models/{name}/versions/{version}/model", "get", _VERSION),
        "Unload": ("/v2/repository/models/{name}/unload", "post", _MODEL),
    },
}


def add_links(schema: dict[str, Any]) -> None:
    paths = schema.get("paths", {})
    for (path, method), links in LINKS.items():
        response = paths.get(path, {}).get(method, {}).get("responses", {}).get("200")
        if response is None:
            continue
        found = {
            name: {"operationRef": f"#/paths/{_pointer(target)}/{target_method}", "parameters": parameters}
            for name, (target, target_method, parameters) in links.items()
            if target_method in paths.get(target, {})
        }
        if found:
            response["links"] = found


def _pointer(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")
