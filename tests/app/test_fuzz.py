"""Schemathesis against the app's own OpenAPI schema, in process: ≥ 2,000 generated requests over
every operation, then the stateful phase (sequences that follow the schema's links: load, describe,
predict, unload, load again), then the Open Inference Protocol's published REST spec (tests/app/oip/).

The schema is the one the running app serves, generated from the loaded model (so the fuzzer
knows the real features, their types and the limits the parser enforces). Every operation is
fuzzed with valid data (must be answered as documented) and schema-violating data (must be a
documented 4xx); every response is checked against its documented status codes, content type
and JSON schema. One 5xx or one undocumented answer fails the test with a reproducible case.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

import pytest
import schemathesis
import yaml
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config._checks import NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES
from schemathesis.python.asgi import shutdown_lifespans

from app.main import create_app
from tests.app.conftest import settings_for

# the suite's floor; CATEMBED_FUZZ_REQUESTS=20000 for a deeper run by hand
TARGET_REQUESTS = max(2_000, int(os.environ.get("CATEMBED_FUZZ_REQUESTS", "0")))
FUZZ = settings(
    deadline=None,
    database=None,
    derandomize=True,  # the same cases on every run: a CI failure reproduces locally
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate, Phase.shrink],
)


@pytest.fixture(scope="module")
def schema(binary_run):
    app = create_app(settings_for(binary_run))
    # 10,001 records is schema-violating data the app rightly refuses with 413, not 400/422
    config = schemathesis.Config.from_dict(
        {"checks": {"negative_data_rejection": {"expected-statuses": [*NEGATIVE_DATA_REJECTION_EXPECTED_STATUSES, "413"]}}}
    )
    # from_asgi runs the app's lifespan (the model loads) before it reads /openapi.json
    yield schemathesis.openapi.from_asgi("/openapi.json", app, config=config)
    shutdown_lifespans()


def _has_inputs(operation) -> bool:
    return bool(len(operation.path_parameters) + len(operation.query) + len(operation.headers) + len(operation.body))


def test_every_operation_fuzzed_without_5xx_or_undocumented_answers(schema):
    operations = [result.ok() for result in schema.get_all_operations()]
    fuzzed = [op for op in operations if _has_inputs(op)]
    plain = len(operations) - len(fuzzed)  # no parameters, no body: one request says it all
    # 1.3×: operations whose only inputs are enums (the served model names, versions and labels of
    # /models/{name}/... and the v2 model routes) run out of distinct cases in ~85; the rest make up the total
    per_strategy = math.ceil(1.3 * (TARGET_REQUESTS - plain) / (2 * len(fuzzed)))
    sent: Counter[str] = Counter()
    unsatisfiable: list[tuple[str, str]] = []
    statuses: Counter[int] = Counter()

    for operation in operations:
        modes = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE) if _has_inputs(operation) else (GenerationMode.POSITIVE,)
        for mode in modes:

            @settings(FUZZ, max_examples=per_strategy)
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case) -> None:
                response = case.call()
                sent[case.operation.label] += 1
                statuses[response.status_code] += 1
                assert response.status_code < 500, (
                    f"{case.operation.label} answered {response.status_code}: {response.text[:300]}"
                )
                case.validate_response(response)  # status code, content type and body as documented

            try:
                fuzz()
            except Unsatisfiable:
                unsatisfiable.append((operation.label, mode.name))

    # a negative case is impossible when every input is a path segment whose schema is a plain string or
    # an enum of served names: schemathesis cannot make a non-string path; positive cases must always exist
    assert all(mode == "NEGATIVE" for _, mode in unsatisfiable), unsatisfiable
    assert set(sent) == {op.label for op in operations} and len(sent) >= 10, sent
    assert sum(sent.values()) >= TARGET_REQUESTS, sent
    assert not [code for code in statuses if code >= 500], statuses
    # both sides were exercised: answers (2xx) and refusals (4xx)
    assert sum(n for code, n in statuses.items() if code < 300) > 0.1 * sum(sent.values()), statuses
    assert sum(n for code, n in statuses.items() if 400 <= code < 500) > 300
    print(f"schemathesis: {sum(sent.values())} requests over {len(sent)} operations; statuses {dict(sorted(statuses.items()))}")


# ---- the stateful phase: sequences along the schema's links (app/openapi_links.py) ----

STATEFUL_SCENARIOS = int(os.environ.get("CATEMBED_FUZZ_SCENARIOS", "40"))


@pytest.fixture(scope="module")
def open_admin_schema(binary_run):
    """Load and unload allowed without a key, so sequences can change what is served."""
    app = create_app(settings_for(binary_run, allow_admin_without_key=True))
    yield schemathesis.openapi.from_asgi("/openapi.json", app)
    shutdown_lifespans()


def test_stateful_sequences_answer_as_documented_without_5xx(open_admin_schema, binary_run):
    statuses: Counter[int] = Counter()
    followed: Counter[str] = Counter()
    machine = open_admin_schema.as_state_machine()

    class Counted(machine):  # type: ignore[misc, valid-type]
        def after_call(self, response, case) -> None:
            statuses[response.status_code] += 1
            followed[case.operation.label] += 1
            unloaded = response.status_code == 503 and "model_not_ready" in response.text  # a sequence unloaded the model
            assert response.status_code < 500 or unloaded, (
                f"{case.operation.label} answered {response.status_code}: {response.text[:300]}"
            )
            super().after_call(response, case)

    Counted.run(
        settings=settings(
            max_examples=STATEFUL_SCENARIOS,
            stateful_step_count=6,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
            phases=[Phase.generate, Phase.shrink],
        )
    )
    calls = sum(statuses.values())
    assert calls >= STATEFUL_SCENARIOS, statuses
    assert {"POST /v2/repository/models/{name}/load", "POST /v2/repository/models/{name}/unload"} <= set(followed), followed
    assert not [code for code in statuses if code >= 500], statuses
    print(f"schemathesis stateful: {calls} requests in {STATEFUL_SCENARIOS} scenarios; {dict(sorted(statuses.items()))}")


# ---- the Open Inference Protocol's own published REST spec (tests/app/oip/) ----

OIP_SPEC = Path(__file__).parent / "oip" / "open_inference_rest.yaml"
OIP_EXAMPLES = int(os.environ.get("CATEMBED_FUZZ_OIP_EXAMPLES", "25"))


def _published_spec(model: str, version: str) -> dict:
    """The spec as published, with its `${MODEL_NAME}` placeholders as OpenAPI path parameters
    that name the served model, so requests reach it (unknown names are 404s the spec omits)."""
    spec = yaml.safe_load(OIP_SPEC.read_text())
    spec["paths"] = {path.replace("${", "{"): item for path, item in spec["paths"].items()}
    for item in spec["paths"].values():
        for parameter in item.get("parameters", []):
            parameter["schema"] = {"type": "string", "enum": [model if parameter["name"] == "MODEL_NAME" else version]}
    return spec


def test_the_published_open_inference_protocol_spec_holds(schema, binary_run):
    from schemathesis.checks import not_a_server_error
    from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

    published = schemathesis.openapi.from_dict(_published_spec(binary_run.path.parent.name, binary_run.path.name))
    published.app = schema.app  # the app the module's fixture started (its lifespan runs)
    operations = [result.ok() for result in published.get_all_operations()]
    assert len(operations) == 6
    checks = [not_a_server_error, response_schema_conformance, content_type_conformance]
    statuses: Counter[int] = Counter()
    sent: Counter[str] = Counter()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @settings(FUZZ, max_examples=OIP_EXAMPLES)
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case) -> None:
                response = case.call()
                statuses[response.status_code] += 1
                sent[case.operation.label] += 1
                case.validate_response(response, checks=checks)  # answers conform to the spec's response schemas

            try:
                fuzz()
            except Unsatisfiable:
                assert mode == GenerationMode.NEGATIVE, operation.label
    assert set(sent) == {op.label for op in operations}
    assert not [code for code in statuses if code >= 500], statuses
    assert statuses[200] > 0 and statuses[400] > 0, statuses
    print(f"schemathesis OIP spec: {sum(sent.values())} requests over {len(sent)} operations; {dict(sorted(statuses.items()))}")
