"""Bodies of stored events (`events.assemble.load_bodies`): the envelope, the dataset snapshot put
back at its path, the stored data unparsed. SQLite reads them straight from the driver; the bytes
must be exactly those of the general path (every attempt and redelivery sends the same bytes)."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest
from sqlalchemy import select, text

from quire.server.db import Database
from quire.server.events import assemble
from quire.server.events.outbox import NewEvent, publish
from quire.server.models import Event, Webhook

DATASET = {"id": "d1", "name": "reviews", "questions": [{"name": "label"}], "fields": []}


async def _stored_events(database: Database) -> list[int]:
    async with database.transaction() as session:
        session.add(
            Webhook(url="http://127.0.0.1:9/hook", secret="whsec_x", policy={}, events=["record.created"])
        )
    occurred = datetime(2026, 11, 21, 9, 30, 1, 250000, tzinfo=UTC)
    events = [
        NewEvent(
            type="record.created",
            data={"id": f"r{n}", "fields": {"text": 'café ☕ "quoted"'}, "dataset": None},
            snapshot=DATASET,
            snapshot_path="dataset",
            occurred_at=occurred,
        )
        for n in range(3)
    ] + [NewEvent(type="record.created", data={"id": "plain", "metadata": {"n": 1.5}}, occurred_at=occurred)]
    async with database.transaction() as session:
        await publish(session, events)
    async with database.session(write=False) as session:
        return list(await session.scalars(select(Event.id).order_by(Event.id)))


async def test_bodies_carry_the_envelope_and_the_snapshot(database: Database) -> None:
    ids = await _stored_events(database)
    async with database.session(write=False) as session:
        bodies = await assemble.load_bodies(session, ids + ids[:1])  # repeated ids: one body each
    assert sorted(bodies) == ids
    first = orjson.loads(bodies[ids[0]])
    assert first == {
        "type": "record.created",
        "version": 1,
        "timestamp": "2026-11-21T09:30:01.250000Z",
        "data": {"id": "r0", "fields": {"text": 'café ☕ "quoted"'}, "dataset": DATASET},
    }
    assert orjson.loads(bodies[ids[3]])["data"] == {"id": "plain", "metadata": {"n": 1.5}}


async def test_sqlite_reads_the_same_bytes_as_the_general_path(database: Database) -> None:
    if database.dialect != "sqlite":
        pytest.skip("the driver path is SQLite's")
    ids = await _stored_events(database)
    async with database.transaction() as session:  # a time stored without microseconds still renders
        await session.execute(
            text("UPDATE events SET occurred_at = '2026-01-02 03:04:05' WHERE id = :id"), {"id": ids[3]}
        )
    async with database.session(write=False) as session:
        fast = await assemble._load_bodies_sqlite(session, ids)
        general = await assemble._load_bodies_orm(session, ids)
    assert fast == general
    assert orjson.loads(fast[ids[3]])["timestamp"] == "2026-01-02T03:04:05.000000Z"


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2026-11-21 09:30:01.250000", "2026-11-21T09:30:01.250000Z"),
        ("2026-11-21 09:30:01", "2026-11-21T09:30:01.000000Z"),
        ("2026-11-21T09:30:01.5+00:00", "2026-11-21T09:30:01.500000Z"),
    ],
)
def test_envelope_time_from_stored_text(stored: str, expected: str) -> None:
    assert assemble._envelope_time(stored) == expected
