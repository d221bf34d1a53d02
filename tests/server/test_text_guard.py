"""NUL characters (U+0000) and unpaired surrogates are refused with a 422 on both stores (PostgreSQL
cannot store them, and the JSON encoder refuses surrogates)."""

from __future__ import annotations

import json

import pytest

from quire.server.text_guard import lone_surrogate_at, nul_escape_at
from tests.conftest import Api
from tests.server.helpers import make_dataset


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ({"a": "x\x00y"}, 8),
        ({"a": "x\\u0000y"}, None),  # a backslash, then the text "u0000"
        ({"a": "x\\\x00"}, 10),  # a backslash, then NUL
        ({"a": "plain"}, None),
    ],
)
def test_the_escape_is_found_only_when_it_is_one(document: dict[str, str], expected: int | None) -> None:
    raw = json.dumps(document).encode()
    assert nul_escape_at(raw) == expected, raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (rb'{"a": "x\ud83d\ude00y"}', None),  # a pair: one character (U+1F600)
        (rb'{"a": "x\uD83D\uDE00y"}', None),
        (rb'{"a": "x\ud800y"}', 8),  # high alone
        (rb'{"a": "x\ud800"}', 8),  # high at the end of the text
        (rb'{"a": "x\udc00y"}', 8),  # low alone
        (rb'{"a": "\ud800\ud800\udc00"}', 7),  # a high, then a pair
        (rb'{"a": "\ud800", "b": "\udc00"}', 7),  # halves in different strings
        (rb'{"a": "x\\ud800y"}', None),  # an escaped backslash, then the text "ud800"
        (rb'{"a": "\ud83d\\ude00"}', 7),  # the low half is text, not an escape
        (rb'{"a": "plain"}', None),
    ],
)
def test_unpaired_surrogates_are_found(raw: bytes, expected: int | None) -> None:
    assert lone_surrogate_at(raw) == expected, raw


async def test_an_unpaired_surrogate_is_a_422_and_nothing_is_written(api: Api) -> None:
    dataset = await make_dataset(api)
    url = f"/api/v1/datasets/{dataset['id']}/records/bulk"
    for text in ("x\\ud800y", "x\\udfff"):
        body = '{"items": [{"fields": {"text": "fine"}}, {"fields": {"text": "' + text + '"}}]}'
        response = await api.client.put(url, content=body, headers={"content-type": "application/json"})
        assert response.status_code == 422, response.text
        assert "unpaired surrogate" in response.text
    assert (await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/records"))["total"] == 0
    body = '{"items": [{"fields": {"text": "smile \\ud83d\\ude00"}}]}'
    stored = await api.ok("PUT", url, content=body, headers={"content-type": "application/json"})
    assert stored["items"][0]["fields"]["text"] == "smile \U0001f600"


async def test_nul_in_a_body_is_a_422_and_nothing_is_written(api: Api) -> None:
    workspace = await api.default_workspace()
    response = await api.client.post(
        "/api/v1/datasets", json={"name": "a\x00b", "workspace_id": workspace["id"]}
    )
    assert response.status_code == 422, response.text
    assert "NUL character" in response.text
    listed = await api.ok("GET", "/api/v1/me/datasets")
    assert all("\x00" not in d["name"] for d in listed["items"])

    dataset = await make_dataset(api)
    url = f"/api/v1/datasets/{dataset['id']}/records/bulk"
    items = [{"fields": {"text": "fine"}}, {"fields": {"text": "bad \x00 text"}}]
    response = await api.client.put(url, json={"items": items})
    assert response.status_code == 422, response.text
    records = await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/records")
    assert records["total"] == 0

    # The text "\u0000" (a backslash and five characters) is ordinary text.
    stored = await api.ok("PUT", url, json={"items": [{"fields": {"text": "literal \\u0000"}}]})
    assert stored["items"][0]["fields"]["text"] == "literal \\u0000"


async def test_nul_in_the_query_string_is_a_422(api: Api) -> None:
    response = await api.client.get("/api/v1/me/datasets?name=a%00b")
    assert response.status_code == 422, response.text
    assert "NUL character" in response.text


async def test_an_integer_beyond_64_bits_is_a_422_and_nothing_is_written(api: Api) -> None:
    huge = 5950828582507054538175228674048
    dataset = await make_dataset(api)
    response = await api.client.patch(f"/api/v1/datasets/{dataset['id']}", json={"metadata": {"n": huge}})
    assert response.status_code == 422, response.text
    assert "64 bits" in response.text
    assert (await api.ok("GET", f"/api/v1/datasets/{dataset['id']}"))["metadata"] != {"n": huge}

    url = f"/api/v1/datasets/{dataset['id']}/records/bulk"
    response = await api.client.put(
        url, json={"items": [{"fields": {"text": "x"}, "metadata": {"extra": [huge]}}]}
    )
    assert response.status_code == 422, response.text
    assert (await api.ok("GET", f"/api/v1/datasets/{dataset['id']}/records"))["total"] == 0
