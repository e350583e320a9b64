"""schemathesis against a real hub: the alerts, auth, system and family-portal operations answer
only status codes their OpenAPI entry documents, with bodies that match the documented schema
(issue 14; tests/test_api_fuzz.py checks every operation for server errors only).

Bounded like test_api_fuzz: positive and negative cases, as an admin, a caregiver and a family
member. `CARE_HUB_FUZZ_EXAMPLES` raises the number of examples for a longer local run.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode
from schemathesis.checks import (
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import HubServer, demo_seed, make_backend, prepare_database

EXAMPLES = int(os.environ.get("CARE_HUB_FUZZ_EXAMPLES", "10"))
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)
CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance]
# The operations of care_hub/api/{alerts,auth,system}.py and family_portal/views.py.
OWNED = re.compile(
    r"^/(metrics|api/(health|metrics|me|auth/.*|alerts.*|coverage.*|reports/.*|users/\{[^}]+\})"
    r"|api/residents/\{[^}]+\}/(trail|vitals|summary|fhir))$"
)
# PATCH /api/users/{user_id} is auth.py's; the rest of /api/users is provisioning's.
OWNED_METHODS = {"/api/users/{user_id}": {"PATCH"}}


@pytest.fixture(scope="module")
def conformance_hub(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[HubServer]:
    backend = make_backend("embedded", tmp_path_factory.mktemp("conformance"), request)
    prepare_database(backend, demo_seed("cf-"))
    server = HubServer(backend).start()
    yield server
    server.stop()


def _owned(operation: Any) -> bool:
    path, method = operation.path, operation.method.upper()
    return bool(OWNED.match(path)) and method in OWNED_METHODS.get(path, {method})


def _check_operation(
    server: HubServer, headers: dict[str, str], operation: Any, mode: GenerationMode, found: dict
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def run(case: Any) -> None:
        response = case.call(base_url=server.base_url, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as exc:  # schemathesis raises its failure groups
            key = operation.label
            if key not in found:
                found[key] = f"{key} -> {response.status_code}: {str(exc)[:600]}"

    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()


@pytest.mark.parametrize("user", ["admin", "nurse", "family"])
def test_owned_operations_conform_to_their_schema(conformance_hub: HubServer, user: str) -> None:
    schema = schemathesis.openapi.from_url(f"{conformance_hub.base_url}/openapi.json")
    operations = [r.ok() for r in schema.get_all_operations()]  # type: ignore[union-attr]
    owned = [op for op in operations if _owned(op)]
    assert len(owned) >= 20, [op.label for op in owned]
    headers = {"Authorization": f"Bearer {conformance_hub.token(user)}"}
    found: dict[str, str] = {}
    for operation in owned:
        for mode in MODES:
            _check_operation(conformance_hub, headers, operation, mode, found)
    assert not found, "\n\n".join(found.values())
