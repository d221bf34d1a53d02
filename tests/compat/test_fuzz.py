"""API fuzzing: schemathesis generates requests from quire's own OpenAPI document — valid ones and
deliberately invalid ones — and sends them to a live `quire server` of its own, on SQLite and on
PostgreSQL. No request may get a 5xx, and the server may not log an unhandled exception.

Most generated path ids match nothing (404) and most invalid bodies stop at validation (422); a
real dataset, record and webhook are created first and their ids are offered to the generator
too, so the handlers past those checks are exercised as well.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable

from tests.compat.conftest import LiveServer, live_server, no_server_errors
from tests.conftest import BACKENDS

pytestmark = pytest.mark.slow

# Never fuzzed: the event stream never ends (its filters are tested in tests/server/webhooks).
EXCLUDED = {("GET", "/api/v1/events/stream")}
# CI runs a fixed corpus (derandomized: the same requests every run, so a failure reproduces);
# `QUIRE_FUZZ_RANDOM=1` explores new requests each run, `QUIRE_FUZZ_EXAMPLES` sets how many.
RANDOM = os.environ.get("QUIRE_FUZZ_RANDOM") == "1"
EXAMPLES_PER_OPERATION = int(os.environ.get("QUIRE_FUZZ_EXAMPLES", "10"))
REQUEST_TIMEOUT_SECONDS = 30.0


def _seed(server: LiveServer) -> dict[str, str]:
    """A workspace, a published dataset with a record, and a webhook: real ids for path params."""
    headers = {"X-Argilla-Api-Key": server.api_key}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:

        def ok(method: str, url: str, **kwargs: Any) -> Any:
            response = http.request(method, url, **kwargs)
            assert response.status_code < 300, f"{method} {url}: {response.status_code} {response.text}"
            return response.json() if response.content else None

        workspace = ok("POST", "/api/v1/workspaces", json={"name": f"fuzz-{uuid.uuid4().hex[:8]}"})
        dataset = ok("POST", "/api/v1/datasets", json={"name": "fuzz", "workspace_id": workspace["id"]})
        base = f"/api/v1/datasets/{dataset['id']}"
        field = ok(
            "POST", f"{base}/fields", json={"name": "text", "title": "Text", "settings": {"type": "text"}}
        )
        question = ok(
            "POST",
            f"{base}/questions",
            json={"name": "label", "title": "Label", "settings": {"type": "label_selection",
                  "options": [{"value": "a", "text": "A"}, {"value": "b", "text": "B"}]}},
        )  # fmt: skip
        ok("PUT", f"{base}/publish")
        records = ok(
            "PUT", f"{base}/records/bulk", json={"items": [{"fields": {"text": "hello"}, "external_id": "x"}]}
        )
        webhook = ok(
            "POST", "/api/v1/webhooks", json={"url": "http://127.0.0.1:9/hook", "events": ["dataset.deleted"]}
        )
        # not the owner's id: the fuzzer would demote or delete the owner the next seeding needs
        user = ok(
            "POST",
            "/api/v1/users",
            json={
                "username": f"fuzz-{uuid.uuid4().hex[:8]}",
                "first_name": "F",
                "role": "annotator",
                "password": "fuzz-pass-1",
            },
        )
    return {
        "workspace_id": workspace["id"],
        "dataset_id": dataset["id"],
        "field_id": field["id"],
        "question_id": question["id"],
        "record_id": records["items"][0]["id"],
        "webhook_id": webhook["id"],
        "user_id": user["id"],
    }


def _with_known_ids(strategy: st.SearchStrategy[Any], known: dict[str, str]) -> st.SearchStrategy[Any]:
    """Half of the cases get the seeded ids for the path parameters they have."""

    def patch(case: Any, use_known: bool) -> Any:
        if use_known and case.path_parameters:
            for name in list(case.path_parameters):
                if name in known:
                    case.path_parameters[name] = known[name]
                elif name == "id":
                    path = case.operation.path
                    for key in ("webhook", "record", "dataset", "workspace", "field", "question", "user"):
                        if f"/{key}s/" in path:
                            case.path_parameters[name] = known[f"{key}_id"]
                            break
        return case

    return st.builds(patch, strategy, st.booleans())


@pytest.fixture(scope="module", params=BACKENDS)
def fuzzed_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A server of its own: the fuzzer creates workspaces and users with names the argilla SDK
    refuses to read back (Argilla's server accepts them too), which would trip the other compat
    tests listing them on the shared server."""
    backend = str(request.param)
    with live_server(backend, tmp_path_factory.mktemp(f"quire-fuzz-{backend}")) as server:
        yield server


@pytest.fixture(autouse=True)
def server_errors_fail_the_test(fuzzed_server: LiveServer) -> Iterator[None]:
    """The compat suite's check, on this module's own server instead of the shared one."""
    with no_server_errors(fuzzed_server):
        yield


@pytest.mark.parametrize("mode", [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE])
def test_no_request_gets_a_server_error(fuzzed_server: LiveServer, mode: schemathesis.GenerationMode) -> None:
    quire_server = fuzzed_server
    known = _seed(quire_server)
    schema = schemathesis.openapi.from_url(f"{quire_server.url}/api/v1/openapi.json")
    headers = {"X-Argilla-Api-Key": quire_server.api_key}
    failures: list[str] = []
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        if (operation.method.upper(), operation.path) in EXCLUDED:
            continue
        operations += 1
        strategy = _with_known_ids(operation.as_strategy(generation_mode=mode), known)

        @settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=not RANDOM,
            deadline=None,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def check(case: Any) -> None:
            try:
                response = case.call(
                    base_url=quire_server.url, headers=headers, timeout=REQUEST_TIMEOUT_SECONDS
                )
            except Exception as exc:  # a reset connection or a timeout is a server failure too
                failures.append(f"{case.operation.label}: {type(exc).__name__}: {exc}")
                return
            if response.status_code >= 500:
                failures.append(
                    f"{case.operation.label} -> {response.status_code}: {response.text[:300]}\n"
                    f"    {case.as_curl_command()}"
                )

        try:
            check()
        except Unsatisfiable:  # negative mode: nothing of this operation can be made invalid
            assert mode == schemathesis.GenerationMode.NEGATIVE, operation.label
        quire_server.fail_if_dead()
    assert operations > 50, f"only {operations} operations in the OpenAPI document"
    assert not failures, f"{len(failures)} requests got a server error:\n" + "\n".join(failures[:20])
