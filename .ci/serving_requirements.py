"""Print the serving dependency closure, pinned to the installed versions, as requirements lines.

This is what the container ships and what ``make audit`` checks for known vulnerabilities:
catembed's runtime dependencies (with the extras it asks for, e.g. uvicorn[standard]) and
everything they pull in on this platform; not TensorFlow, not the dev tools.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, distribution

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name


def closure(root: str = "catembed") -> dict[str, str]:
    pinned: dict[str, str] = {}
    todo: list[tuple[str, frozenset[str]]] = [(root, frozenset())]
    while todo:
        name, extras = todo.pop()
        try:
            dist = distribution(name)
        except PackageNotFoundError:  # a dependency of another platform or Python
            continue
        key = canonicalize_name(name)
        if key in pinned and not extras:
            continue
        if name != root:
            pinned[key] = dist.version
        for line in dist.requires or []:
            requirement = Requirement(line)
            environments = [{"extra": extra} for extra in extras] or [{"extra": ""}]
            if requirement.marker is None or any(requirement.marker.evaluate(env) for env in environments):
                todo.append((requirement.name, frozenset(requirement.extras)))
    return pinned


if __name__ == "__main__":
    for name, version in sorted(closure().items()):
        print(f"{name}=={version}")
