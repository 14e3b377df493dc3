"""The explorer's own requests, kept out of the served-traffic figures.

Every call the explorer page makes carries ``X-Catembed-Client: explorer``. Its what-if edits and
sweeps are predictions nobody's application asked for: counted with the rest, one person's clicks
moved a feature's "unseen rate (served)" from 25 % to 12 % (issue 29). So a marked request
- is answered by a copy of the predictor whose drift counters nobody reads (the served ones, behind
  /metrics and /model's coverage, stay as they were), and
- is counted in ``catembed_explorer_requests`` instead of ``catembed_http_requests``.

The marker is a label, not a permission: a client that sends it only leaves itself out of the
figures, as the page says.
"""

from __future__ import annotations

import copy

from starlette.requests import Request
from starlette.types import Scope

from app.predictor import Drift, Predictor

HEADER = b"x-catembed-client"
EXPLORER = b"explorer"
PAGE_ROUTES = frozenset({"/", "/explorer", "/explorer/{name}"})  # the page and its assets


def from_explorer(scope: Scope) -> bool:
    return any(name == HEADER and value.strip().lower() == EXPLORER for name, value in scope.get("headers", ()))


def predictor_for(request: Request, predictor: Predictor) -> Predictor:
    """The served predictor, or for the explorer a shallow copy with its own drift counters: the
    same graph, encoder and parser (nothing is duplicated), nothing counted where /metrics reads."""
    if not from_explorer(request.scope):
        return predictor
    shadow = copy.copy(predictor)
    shadow.drift = Drift.for_features(predictor.categorical, predictor.numeric)
    return shadow
