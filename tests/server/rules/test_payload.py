"""What receivers get: seed 001's payload, `feedback_stats` (recomputed here from what the test
wrote), the secret query parameter and custom headers, batches, and large values behind signed
URLs — all through a real loopback receiver that verifies every request with `standardwebhooks`."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from tests.conftest import Api
from tests.server.rules.conftest import PUBLIC_URL
from tests.server.rules.helpers import (
    RuleReceiver,
    create_rule,
    rules_dataset,
    texts,
    trigger,
    upsert,
    webhook_secret,
)

RUN_KEYS = {
    "id", "external_id", "status", "fields", "metadata", "responses", "suggestions",
    "inserted_at", "updated_at", "dataset", "fields_urls",
}  # fmt: skip


def expected_stats(records: list[dict[str, Any]], kinds: dict[str, str]) -> dict[str, Any]:
    """feedback_stats by hand: submitted responses only; ratings averaged, labels counted."""
    stats: dict[str, Any] = {}
    for name, kind in kinds.items():
        numbers = [
            r["values"][name]["value"]
            for record in records
            for r in record["responses"]
            if r["status"] == "submitted" and name in (r["values"] or {}) and kind == "rating"
        ]
        labels: Counter[str] = Counter()
        for record in records:
            for r in record["responses"]:
                if r["status"] != "submitted" or name not in (r["values"] or {}):
                    continue
                value = r["values"][name]["value"]
                if kind == "label_selection":
                    labels[value] += 1
                elif kind == "multi_label_selection":
                    labels.update(value)
        stats[name] = {
            "n": len(numbers),
            "avg": sum(numbers) / len(numbers) if numbers else None,
            "show_feedback_arrow": kind == "rating",
            "values": dict(labels),
        }
    return stats


async def test_payload_and_feedback_stats(api: Api, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api)
    other = await api.create_user("annotator", workspace_id=dataset["workspace_id"])
    rule = await create_rule(api, dataset["id"], receiver.url("/ok"), filter="metadata.lang:en")
    receiver.secrets.append(webhook_secret(rule))
    owner = (await api.ok("GET", "/api/v1/me"))["id"]
    answers = [
        ("submitted", {"label": {"value": "pos"}, "topics": {"value": ["a", "b"]}, "rating": {"value": 4}}),
        ("submitted", {"label": {"value": "neg"}, "topics": {"value": ["b"]}, "rating": {"value": 1}}),
        ("draft", {"label": {"value": "neg"}, "rating": {"value": 5}}),
        ("submitted", {"label": {"value": "pos"}, "comment": {"value": "fine"}}),
    ]
    items = texts(4) + texts(2, prefix="es", lang="es")
    for i, (status, values) in enumerate(answers):
        items[i]["responses"] = [{"user_id": owner, "status": status, "values": values}]
    items[0]["responses"].append(
        {
            "user_id": other["id"],
            "status": "submitted",
            "values": {"label": {"value": "neg"}, "rating": {"value": 2}},
        }
    )
    items[1]["suggestions"] = [{"question_name": "label", "value": "pos", "score": 0.9, "agent": "model-a"}]
    written = await upsert(api, dataset["id"], items)
    run = await trigger(api, rule["id"])
    assert (run["changed"], run["matched"], run["sampled"]) == (6, 4, 4)
    (received,) = await receiver.wait_for(1)
    assert received.verified and received.path == "/ok"
    body = received.payload
    assert set(body) == {"rule_id", "start_time", "end_time", "runs", "feedback_stats"}
    assert body["rule_id"] == rule["id"]
    assert body["start_time"].endswith("+00:00") and body["end_time"].endswith("+00:00")
    assert body["start_time"][:26] == run["start_time"] and body["end_time"][:26] == run["end_time"]
    by_id = {r["id"]: r for r in body["runs"]}
    english = [r for r in written if r["metadata"]["lang"] == "en"]
    assert set(by_id) == {r["id"] for r in english}
    for record in english:
        sent = by_id[record["id"]]
        assert set(sent) == RUN_KEYS
        assert sent["dataset"] == {"id": dataset["id"], "name": dataset["name"]}
        assert (sent["external_id"], sent["fields"], sent["metadata"]) == (
            record["external_id"], record["fields"], record["metadata"],
        )  # fmt: skip
        assert sent["fields_urls"] is None
        for response in sent["responses"]:
            assert set(response) == {"values", "status", "user", "inserted_at", "updated_at"}
            assert set(response["user"]) == {"id", "username"}
    first = by_id[english[0]["id"]]
    assert sorted((r["user"]["id"], r["status"]) for r in first["responses"]) == sorted(
        [(owner, "submitted"), (other["id"], "submitted")]
    )
    assert first["status"] == "completed"
    assert by_id[english[1]["id"]]["suggestions"] == [
        {"question": "label", "value": "pos", "score": 0.9, "agent": "model-a", "type": None}
    ]
    kinds = {
        "label": "label_selection",
        "topics": "multi_label_selection",
        "rating": "rating",
        "comment": "text",
    }
    assert body["feedback_stats"] == expected_stats(body["runs"], kinds)
    assert body["feedback_stats"]["rating"] == {
        "n": 3,
        "avg": 7 / 3,
        "show_feedback_arrow": True,
        "values": {},
    }
    assert body["feedback_stats"]["label"]["values"] == {"pos": 2, "neg": 2}
    assert body["feedback_stats"]["topics"]["values"] == {"a": 1, "b": 2}
    logs = (await api.ok("GET", f"/api/v1/rules/{rule['id']}/logs"))["items"]
    assert logs[0]["actions"][0]["delivered"] + logs[0]["actions"][0]["pending"] == 1


async def test_secret_query_parameter_and_custom_headers_arrive(api: Api, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api)
    url = receiver.url("/langsmith_webhook?secret=38ee77617c3a489ab6e871fbeb2ec87d&x=1")
    rule = await create_rule(
        api,
        dataset["id"],
        actions=[{"type": "webhook", "url": url, "headers": {"Authorization": "Bearer t0k", "X-Team": "ml"}}],
    )
    receiver.secrets.append(webhook_secret(rule))
    await upsert(api, dataset["id"], texts(2))
    await trigger(api, rule["id"])
    (received,) = await receiver.wait_for(1)
    assert received.verified and received.path == "/langsmith_webhook"
    assert receiver.queries[received.msg_id] == "secret=38ee77617c3a489ab6e871fbeb2ec87d&x=1"
    assert received.headers["authorization"] == "Bearer t0k" and received.headers["x-team"] == "ml"
    assert received.headers["content-type"] == "application/json"


@pytest.mark.rule_settings(rules_max_runs_per_batch=3)
async def test_batches_split_with_the_same_window(api: Api, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api)
    rule = await create_rule(api, dataset["id"], receiver.url("/ok"))
    receiver.secrets.append(webhook_secret(rule))
    written = await upsert(api, dataset["id"], texts(8))
    run = await trigger(api, rule["id"])
    assert run["actions"][0]["batches"] == 3 and run["actions"][0]["runs"] == 8
    await receiver.wait_for(3)
    bodies = receiver.payloads()
    assert sorted(len(b["runs"]) for b in bodies) == [2, 3, 3]
    assert {(b["start_time"], b["end_time"]) for b in bodies} == {
        (bodies[0]["start_time"], bodies[0]["end_time"])
    }
    assert sorted(r["id"] for b in bodies for r in b["runs"]) == sorted(r["id"] for r in written)
    for b in bodies:  # each batch's stats are its own
        assert set(b["feedback_stats"]) == {"label", "topics", "rating", "comment"}


def _path(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def _with(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return f"{parts.path}?{urlencode(query)}"


@pytest.mark.rule_settings(rules_inline_limit_bytes=1000, rules_url_ttl_seconds=3)
async def test_large_values_behind_signed_urls(api: Api, receiver: RuleReceiver) -> None:
    dataset = await rules_dataset(api, fields=("text", "context"))
    rule = await create_rule(api, dataset["id"], receiver.url("/ok"))
    receiver.secrets.append(webhook_secret(rule))
    big, medium = "x" * 3000, "y" * 600
    written = await upsert(
        api,
        dataset["id"],
        [
            {"external_id": "big", "fields": {"text": big, "context": "small"}},
            {"external_id": "wide", "fields": {"text": medium, "context": medium}},
            {"external_id": "small", "fields": {"text": "tiny"}},
        ],
    )
    ids = {r["external_id"]: r["id"] for r in written}
    await trigger(api, rule["id"])
    (received,) = await receiver.wait_for(1)
    runs = {r["external_id"]: r for r in received.payload["runs"]}
    assert runs["small"]["fields_urls"] is None and runs["small"]["fields"] == {"text": "tiny"}
    assert runs["big"]["fields"] == {"text": None, "context": "small"}
    assert set(runs["big"]["fields_urls"]) == {"text"}
    field_url = runs["big"]["fields_urls"]["text"]["presigned_url"]
    assert field_url.startswith(f"{PUBLIC_URL}/api/v1/rules/{rule['id']}/values/{ids['big']}/text?")
    # the whole record is over the limit although no field is: ROOT
    wide = runs["wide"]
    assert wide["fields"] is None and wide["metadata"] is None and wide["responses"] is None
    assert set(wide["fields_urls"]) == {"ROOT"}
    root_url = wide["fields_urls"]["ROOT"]["presigned_url"]

    async with httpx.AsyncClient(transport=api.client._transport, base_url=PUBLIC_URL) as anonymous:
        response = await anonymous.get(_path(field_url))
        assert response.status_code == 200 and response.json() == big
        response = await anonymous.get(_path(root_url))
        assert response.status_code == 200
        whole = response.json()
        assert whole["fields"] == {"text": medium, "context": medium} and whole["id"] == ids["wide"]
        assert whole["external_id"] == "wide" and whole["fields_urls"] is None
        # tampering: any part of the URL
        signature = dict(parse_qsl(urlsplit(field_url).query))["signature"]
        forged = ("A" if signature[0] != "A" else "B") + signature[1:]
        for tampered in (
            _with(field_url, signature=forged),
            _with(field_url, digest="0" * 32),
            _with(field_url, expires=str(int(dict(parse_qsl(urlsplit(field_url).query))["expires"]) + 3600)),
            _path(field_url).replace("/text?", "/context?"),
            _path(field_url).replace(ids["big"], ids["small"]),
        ):
            response = await anonymous.get(tampered)
            assert response.status_code == 403, tampered
            assert response.json()["detail"]["code"] == "argilla.api.errors::ForbiddenOperationError"
        # the value changed since: gone
        await upsert(
            api, dataset["id"], [{"external_id": "big", "fields": {"text": big + "!", "context": "small"}}]
        )
        assert (await anonymous.get(_path(field_url))).status_code == 410
        # expiry
        await asyncio.sleep(3.2)
        response = await anonymous.get(_path(root_url))
        assert response.status_code == 403 and "expired" in response.text


async def test_signing_key_is_shared_through_the_database(
    api: Api, receiver: RuleReceiver, settings: Any
) -> None:
    """A URL signed by one app verifies on another app over the same database (another process)."""
    from quire.server.app import create_app

    dataset = await rules_dataset(api)
    rule = await create_rule(
        api, dataset["id"], receiver.url("/ok"), actions=[{"type": "webhook", "url": receiver.url("/ok")}]
    )
    receiver.secrets.append(webhook_secret(rule))
    await upsert(api, dataset["id"], [{"external_id": "a", "fields": {"text": "z" * 70_000}}])
    await trigger(api, rule["id"])
    (received,) = await receiver.wait_for(1)
    url = received.payload["runs"][0]["fields_urls"]["text"]["presigned_url"]
    other = create_app(settings.model_copy(update={"delivery_enabled": False}))
    async with other.router.lifespan_context(other):
        transport = httpx.ASGITransport(app=other)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            response = await client.get(_path(url))
    assert response.status_code == 200 and len(response.json()) == 70_000
    assert uuid.UUID(received.payload["runs"][0]["id"])
