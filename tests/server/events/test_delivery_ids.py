"""Deliveries written by the outbox get time-ordered ids (UUIDv7), so a batch's deliveries — and
the claims and results that later read and update them together — share index pages."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from quire.server.db import Database
from quire.server.events.outbox import NewEvent, publish
from quire.server.models import Delivery, Webhook


async def test_outbox_deliveries_have_time_ordered_ids(database: Database) -> None:
    async with database.transaction() as session:
        session.add_all(
            [
                Webhook(url=f"http://127.0.0.1:9/{n}", secret="whsec_x", policy={}, events=["ping"])
                for n in range(3)
            ]
        )
    batches = []
    for _ in range(2):
        async with database.transaction() as session:
            await publish(session, [NewEvent(type="ping", data={"n": n}) for n in range(4)])
        async with database.session(write=False) as session:
            seen = {d for batch in batches for d in batch}
            batches.append([d for d in await session.scalars(select(Delivery.id)) if d not in seen])
        await asyncio.sleep(0.002)  # the next batch starts in a later millisecond
    first, second = batches
    assert len(first) == len(second) == 12  # four events, three webhooks
    assert {d.version for d in first + second} == {7}
    assert max(first) < min(second)  # later deliveries sort after earlier ones
    async with database.session(write=False) as session:
        msg_ids = set(await session.scalars(select(Delivery.msg_id)))
    assert msg_ids == {f"msg_{d.hex}" for d in first + second}
