"""schemathesis against a real hub's /openapi.json: no input makes the API answer 5xx (issue 11).

Every operation gets a bounded number of generated requests, valid (positive) and invalid
(negative), as an admin and as a family member, against a real hub (uvicorn, lifespan, SQLite and
the embedded broker). Only server errors are checked here; undocumented status codes and response
shapes are a later issue. Server errors are collected over all operations, so one run reports
them all. `CARE_HUB_FUZZ_EXAMPLES` raises the number of examples for a longer local run.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import hypothesis
import pytest
import schemathesis
from hypothesis import HealthCheck, given
from schemathesis import GenerationMode

from tests.conftest import HubServer, demo_seed, make_backend, prepare_database

# Per operation and generation mode: ~40 operations x 2 modes x 15 examples x 2 users stays well
# under two minutes on the 2-core CI machine.
EXAMPLES = int(os.environ.get("CARE_HUB_FUZZ_EXAMPLES", "15"))
FAMILY_EXAMPLES = max(1, EXAMPLES // 2)
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@pytest.fixture(scope="module")
def fuzz_hub(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[HubServer]:
    backend = make_backend("embedded", tmp_path_factory.mktemp("fuzz"), request)
    prepare_database(backend, demo_seed("fz-"))
    server = HubServer(backend).start()
    yield server
    server.stop()


def _fuzz_operation(
    server: HubServer,
    headers: dict[str, str],
    operation: Any,
    mode: GenerationMode,
    examples: int,
    found: dict[str, str],
) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @hypothesis.settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate],
    )
    def run(case: Any) -> None:
        response = case.call(base_url=server.base_url, headers=headers, timeout=30)
        if response.status_code >= 500 and operation.label not in found:
            found[operation.label] = (
                f"{operation.label} -> {response.status_code}\n"
                f"  {case.as_curl_command(headers=headers)}\n"
                f"  {response.text[:300]}"
            )

    # Unsatisfiable: nothing invalid to send (e.g. an operation without parameters, negative mode).
    with contextlib.suppress(hypothesis.errors.Unsatisfiable):
        run()


def _server_errors(server: HubServer, token: str, examples: int) -> list[str]:
    schema = schemathesis.openapi.from_url(f"{server.base_url}/openapi.json")
    headers = {"Authorization": f"Bearer {token}"}
    found: dict[str, str] = {}
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert operations, "the schema lists no operations"
    for operation in operations:
        for mode in MODES:
            _fuzz_operation(server, headers, operation, mode, examples, found)
    return list(found.values())


def test_no_server_error_as_admin(fuzz_hub: HubServer) -> None:
    errors = _server_errors(fuzz_hub, fuzz_hub.token("admin"), EXAMPLES)
    assert not errors, "server errors:\n" + "\n".join(errors)


def test_no_server_error_as_family(fuzz_hub: HubServer) -> None:
    errors = _server_errors(fuzz_hub, fuzz_hub.token("family"), FAMILY_EXAMPLES)
    assert not errors, "server errors:\n" + "\n".join(errors)
