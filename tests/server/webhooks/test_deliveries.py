"""Deliveries through HTTP: scope filtering, listing, detail with attempts, redelivery, replay,
secret rotation, re-enabling, ping. Events are published straight into the outbox."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import select, update
from standardwebhooks.webhooks import Webhook as StandardWebhook
from tests.conftest import Api
from tests.server.webhooks.conftest import (
    Receiver,
    app_database,
    create_dataset,
    create_webhook,
    emit,
    stored_webhook,
)

from quire.server.events.outbox import NewEvent, publish
from quire.server.models import Delivery, DeliveryAttempt, Event, Webhook
from quire.server.webhooks import service


def wire(moment: datetime) -> str:
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat()


async def deliveries(api: Api, webhook_id: str, **params: Any) -> dict[str, Any]:
    page: dict[str, Any] = await api.ok("GET", f"/api/v1/webhooks/{webhook_id}/deliveries", params=params)
    return page


async def set_delivery(app: Any, delivery_id: str, **values: Any) -> None:
    async with app_database(app).transaction() as session:
        await session.execute(update(Delivery).where(Delivery.id == uuid.UUID(delivery_id)).values(**values))


async def test_scope_decides_who_gets_a_delivery(api: Api, app: Any) -> None:
    workspace = await api.default_workspace()
    other_workspace = await api.ok("POST", "/api/v1/workspaces", json={"name": f"ws-{uuid.uuid4().hex[:6]}"})
    a, b = await create_dataset(api), await create_dataset(api)
    c = await create_dataset(api, other_workspace["id"])
    everything = await create_webhook(api)
    only_a = await create_webhook(api, dataset_id=a["id"])
    only_other = await create_webhook(api, workspace_id=other_workspace["id"])
    disabled = await create_webhook(api, enabled=False)

    for dataset in (a, b, c):
        await emit(app, dataset_id=dataset["id"], workspace_id=dataset["workspace_id"])
    await emit(app, "record.updated", dataset_id=a["id"], workspace_id=workspace["id"])  # nobody wants it

    def datasets_of(page: dict[str, Any]) -> list[str]:
        return [item["event_type"] for item in page["items"]]

    assert (await deliveries(api, everything["id"]))["total"] == 3
    assert datasets_of(await deliveries(api, only_a["id"])) == ["record.created"]
    assert datasets_of(await deliveries(api, only_other["id"])) == ["record.created"]
    assert (await deliveries(api, disabled["id"]))["total"] == 0
    # which events those were
    async with app_database(app).session(write=False) as session:
        rows = await session.execute(
            select(Delivery.webhook_id, Delivery.event_id).where(
                Delivery.webhook_id.in_([uuid.UUID(only_a["id"]), uuid.UUID(only_other["id"])])
            )
        )
        scoped = {
            str(webhook_id): str((await session.get(Event, event_id)).dataset_id)  # type: ignore[union-attr]
            for webhook_id, event_id in rows
        }
    assert scoped == {only_a["id"]: a["id"], only_other["id"]: c["id"]}


async def test_a_webhook_created_in_a_transaction_gets_that_transactions_events(api: Api, app: Any) -> None:
    async with app_database(app).transaction() as session:
        await publish(session, [NewEvent("record.created", {"n": 0})])  # nobody listens yet: not stored
        webhook = await service.create_webhook(session, url="http://127.0.0.1:9/x", events=["record.created"])
        assert await publish(session, [NewEvent("record.created", {"n": 1})]) == 1
    page = await deliveries(api, str(webhook.id))
    assert page["total"] == 1


async def test_list_filters_pages_newest_first(api: Api, app: Any) -> None:
    webhook = await create_webhook(api, ["record.created", "record.updated"])
    marks = []
    for event_type in ["record.created"] * 3 + ["record.updated"] * 2:
        marks.append(datetime.now(UTC))
        await emit(app, event_type)
        await asyncio.sleep(0.002)
    page = await deliveries(api, webhook["id"])
    assert page["total"] == 5
    assert [d["event_type"] for d in page["items"]] == ["record.updated"] * 2 + ["record.created"] * 3
    assert [d["event_id"] for d in page["items"]] == sorted(
        (d["event_id"] for d in page["items"]), reverse=True
    )
    item = page["items"][0]
    assert set(item) == {
        "id", "webhook_id", "event_id", "event_type", "msg_id", "status", "attempts", "next_attempt_at",
        "last_status_code", "last_error", "delivered_at", "inserted_at", "updated_at",
    }  # fmt: skip
    assert item["status"] == "pending" and item["attempts"] == 0 and item["msg_id"].startswith("msg_")

    assert (await deliveries(api, webhook["id"], event_type="record.updated"))["total"] == 2
    assert (await deliveries(api, webhook["id"], status="pending"))["total"] == 5
    assert (await deliveries(api, webhook["id"], status="failed"))["total"] == 0
    window = await deliveries(api, webhook["id"], since=wire(marks[1]), until=wire(marks[3]))
    assert window["total"] == 2 and [d["event_type"] for d in window["items"]] == ["record.created"] * 2
    paged = await deliveries(api, webhook["id"], offset=1, limit=3)
    assert paged["total"] == 5 and [d["id"] for d in paged["items"]] == [d["id"] for d in page["items"][1:4]]
    assert (await deliveries(api, webhook["id"], offset=5))["items"] == []
    bad = await api.client.get(f"/api/v1/webhooks/{webhook['id']}/deliveries", params={"status": "lost"})
    assert bad.status_code == 422


async def test_detail_has_every_attempt_and_the_body(api: Api, app: Any) -> None:
    webhook = await create_webhook(api)
    await emit(app, data={"id": "r-1", "fields": {"text": "hello"}})
    delivery = (await deliveries(api, webhook["id"]))["items"][0]
    started = datetime.now(UTC)
    async with app_database(app).transaction() as session:
        for number, (code, outcome, error, snippet) in enumerate(
            [
                (503, "status", "HTTP 503", "busy"),
                (None, "timeout", "timeout after 20 s", None),
                (200, "ok", None, "ok"),
            ],
            start=1,
        ):
            session.add(
                DeliveryAttempt(
                    delivery_id=uuid.UUID(delivery["id"]), number=number, started_at=started + timedelta(seconds=number),
                    duration_ms=12.5 * number, status_code=code, outcome=outcome, error=error,
                    response_snippet=snippet, worker="test",
                )
            )  # fmt: skip
    detail = await api.ok("GET", f"/api/v1/webhooks/{webhook['id']}/deliveries/{delivery['id']}")
    assert detail["id"] == delivery["id"]
    history = detail["attempt_history"]
    assert [a["number"] for a in history] == [1, 2, 3]
    assert [a["status_code"] for a in history] == [503, None, 200]
    assert history[0] == {
        "number": 1, "started_at": wire(started + timedelta(seconds=1)), "duration_ms": 12.5, "status_code": 503,
        "outcome": "status", "error": "HTTP 503", "response_snippet": "busy", "worker": "test",
    }  # fmt: skip
    body = detail["body"]
    assert body["type"] == "record.created" and body["version"] == 1
    assert body["data"] == {"id": "r-1", "fields": {"text": "hello"}} and body["timestamp"].endswith("Z")

    other = await create_webhook(api)
    for url in (
        f"/api/v1/webhooks/{other['id']}/deliveries/{delivery['id']}",
        f"/api/v1/webhooks/{webhook['id']}/deliveries/{uuid.uuid4()}",
    ):
        assert (await api.client.get(url)).status_code == 404
        assert (await api.client.post(f"{url}/redeliver")).status_code == 404


async def test_redeliver_requeues_now_with_the_same_msg_id(api: Api, app: Any) -> None:
    webhook = await create_webhook(api)
    await emit(app)
    delivery = (await deliveries(api, webhook["id"]))["items"][0]
    long_ago = datetime.now(UTC) - timedelta(hours=1)
    await set_delivery(
        app, delivery["id"], status="failed", attempts=4, last_status_code=500, last_error="HTTP 500",
        next_attempt_at=long_ago + timedelta(days=1),
    )  # fmt: skip
    async with app_database(app).transaction() as session:
        session.add(
            DeliveryAttempt(
                delivery_id=uuid.UUID(delivery["id"]), number=4, started_at=long_ago, duration_ms=1.0,
                status_code=500, outcome="status", error="HTTP 500",
            )
        )  # fmt: skip
    url = f"/api/v1/webhooks/{webhook['id']}/deliveries/{delivery['id']}"
    before = datetime.now(UTC)
    again = await api.ok("POST", f"{url}/redeliver", status=200)
    assert again["status"] == "pending" and again["msg_id"] == delivery["msg_id"]
    assert again["attempts"] == 4 and again["last_status_code"] == 500
    assert wire(before - timedelta(seconds=1)) <= again["next_attempt_at"] <= wire(datetime.now(UTC))
    assert len((await api.ok("GET", url))["attempt_history"]) == 1

    # a delivery a dispatcher is sending right now is left alone; a crashed claim is not
    await set_delivery(
        app,
        delivery["id"],
        status="delivering",
        lease_owner="w1",
        lease_expires_at=datetime.now(UTC) + timedelta(minutes=1),
    )
    assert (await api.client.post(f"{url}/redeliver")).status_code == 409
    await set_delivery(app, delivery["id"], lease_expires_at=datetime.now(UTC) - timedelta(seconds=1))
    assert (await api.ok("POST", f"{url}/redeliver", status=200))["status"] == "pending"


async def test_replay_creates_missing_and_resets_existing_deliveries(api: Api, app: Any) -> None:
    workspace = await api.default_workspace()
    a, b = await create_dataset(api), await create_dataset(api)
    early = await create_webhook(api, ["record.created", "record.updated"])
    start = datetime.now(UTC)
    await emit(app, dataset_id=a["id"], workspace_id=workspace["id"], count=2)
    await emit(app, dataset_id=b["id"], workspace_id=workspace["id"])
    await emit(app, "record.updated", dataset_id=a["id"], workspace_id=workspace["id"])
    end = datetime.now(UTC)
    async with app_database(app).transaction() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.webhook_id == uuid.UUID(early["id"]))
            .values(status="succeeded", attempts=1)
        )
    late = await create_webhook(api, ["record.created"], dataset_id=a["id"])
    assert (await deliveries(api, late["id"]))["total"] == 0

    async def replay(webhook_id: str, **body: Any) -> dict[str, Any]:
        result: dict[str, Any] = await api.ok(
            "POST", f"/api/v1/webhooks/{webhook_id}/replay", json={"since": wire(start), **body}, status=200
        )
        return result

    # the late webhook is back-filled with what it would have received: record.created of dataset a
    assert await replay(late["id"]) == {"queued": 2, "created": 2, "reset": 0}
    page = await deliveries(api, late["id"])
    assert page["total"] == 2 and {d["status"] for d in page["items"]} == {"pending"}
    # again: the same deliveries (same msg_id) go back to pending, none is duplicated
    assert await replay(late["id"]) == {"queued": 2, "created": 0, "reset": 2}
    assert {d["msg_id"] for d in (await deliveries(api, late["id"]))["items"]} == {
        d["msg_id"] for d in page["items"]
    }

    assert await replay(early["id"], event_types=["record.updated"]) == {
        "queued": 1,
        "created": 0,
        "reset": 1,
    }
    assert await replay(early["id"]) == {"queued": 4, "created": 0, "reset": 4}
    assert (await deliveries(api, early["id"], status="pending"))["total"] == 4
    assert await replay(early["id"], since=wire(end)) == {"queued": 0, "created": 0, "reset": 0}
    assert (await replay(early["id"], since=wire(start - timedelta(days=1)), until=wire(start)))[
        "queued"
    ] == 0

    errors = [
        ({"since": wire(end), "until": wire(start)}, "must be after"),
        ({"since": wire(start), "event_types": ["record.exploded"]}, "allowed: dataset.created"),
        ({}, "since"),
    ]
    for body, expected in errors:
        response = await api.client.post(f"/api/v1/webhooks/{early['id']}/replay", json=body)
        assert response.status_code == 422 and expected in response.text, response.text


async def test_rotate_secret_keeps_the_old_one_for_the_grace_period(api: Api, app: Any) -> None:
    webhook = await create_webhook(api)
    url = f"/api/v1/webhooks/{webhook['id']}/rotate-secret"
    before = datetime.now(UTC)
    rotated = await api.ok("POST", url, status=200)
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != webhook["secret"]
    row = await stored_webhook(app, webhook["id"])
    assert row.previous_secret == webhook["secret"] and row.secret == rotated["secret"]
    assert row.previous_secret_expires_at is not None
    assert abs((row.previous_secret_expires_at - before - timedelta(hours=24)).total_seconds()) < 5
    assert rotated["previous_secret_expires_at"] == wire(row.previous_secret_expires_at)

    short = await api.ok("POST", url, json={"grace_period_seconds": 60}, status=200)
    row = await stored_webhook(app, webhook["id"])
    assert row.previous_secret == rotated["secret"] and row.secret == short["secret"]
    now = await api.ok("POST", url, json={"grace_period_seconds": 0}, status=200)
    row = await stored_webhook(app, webhook["id"])
    assert row.previous_secret is None and now["previous_secret_expires_at"] is None
    assert (await api.client.post(url, json={"grace_period_seconds": -1})).status_code == 422


async def test_enable_clears_the_reason_and_resumes_pending_deliveries(api: Api, app: Any) -> None:
    webhook = await create_webhook(api)
    await emit(app, count=2)
    later = datetime.now(UTC) + timedelta(hours=1)
    async with app_database(app).transaction() as session:
        await session.execute(
            update(Webhook)
            .where(Webhook.id == uuid.UUID(webhook["id"]))
            .values(enabled=False, disabled_reason="failed 20 times in a row", consecutive_failures=20)
        )
        await session.execute(
            update(Delivery)
            .where(Delivery.webhook_id == uuid.UUID(webhook["id"]))
            .values(next_attempt_at=later)
        )
    shown = await api.ok("GET", f"/api/v1/webhooks/{webhook['id']}")
    assert (shown["enabled"], shown["disabled_reason"], shown["consecutive_failures"]) == (
        False,
        "failed 20 times in a row",
        20,
    )
    enabled = await api.ok("POST", f"/api/v1/webhooks/{webhook['id']}/enable", status=200)
    assert (enabled["enabled"], enabled["disabled_reason"], enabled["consecutive_failures"]) == (
        True,
        None,
        0,
    )
    page = await deliveries(api, webhook["id"])
    assert all(d["next_attempt_at"] <= wire(datetime.now(UTC)) for d in page["items"])

    # PATCH {"enabled": true} (what rg.webhook_listener sends) does the same
    await api.ok("PATCH", f"/api/v1/webhooks/{webhook['id']}", json={"enabled": False})
    async with app_database(app).transaction() as session:
        await session.execute(
            update(Webhook).where(Webhook.id == uuid.UUID(webhook["id"])).values(consecutive_failures=3)
        )
    patched = await api.ok("PATCH", f"/api/v1/webhooks/{webhook['id']}", json={"enabled": True})
    assert (patched["enabled"], patched["disabled_reason"], patched["consecutive_failures"]) == (
        True,
        None,
        0,
    )


async def test_ping_is_sent_signed_and_recorded(api: Api, receiver: Receiver) -> None:
    webhook = await create_webhook(api, url=receiver.url, headers={"X-Team": "nlp"}, enabled=False)
    response = await api.client.post(f"/api/v1/webhooks/{webhook['id']}/ping")
    assert response.status_code == 204 and response.content == b""
    assert len(receiver.requests) == 1
    headers, body = receiver.requests[0]
    payload = StandardWebhook(webhook["secret"]).verify(body, headers)
    assert payload["type"] == "ping" and payload["version"] == 1
    assert payload["data"]["agent"] == "quire" and payload["data"]["version"]
    assert headers["X-Team"] == "nlp" and headers["webhook-id"].startswith("msg_")

    page = await deliveries(api, webhook["id"])
    assert page["total"] == 1
    ping = page["items"][0]
    assert (ping["event_type"], ping["event_id"], ping["status"], ping["attempts"]) == (
        "ping",
        None,
        "succeeded",
        1,
    )
    assert ping["msg_id"] == headers["webhook-id"]
    detail = await api.ok("GET", f"/api/v1/webhooks/{webhook['id']}/deliveries/{ping['id']}")
    assert detail["body"] == orjson.loads(body)
    assert [(a["status_code"], a["outcome"]) for a in detail["attempt_history"]] == [(200, "ok")]

    # the receiver's answer does not change the 204; the failure is recorded
    receiver.status = 500
    assert (await api.client.post(f"/api/v1/webhooks/{webhook['id']}/ping")).status_code == 204
    failed = (await deliveries(api, webhook["id"]))["items"][0]
    assert (failed["status"], failed["last_status_code"], failed["last_error"]) == ("failed", 500, "HTTP 500")
    detail = await api.ok("GET", f"/api/v1/webhooks/{webhook['id']}/deliveries/{failed['id']}")
    assert detail["attempt_history"][0]["response_snippet"] == "answered 500"
    assert (await api.ok("GET", f"/api/v1/webhooks/{webhook['id']}"))["consecutive_failures"] == 0


async def test_ping_during_rotation_is_signed_by_both_secrets(api: Api, receiver: Receiver) -> None:
    webhook = await create_webhook(api, url=receiver.url)
    rotated = await api.ok("POST", f"/api/v1/webhooks/{webhook['id']}/rotate-secret", status=200)
    assert (await api.client.post(f"/api/v1/webhooks/{webhook['id']}/ping")).status_code == 204
    headers, body = receiver.requests[0]
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (webhook["secret"], rotated["secret"]):
        assert StandardWebhook(secret).verify(body, headers)["type"] == "ping"


async def test_ping_to_nowhere_is_still_204(api: Api) -> None:
    webhook = await create_webhook(api, url="http://127.0.0.1:9/closed")
    assert (await api.client.post(f"/api/v1/webhooks/{webhook['id']}/ping")).status_code == 204
    failed = (await deliveries(api, webhook["id"]))["items"][0]
    assert failed["status"] == "failed" and failed["last_status_code"] is None and failed["last_error"]
    assert (await api.client.post(f"/api/v1/webhooks/{uuid.uuid4()}/ping")).status_code == 404


async def test_deleting_a_webhook_deletes_its_deliveries(api: Api, app: Any) -> None:
    webhook, kept = await create_webhook(api), await create_webhook(api)
    await emit(app, count=3)
    await api.ok("DELETE", f"/api/v1/webhooks/{webhook['id']}")
    async with app_database(app).session(write=False) as session:
        owners = list(await session.scalars(select(Delivery.webhook_id)))
    assert owners == [uuid.UUID(kept["id"])] * 3


async def test_replay_bounds_outside_utc_years_are_422s(api: Api) -> None:
    """`0001-01-01T01:00+04:01` lies in year 0 in UTC (found by the fuzzer: it was a 500)."""
    hook = await create_webhook(api)
    for bounds in (
        {"since": "0001-01-01T01:00:00+04:01"},
        {"since": "2024-01-01T00:00:00Z", "until": "9999-12-31T23:00:00-05:00"},
    ):
        response = await api.client.post(f"/api/v1/webhooks/{hook['id']}/replay", json=bounds)
        assert response.status_code == 422, response.text
        assert "out of range in UTC" in response.text
