"""The dispatcher against real loopback receivers, on SQLite and PostgreSQL."""

from __future__ import annotations

import time

import orjson
from standardwebhooks import Webhook as Verifier

from quire.server.db import Database
from quire.server.delivery.signing import generate_secret
from quire.server.events.assemble import load_bodies
from tests.server.delivery.conftest import (
    StartDispatcher,
    add_webhook,
    attempts,
    publish_events,
    queue_messages,
    settled,
    webhook_row,
)
from tests.server.delivery.receiver import Receiver


async def test_event_deliveries_arrive_signed_with_their_stored_bodies(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    secret = generate_secret()
    receiver.secrets.append(secret)
    webhook = await add_webhook(database, receiver.url("/ok"), secret=secret)
    await start_dispatcher(database)
    assert await publish_events(database, 40) == 40
    got = await receiver.wait_for(40)
    rows = await settled(database, webhook)
    assert all(r.verified for r in got)
    assert sorted(r.payload["data"]["seq"] for r in got) == list(range(40))
    assert {r.msg_id for r in got} == {d.msg_id for d in rows}
    async with database.session(write=False) as session:
        bodies = await load_bodies(session, [d.event_id for d in rows if d.event_id is not None])
    by_msg = {d.msg_id: bodies[d.event_id] for d in rows if d.event_id is not None}
    for r in got:
        assert r.body == by_msg[r.msg_id]  # the exact stored bytes
        assert r.headers["content-type"] == "application/json"
        assert abs(int(r.headers["webhook-timestamp"]) - time.time()) < 30
    for d in rows:
        assert d.status == "succeeded" and d.attempts == 1 and d.delivered_at is not None
        assert d.lease_owner is None and d.last_status_code == 200
        (attempt,) = await attempts(database, d.id)
        assert attempt.status_code == 200 and attempt.outcome == "succeeded" and attempt.number == 1
        assert attempt.duration_ms > 0 and attempt.response_snippet == "ok" and attempt.worker
    assert (await webhook_row(database, webhook.id)).consecutive_failures == 0  # type: ignore[union-attr]


async def test_custom_headers_never_override_the_signature_headers(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    secret = generate_secret()
    receiver.secrets.append(secret)
    webhook = await add_webhook(
        database,
        receiver.url("/ok"),
        secret=secret,
        headers={
            "X-Team": "annotation",
            "webhook-id": "evil",
            "Webhook-Signature": "v1,x",
            "Content-Type": "text/plain",
        },
    )
    await start_dispatcher(database)
    (msg_id,) = await queue_messages(database, webhook, [{"hello": "world"}])
    (got,) = await receiver.wait_for(1)
    assert got.verified and got.payload == {"hello": "world"}
    assert got.headers["x-team"] == "annotation"
    assert got.headers["webhook-id"] == msg_id
    assert got.headers["content-type"] == "application/json"
    assert orjson.loads(got.body) == {"hello": "world"}


async def test_secret_rotation_signs_with_both_secrets_during_the_grace_period(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    new, old = generate_secret(), generate_secret()
    rotating = await add_webhook(
        database, receiver.url("/ok?rotating"), secret=new, previous_secret=old, previous_secret_seconds=3600
    )
    expired = await add_webhook(
        database, receiver.url("/ok?expired"), secret=new, previous_secret=old, previous_secret_seconds=-1
    )
    await start_dispatcher(database)
    await queue_messages(database, rotating, [{"n": 1}])
    await queue_messages(database, expired, [{"n": 2}])
    got = await receiver.wait_for(2)
    signatures = {r.payload["n"] if r.payload else None: r.headers["webhook-signature"] for r in got}
    receiver.secrets.append(new)
    for r in got:
        assert Verifier(new).verify(r.body, r.headers)
    rotating_request = next(r for r in got if orjson.loads(r.body)["n"] == 1)
    expired_request = next(r for r in got if orjson.loads(r.body)["n"] == 2)
    assert len(rotating_request.headers["webhook-signature"].split(" ")) == 2
    assert Verifier(old).verify(rotating_request.body, rotating_request.headers)
    assert len(expired_request.headers["webhook-signature"].split(" ")) == 1
    assert signatures
