"""Which action emits which event, with seed 000's data shapes, written in the same transaction.

Events are read back from the outbox (the stored body a webhook would get); delivery itself is
tested in tests/server/delivery.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from sqlalchemy import func, select

from quire.server.db import Database, json_dumps
from quire.server.delivery.policies import ARGILLA
from quire.server.delivery.signing import generate_secret
from quire.server.events.assemble import assemble, load_bodies, render
from quire.server.events.catalog import EVENT_TYPES
from quire.server.models import Delivery, Event, Webhook
from tests.conftest import Api
from tests.server.helpers import make_dataset, question_ids

DATASET_KEYS = {
    "id", "name", "guidelines", "allow_extra_metadata", "status", "distribution", "workspace", "questions",
    "fields", "metadata_properties", "vectors_settings", "last_activity_at", "inserted_at", "updated_at",
}  # fmt: skip
RECORD_KEYS = {"id", "status", "fields", "metadata", "external_id", "dataset", "inserted_at", "updated_at"}
RESPONSE_KEYS = {"id", "values", "status", "record", "user", "inserted_at", "updated_at"}
USER_KEYS = {"id", "first_name", "last_name", "username", "role", "inserted_at", "updated_at"}


class Outbox:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.seen = 0

    async def subscribe(self, events: list[str] | None = None, **scope: Any) -> uuid.UUID:
        async with self.database.transaction() as session:
            webhook = Webhook(
                url="http://127.0.0.1:9/never", secret=generate_secret(), events=events or list(EVENT_TYPES),
                enabled=True, policy=ARGILLA.model_dump(), **scope,
            )  # fmt: skip
            session.add(webhook)
            await session.flush()
            return webhook.id

    async def new(self) -> list[dict[str, Any]]:
        """Bodies of the events stored since the last call, in order."""
        async with self.database.session(write=False) as session:
            ids = list(await session.scalars(select(Event.id).where(Event.id > self.seen).order_by(Event.id)))
            bodies = await load_bodies(session, ids)
        if ids:
            self.seen = ids[-1]
        return [orjson.loads(bodies[i]) for i in ids]

    async def types(self) -> list[str]:
        return [body["type"] for body in await self.new()]

    async def count(self, model: Any) -> int:
        async with self.database.session(write=False) as session:
            return int(await session.scalar(select(func.count()).select_from(model)) or 0)


@pytest.fixture
async def outbox(database: Database) -> AsyncIterator[Outbox]:
    yield Outbox(database)


async def _bulk(api: Api, dataset: dict[str, Any], items: list[dict[str, Any]], status: int = 200) -> Any:
    return await api.ok(
        "PUT", f"/api/v1/datasets/{dataset['id']}/records/bulk", json={"items": items}, status=status
    )


async def test_nothing_is_stored_when_nobody_listens(api: Api, outbox: Outbox) -> None:
    dataset = await make_dataset(api)
    await _bulk(api, dataset, [{"fields": {"text": "a"}}])
    assert await outbox.count(Event) == 0 and await outbox.count(Delivery) == 0


async def test_dataset_lifecycle_events_have_seed_shape(api: Api, outbox: Outbox) -> None:
    await outbox.subscribe()
    dataset = await make_dataset(api, vectors={"emb": 2})
    bodies = await outbox.new()
    types = [b["type"] for b in bodies]
    assert types[0] == "dataset.created" and types[-1] == "dataset.published"
    assert set(types[1:-1]) == {"dataset.updated"}  # PATCH and every setting added
    created, published = bodies[0], bodies[-1]
    assert created["version"] == 1 and created["timestamp"].endswith("Z") and len(created["timestamp"]) == 27
    assert set(created["data"]) == DATASET_KEYS
    assert created["data"]["status"] == "draft" and created["data"]["questions"] == []
    assert set(created["data"]["workspace"]) == {"id", "name", "inserted_at", "updated_at"}
    data = published["data"]
    assert data["status"] == "ready" and data["id"] == dataset["id"]
    assert set(data["questions"][0]) == {
        "id",
        "name",
        "title",
        "description",
        "required",
        "settings",
        "inserted_at",
        "updated_at",
    }
    assert set(data["fields"][0]) == {
        "id",
        "name",
        "title",
        "required",
        "settings",
        "inserted_at",
        "updated_at",
    }
    assert set(data["metadata_properties"][0]) == {
        "id", "name", "title", "settings", "visible_for_annotators", "inserted_at", "updated_at"
    }  # fmt: skip
    assert set(data["vectors_settings"][0]) == {
        "id",
        "name",
        "title",
        "dimensions",
        "inserted_at",
        "updated_at",
    }

    await api.ok("DELETE", f"/api/v1/datasets/{dataset['id']}")
    [deleted] = await outbox.new()
    assert deleted["type"] == "dataset.deleted"
    assert deleted["data"]["id"] == dataset["id"] and len(deleted["data"]["questions"]) == len(
        data["questions"]
    )


async def test_bulk_upsert_emits_one_event_per_record_and_response(api: Api, outbox: Outbox) -> None:
    dataset = await make_dataset(api)
    me = await api.ok("GET", "/api/v1/me")
    await outbox.subscribe()
    submitted = {"user_id": me["id"], "status": "submitted", "values": {"label": {"value": "pos"}}}
    result = await _bulk(
        api,
        dataset,
        [
            {"external_id": "a", "fields": {"text": "a"}},
            {"external_id": "b", "fields": {"text": "b"}, "responses": [submitted]},
        ],
    )
    bodies = await outbox.new()
    by_type: dict[str, list[dict[str, Any]]] = {}
    for body in bodies:
        by_type.setdefault(body["type"], []).append(body["data"])
    assert sorted(r["external_id"] for r in by_type["record.created"]) == ["a", "b"]
    [completed] = by_type["record.completed"]
    assert completed["external_id"] == "b" and completed["status"] == "completed"
    [response] = by_type["response.created"]
    assert set(response) == RESPONSE_KEYS and set(response["user"]) == USER_KEYS
    assert set(response["record"]) == RECORD_KEYS and response["record"]["dataset"]["id"] == dataset["id"]
    assert response["values"] == {"label": {"value": "pos"}}
    record = by_type["record.created"][0]
    assert set(record) == RECORD_KEYS and set(record["dataset"]) == DATASET_KEYS

    # upserting again: record.updated for existing records, response.updated, no second completed
    record_b = next(r for r in result["items"] if r["external_id"] == "b")
    await _bulk(
        api,
        dataset,
        [{"id": record_b["id"], "responses": [submitted]}, {"external_id": "c", "fields": {"text": "c"}}],
    )
    types = sorted(await outbox.types())
    assert types == ["record.created", "record.updated", "response.updated"]


async def test_record_completed_fires_on_the_transition_only(api: Api, outbox: Outbox) -> None:
    dataset = await make_dataset(api)
    [record] = (await _bulk(api, dataset, [{"fields": {"text": "x"}}]))["items"]
    annotator = await api.create_user("annotator", workspace_id=dataset["workspace_id"])
    await outbox.subscribe()
    body = {"status": "submitted", "values": {"label": {"value": "pos"}}}
    mine = await api.ok("POST", f"/api/v1/records/{record['id']}/responses", json=body)
    assert await outbox.types() == ["record.updated", "record.completed", "response.created"]
    theirs = await api.as_user(annotator["api_key"]).post(
        f"/api/v1/records/{record['id']}/responses", json=body
    )
    assert theirs.status_code == 201
    assert await outbox.types() == ["response.created"]  # already completed: no second record.completed
    await api.ok("PUT", f"/api/v1/responses/{mine['id']}", json={"status": "discarded"})
    assert await outbox.types() == ["response.updated"]  # still one submitted response
    await api.ok("DELETE", f"/api/v1/responses/{theirs.json()['id']}")
    bodies = await outbox.new()
    assert [b["type"] for b in bodies] == ["record.updated", "response.deleted"]
    assert bodies[0]["data"]["status"] == "pending"
    assert bodies[1]["data"]["id"] == theirs.json()["id"]  # as it was


async def test_record_update_and_delete_events(api: Api, outbox: Outbox) -> None:
    dataset = await make_dataset(api)
    q = await question_ids(api, dataset["id"])
    items = (await _bulk(api, dataset, [{"fields": {"text": str(i)}} for i in range(3)]))["items"]
    await outbox.subscribe()
    await api.ok("PATCH", f"/api/v1/records/{items[0]['id']}", json={"metadata": {"lang": "en"}})
    [patched] = await outbox.new()
    assert patched["type"] == "record.updated" and patched["data"]["metadata"] == {"lang": "en"}
    await api.ok(
        "PUT",
        f"/api/v1/records/{items[0]['id']}/suggestions",
        json={"question_id": q["label"], "value": "pos"},
        status=201,
    )
    assert await outbox.types() == ["record.updated"]
    await api.ok(
        "DELETE",
        f"/api/v1/datasets/{dataset['id']}/records?ids={items[1]['id']},{items[2]['id']}",
        status=204,
    )
    deleted = await outbox.new()
    assert [d["type"] for d in deleted] == ["record.deleted", "record.deleted"]
    assert {d["data"]["fields"]["text"] for d in deleted} == {"1", "2"}  # the records as they were
    await api.ok("DELETE", f"/api/v1/records/{items[0]['id']}")
    assert await outbox.types() == ["record.deleted"]


async def test_subscriptions_filter_types_and_scope(api: Api, outbox: Outbox) -> None:
    watched = await make_dataset(api)
    other = await make_dataset(api)
    hook = await outbox.subscribe(["record.created"], dataset_id=uuid.UUID(watched["id"]))
    await _bulk(api, watched, [{"fields": {"text": "w"}}])
    await _bulk(api, other, [{"fields": {"text": "o"}}])
    await api.ok("PATCH", f"/api/v1/datasets/{watched['id']}", json={"guidelines": "g"})
    bodies = await outbox.new()
    assert [(b["type"], b["data"]["fields"]["text"]) for b in bodies] == [("record.created", "w")]
    async with outbox.database.session(write=False) as session:
        deliveries = list(await session.scalars(select(Delivery)))
    # (the app's dispatcher may already be trying to send it: the status is not checked here)
    assert [(d.webhook_id, d.event_type) for d in deliveries] == [(hook, "record.created")]
    assert deliveries[0].msg_id.startswith("msg_")


async def test_a_rejected_batch_leaves_no_event(api: Api, outbox: Outbox) -> None:
    dataset = await make_dataset(api)
    await outbox.subscribe()
    await _bulk(api, dataset, [{"fields": {"text": "ok"}}, {"fields": {"nope": "x"}}], status=422)
    assert await outbox.new() == []


# The key tree of each `data` in seed 000 (every key of every nested object; lists by their items).
WORKSPACE_SHAPE: dict[str, Any] = {"id": None, "name": None, "inserted_at": None, "updated_at": None}
DATASET_SHAPE: dict[str, Any] = {
    "id": None, "name": None, "guidelines": None, "allow_extra_metadata": None, "status": None,
    "distribution": {"strategy": None, "min_submitted": None},
    "workspace": WORKSPACE_SHAPE,
    "questions": [{
        "id": None, "name": None, "title": None, "description": None, "required": None, "settings": ...,
        "inserted_at": None, "updated_at": None,
    }],
    "fields": [{
        "id": None, "name": None, "title": None, "required": None, "settings": ..., "inserted_at": None,
        "updated_at": None,
    }],
    "metadata_properties": [{
        "id": None, "name": None, "title": None, "settings": ..., "visible_for_annotators": None,
        "inserted_at": None, "updated_at": None,
    }],
    "vectors_settings": [{
        "id": None, "name": None, "title": None, "dimensions": None, "inserted_at": None, "updated_at": None,
    }],
    "last_activity_at": None, "inserted_at": None, "updated_at": None,
}  # fmt: skip
RECORD_SHAPE: dict[str, Any] = {
    "id": None, "status": None, "fields": ..., "metadata": ..., "external_id": None, "dataset": DATASET_SHAPE,
    "inserted_at": None, "updated_at": None,
}  # fmt: skip
USER_SHAPE = dict.fromkeys(USER_KEYS)
RESPONSE_SHAPE: dict[str, Any] = {
    "id": None, "values": ..., "status": None, "record": RECORD_SHAPE, "user": USER_SHAPE,
    "inserted_at": None, "updated_at": None,
}  # fmt: skip
SEED_SHAPES = {
    **dict.fromkeys(["dataset.created", "dataset.updated", "dataset.deleted", "dataset.published"], DATASET_SHAPE),
    **dict.fromkeys(["record.created", "record.updated", "record.deleted", "record.completed"], RECORD_SHAPE),
    **dict.fromkeys(["response.created", "response.updated", "response.deleted"], RESPONSE_SHAPE),
}  # fmt: skip


def _mismatches(value: Any, shape: Any, where: str = "data") -> list[str]:
    """Where `value` differs from `shape` (None: any scalar or null; ...: anything; a dict: exactly
    these keys; a one-item list: a list whose items all have that shape)."""
    if shape is ...:
        return []
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: {type(value).__name__}, not an object"]
        found = [f"{where}: keys {sorted(value)} != {sorted(shape)}"] if set(value) != set(shape) else []
        for key in set(value) & set(shape):
            found += _mismatches(value[key], shape[key], f"{where}.{key}")
        return found
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: {type(value).__name__}, not a list"]
        return [m for i, item in enumerate(value) for m in _mismatches(item, shape[0], f"{where}[{i}]")]
    return [f"{where}: an object or list, not a scalar"] if isinstance(value, dict | list) else []


async def test_every_event_type_has_the_seed_000_shape(api: Api, outbox: Outbox) -> None:
    """Each of the 11 types, fired by the action that fires it, carries seed 000's envelope and the
    whole key tree of its `data` — nested dataset, workspace, questions, fields, metadata
    properties, vector settings, record, user — with every list filled in."""
    await outbox.subscribe()
    dataset = await make_dataset(api, vectors={"emb": 2})
    me = await api.ok("GET", "/api/v1/me")
    submitted = {"user_id": me["id"], "status": "submitted", "values": {"label": {"value": "pos"}}}
    [record] = (
        await _bulk(
            api, dataset, [{"external_id": "x", "fields": {"text": "x"}, "metadata": {"lang": "en"}, "responses": [submitted]}]
        )
    )["items"]  # fmt: skip
    [response] = [r for r in record.get("responses") or [] if r["user_id"] == me["id"]] or [None]
    await api.ok("PATCH", f"/api/v1/records/{record['id']}", json={"metadata": {"lang": "es"}})
    if response is None:
        response = (await api.ok("GET", f"/api/v1/records/{record['id']}/responses"))["items"][0]
    await api.ok("PUT", f"/api/v1/responses/{response['id']}", json={**submitted, "status": "draft"})
    await api.ok("DELETE", f"/api/v1/responses/{response['id']}")
    await api.ok("DELETE", f"/api/v1/records/{record['id']}")
    await api.ok("DELETE", f"/api/v1/datasets/{dataset['id']}")

    bodies = await outbox.new()
    assert {b["type"] for b in bodies} == set(EVENT_TYPES) == set(SEED_SHAPES)
    for body in bodies:
        assert set(body) == {"type", "version", "timestamp", "data"} and body["version"] == 1
        assert body["timestamp"].endswith("Z")
        assert _mismatches(body["data"], SEED_SHAPES[body["type"]]) == [], body["type"]
    by_type = {b["type"]: b["data"] for b in bodies}
    for kind in ("dataset.published", "dataset.deleted"):  # every list of the dataset is filled
        data = by_type[kind]
        assert all(data[key] for key in ("questions", "fields", "metadata_properties", "vectors_settings"))
    assert by_type["record.completed"]["status"] == "completed"
    assert by_type["response.deleted"]["record"]["external_id"] == "x"  # the response as it was
    assert by_type["record.deleted"]["metadata"] == {"lang": "es"}


@pytest.mark.parametrize("path", [None, "dataset", "record.dataset"])
def test_bodies_from_stored_text_are_the_bytes_of_the_parsed_event(path: str | None) -> None:
    """The outbox renders stored JSON text without parsing it (`orjson.Fragment`); the bytes must be
    those of the parsed event, with the dataset snapshot put back where it belongs."""
    occurred = datetime(2026, 11, 21, 9, 30, 15, 120034, tzinfo=UTC)
    data = {"id": "r1", "fields": {"text": 'été \u2603 "quoted"'}, "metadata": {"n": 1.5, "tags": ["a"]}}
    if path == "record.dataset":
        data = {"id": "resp", "values": {"label": {"value": "x"}}, "record": data}
    snapshot = {"id": "d1", "name": "ds", "questions": [{"name": "label"}]} if path else None
    expected = render(assemble("record.created", occurred, data, snapshot, path))
    stored = json_dumps(data)
    stored_snapshot = json_dumps(snapshot) if snapshot is not None else None
    assert render(assemble("record.created", occurred, stored, stored_snapshot, path)) == expected
    body = orjson.loads(expected)
    assert body["timestamp"] == "2026-11-21T09:30:15.120034Z"
    if path == "dataset":
        assert body["data"]["dataset"] == snapshot
    elif path == "record.dataset":
        assert body["data"]["record"]["dataset"] == snapshot
        assert "dataset" not in data["record"]  # the stored event was not changed
