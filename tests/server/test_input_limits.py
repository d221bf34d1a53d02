"""JSON nested too deeply is refused with a 422 that names the place and the limit, nothing is
written, and the connection stays usable (a 422 made at the edge from an internal error must not
close it)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from quire.server.json_depth import MAX_JSON_DEPTH, depth_beyond
from tests.conftest import OWNER_KEY, Api
from tests.server.helpers import make_dataset
from tests.server.webhooks.conftest import serve


def nested(levels: int) -> Any:
    value: Any = "leaf"
    for n in range(levels):
        value = {"k": value} if n % 2 else [value]
    return value


def test_depth_counts_containers_and_stops_early() -> None:
    assert depth_beyond("x") is None and depth_beyond({"a": [1, {"b": 2}]}) is None
    assert depth_beyond(nested(MAX_JSON_DEPTH)) is None
    assert depth_beyond(nested(MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1
    assert depth_beyond(nested(100_000)) == MAX_JSON_DEPTH + 1  # iterative: no RecursionError


async def test_values_nested_too_deeply_are_422s_naming_record_and_limit(api: Api) -> None:
    dataset = await make_dataset(api, allow_extra_metadata=True)
    url = f"/api/v1/datasets/{dataset['id']}/records/bulk"

    stored = await api.ok(
        "PUT", url, json={"items": [{"fields": {"text": "x"}, "metadata": {"m": nested(MAX_JSON_DEPTH)}}]}
    )
    assert stored["items"][0]["metadata"]["m"] == nested(MAX_JSON_DEPTH)  # the limit itself is fine

    for levels in (MAX_JSON_DEPTH + 1, 300):
        items = [{"fields": {"text": "ok"}}, {"fields": {"text": "x"}, "metadata": {"deep": nested(levels)}}]
        response = await api.client.put(url, json={"items": items})
        assert response.status_code == 422, response.text
        detail = response.json()["detail"]
        assert "position 1" in detail and "'deep'" in detail and f"at most {MAX_JSON_DEPTH}" in detail
    assert (await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/records"))["total"] == 1

    response = await api.client.patch(
        f"/api/v1/datasets/{dataset['id']}", json={"metadata": {"deep": nested(MAX_JSON_DEPTH + 1)}}
    )
    assert response.status_code == 422, response.text
    assert f"at most {MAX_JSON_DEPTH} are allowed" in response.text
    assert (await api.ok("GET", f"/api/v1/datasets/{dataset['id']}"))["metadata"] is None


async def test_a_custom_field_nested_too_deeply_is_a_422(api: Api) -> None:
    dataset = await make_dataset(api, publish=False)
    await api.ok(
        "POST",
        f"/api/v1/datasets/{dataset['id']}/fields",
        json={
            "name": "card",
            "title": "card",
            "required": False,
            "settings": {"type": "custom", "template": "<b>x</b>"},
        },
    )
    await api.ok("PUT", f"/api/v1/datasets/{dataset['id']}/publish")
    url = f"/api/v1/datasets/{dataset['id']}/records/bulk"
    items = [{"fields": {"text": "x", "card": {"deep": nested(MAX_JSON_DEPTH)}}}]
    response = await api.client.put(url, json={"items": items})
    assert response.status_code == 422, response.text
    assert "custom field 'card'" in response.text and f"at most {MAX_JSON_DEPTH}" in response.text


async def _exchange(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> tuple[int, bytes]:
    """One HTTP/1.1 request and its answer on an open connection: (status, body)."""
    writer.write(request)
    await writer.drain()
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
    lines = head.decode("latin-1").split("\r\n")
    length = next(int(line.split(":", 1)[1]) for line in lines if line.lower().startswith("content-length:"))
    return int(lines[0].split()[1]), await asyncio.wait_for(reader.readexactly(length), 30)


def _request(method: str, path: str, body: bytes = b"") -> bytes:
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: quire.test\r\nX-Argilla-Api-Key: {OWNER_KEY}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


async def test_bodies_beyond_the_parsers_limits_are_422s_on_a_connection_that_stays_open(
    api: Api, app: Any
) -> None:
    """Nesting a JSON parser gives up on, and an integer beyond 64 bits, fail deep inside the
    request; over real HTTP the 422 comes back and the next request on the same connection is
    answered (an error answered by the app's last-resort handler would close it)."""
    dataset = await make_dataset(api, allow_extra_metadata=True)
    path = f"/api/v1/datasets/{dataset['id']}/records/bulk"
    deep = (
        '{"items": [{"fields": {"text": "x"}, "metadata": {"m": ' + '{"a":' * 3000 + "1" + "}" * 3000 + "}}]}"
    )
    huge = '{"items": [{"fields": {"text": "x"}, "metadata": {"extra": [5950828582507054538175228674048]}}]}'
    async with serve(app) as base:
        host, port = base.removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            for body, expected in ((deep, b"too deeply"), (huge, b"64 bits")):
                status, answer = await _exchange(reader, writer, _request("PUT", path, body.encode()))
                assert status == 422 and expected in answer, answer[:500]
                status, answer = await _exchange(
                    reader, writer, _request("GET", f"/api/v1/datasets/{dataset['id']}/records")
                )
                assert status == 200 and json.loads(answer)["total"] == 0
        finally:
            writer.close()
