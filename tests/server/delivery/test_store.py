"""The dispatcher's statements on their own: a claim for several webhooks at once, and a recording
round that is rolled back."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from quire.server.db import Database
from quire.server.delivery import store
from quire.server.delivery.outcomes import Decision
from quire.server.delivery.sender import AttemptResult
from quire.server.events.assemble import load_bodies
from quire.server.models import Delivery, DeliveryAttempt, utcnow
from tests.server.delivery.conftest import add_webhook, deliveries, publish_events
from tests.server.delivery.receiver import Receiver


async def test_one_claim_serves_several_webhooks_each_its_oldest_due_with_its_lease(
    database: Database, receiver: Receiver
) -> None:
    first = await add_webhook(database, receiver.url("/ok"))
    second = await add_webhook(database, receiver.url("/ok"))
    await publish_events(database, 6)
    now = utcnow()
    rows = await deliveries(database)
    events = sorted({d.event_id for d in rows if d.event_id is not None})
    late = min((d for d in rows if d.webhook_id == second.id), key=lambda d: d.event_id or 0)
    async with database.transaction() as session:  # the later the event, the earlier it is due
        for row in rows:
            assert row.event_id is not None
            due = now - timedelta(seconds=1 + events.index(row.event_id))
            if row.id == late.id:  # one of the second webhook's deliveries is not due yet
                due = now + timedelta(hours=1)
            await session.execute(update(Delivery).where(Delivery.id == row.id).values(next_attempt_at=due))
    lease_second, lease_first = now + timedelta(seconds=60), now + timedelta(seconds=90)
    async with database.transaction() as session:
        claims = await store.claim(
            session,
            dialect=database.dialect,
            owner="me",
            wants=[(second.id, 10, lease_second), (first.id, 2, lease_first)],
            now=now,
        )
        bodies = await load_bodies(session, [d.event_id for d in await deliveries(database) if d.event_id])
    by_id = {d.id: d for d in await deliveries(database)}
    # the webhooks in the order asked, each with its oldest due deliveries (the latest events)
    assert [c.webhook_id for c in claims] == [second.id] * 5 + [first.id] * 2
    assert late.id not in {c.id for c in claims}
    oldest = sorted(await deliveries(database, first), key=lambda d: d.next_attempt_at)[:2]
    assert {c.id for c in claims[5:]} == {d.id for d in oldest}
    for claim in claims:
        row = by_id[claim.id]
        assert row.status == "delivering" and row.lease_owner == "me"
        assert row.lease_expires_at == claim.lease_expires_at
        assert claim.lease_expires_at == (lease_second if claim.webhook_id == second.id else lease_first)
        assert claim.attempt == 1 and claim.msg_id == row.msg_id and claim.event_type == row.event_type
        assert row.event_id is not None and claim.body == bodies[row.event_id]


@pytest.mark.parametrize("internals", ["known", "unknown"])
async def test_a_recording_round_that_is_rolled_back_writes_nothing(
    database: Database, receiver: Receiver, monkeypatch: pytest.MonkeyPatch, internals: str
) -> None:
    """The round's first statement may be the dispatcher's own (not SQLAlchemy's): it still runs in
    the round's transaction, also where SQLAlchemy's adapter does not have the internals the
    PostgreSQL path uses to begin it (then it begins through the adapter's public path)."""
    if internals == "unknown":
        monkeypatch.setattr(store, "_adapter_internals_known", lambda adapted: False)
    webhook = await add_webhook(database, receiver.url("/ok"))
    await publish_events(database, 1)
    now = utcnow()
    async with database.transaction() as session:
        (claimed,) = await store.claim(
            session,
            dialect=database.dialect,
            owner="me",
            wants=[(webhook.id, 5, now + timedelta(seconds=60))],
            now=now,
        )
    finished = store.Finished(claimed, AttemptResult(now, 1.0, "ok", status_code=200), Decision("succeeded"))
    async with database.session(write=True) as session:  # never committed: rolled back
        report = await store.finish(
            session,
            dialect=database.dialect,
            owner="me",
            batch=[finished],
            failures_before_disable=20,
            now=now,
        )
        assert report.written == [finished]
    (row,) = await deliveries(database, webhook)
    assert row.status == "delivering" and row.lease_owner == "me" and row.attempts == 0
    async with database.session(write=False) as session:
        assert list(await session.scalars(select(DeliveryAttempt))) == []
