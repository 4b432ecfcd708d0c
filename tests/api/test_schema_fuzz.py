"""Schemathesis against the real REST door: every operation of /openapi.json is fed
generated requests (valid and invalid, arbitrary Unicode) over a real uvicorn server, and
every response must be no server error and must be described by the OpenAPI document:
its status code, its content type and its body.

The example budget is small and derandomized so the suite stays fast and repeatable;
``make fuzz`` runs the same test with a larger budget (``MEMSVC_FUZZ_EXAMPLES``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from memsvc import build_service
from memsvc.api import create_app
from memsvc.retrieval.embedder import HashEmbedder
from tests.conftest import LiveServer, free_port, make_settings

EXAMPLES = int(os.environ.get("MEMSVC_FUZZ_EXAMPLES", "8"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Shrinking finds the smallest failing request but costs minutes; the suite only needs to
# know that one fails, ``make fuzz`` shrinks.
PHASES = (
    list(Phase)
    if os.environ.get("MEMSVC_FUZZ_SHRINK")
    else [Phase.explicit, Phase.reuse, Phase.generate]
)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One real server for the whole module, with a project the generated ids can hit."""
    port = free_port()
    data = Path(tmp_path_factory.mktemp("fuzz")) / "data"
    cfg = make_settings(data, port=port)
    with (
        build_service(cfg, embedder=HashEmbedder()) as svc,
        LiveServer(create_app(svc, cfg), port) as server,
    ):
        yield server


@pytest.fixture(scope="module")
def api_schema(fuzz_server: LiveServer) -> Any:
    """The server's own OpenAPI document, loaded by schemathesis over HTTP."""
    return schemathesis.openapi.from_url(fuzz_server.url + "/openapi.json")


def _describe(exc: BaseException) -> str:
    """A failure in a few lines: each distinct problem and how to reproduce it."""
    parts = [f"{type(exc).__name__}: {str(exc)[:600]}"]
    if isinstance(exc, BaseExceptionGroup):
        parts += [f"  - {type(e).__name__}: {str(e)[:600]}" for e in exc.exceptions]
    return "\n".join(parts)


def _run(operation: Any, mode: GenerationMode) -> tuple[int, str | None]:
    """Feed one operation ``EXAMPLES`` generated cases; (cases sent, first failure)."""
    sent = 0
    strategy = operation.as_strategy(generation_mode=mode)

    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=PHASES,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def probe(case: Any) -> None:
        nonlocal sent
        sent += 1
        # a loaded CI machine can stall a request for seconds: a timeout is not a finding
        case.call_and_validate(checks=CHECKS, timeout=60)

    try:
        probe()
    except Unsatisfiable:  # nothing to negate (e.g. no parameters): no case to send
        return sent, None
    except (Exception, BaseExceptionGroup) as exc:  # reported with the operation it hit
        return sent, _describe(exc)
    return sent, None


@pytest.mark.slow
def test_every_rest_response_is_documented_and_never_a_server_error(api_schema: Any) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    assert len(operations) > 20, "the OpenAPI document lost its operations"
    failures: list[str] = []
    total = 0
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            sent, failure = _run(operation, mode)
            total += sent
            if failure is not None:
                failures.append(f"{operation.label} [{mode.value}]: {failure}")
    print(f"schemathesis: {len(operations)} operations, {total} cases, {len(failures)} failing")
    assert failures == [], "\n\n".join(failures)


def test_a_write_to_a_malformed_project_id_is_a_client_error(client: httpx.Client) -> None:
    r = client.post("/projects/Bad%20Id!/memories", json={"kind": "fact", "content": "x"})
    assert r.status_code in (404, 422), r.text


def test_every_operation_documents_its_errors_with_the_one_error_body(
    live: tuple[LiveServer, Any],
) -> None:
    server, _ = live
    spec = httpx.get(server.url + "/openapi.json").json()
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    missing = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            wanted = ("403", "413", "500") if path == "/api/v1/ready" else ("401", "404", "422")
            for status in wanted:
                body = op["responses"].get(status, {}).get("content", {})
                ref = body.get("application/json", {}).get("schema", {}).get("$ref", "")
                if not ref.endswith("/ErrorBody"):
                    missing.append(f"{method.upper()} {path} {status}")
    assert missing == []
