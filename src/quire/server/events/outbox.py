"""The transactional outbox: events and their deliveries are written in the caller's transaction.

A change that commits always has its events and deliveries; a change that rolls back never does;
nothing is built or queued after the commit. An event is stored only when something listens for it
(an enabled webhook, an open event stream, or `QUIRE_EVENTS_RETAIN_ALL`), and the check happens once
per transaction, before any payload is built: a bulk write with nobody listening costs one query.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import bindparam, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.db import OUTBOX_DIRTY, RETAIN_ALL_EVENTS
from quire.server.ids import time_ordered_ids
from quire.server.models import (
    DatasetSnapshot,
    Delivery,
    DeliveryStatus,
    Event,
    EventStream,
    Webhook,
    table_of,
    utcnow,
)
from quire.server.sql import sqlite_connection, sqlite_time, stored_json

CONSUMERS_KEY = "quire.consumers"
NOTIFY_CHANNEL = "quire_outbox"


@dataclass(frozen=True)
class Subscription:
    """What one consumer wants: event types (None: all) within an optional workspace/dataset scope."""

    webhook_id: uuid.UUID | None
    types: frozenset[str] | None
    workspace_id: uuid.UUID | None = None
    dataset_id: uuid.UUID | None = None

    def matches(self, event_type: str, workspace_id: uuid.UUID | None, dataset_id: uuid.UUID | None) -> bool:
        if self.types is not None and event_type not in self.types:
            return False
        if self.workspace_id is not None and self.workspace_id != workspace_id:
            return False
        return self.dataset_id is None or self.dataset_id == dataset_id


@dataclass
class Consumers:
    webhooks: list[Subscription] = field(default_factory=list)
    streams: list[Subscription] = field(default_factory=list)
    retain_all: bool = False

    def webhook_ids(
        self, event_type: str, workspace_id: uuid.UUID | None, dataset_id: uuid.UUID | None
    ) -> list[uuid.UUID]:
        return [
            s.webhook_id
            for s in self.webhooks
            if s.webhook_id is not None and s.matches(event_type, workspace_id, dataset_id)
        ]

    def wants(self, event_type: str, workspace_id: uuid.UUID | None, dataset_id: uuid.UUID | None) -> bool:
        if self.retain_all:
            return True
        return any(s.matches(event_type, workspace_id, dataset_id) for s in (*self.webhooks, *self.streams))

    def wants_any(
        self, types: Sequence[str], workspace_id: uuid.UUID | None, dataset_id: uuid.UUID | None
    ) -> bool:
        return any(self.wants(t, workspace_id, dataset_id) for t in types)


# Built once: constructing a statement costs more than running it (every write transaction asks).
_ENABLED_WEBHOOKS = select(Webhook.id, Webhook.events, Webhook.workspace_id, Webhook.dataset_id).where(
    Webhook.enabled, Webhook.kind == "events"
)
_OPEN_STREAMS = select(EventStream.event_types, EventStream.dataset_id).where(
    EventStream.expires_at > bindparam("now")
)

_INSERT_EVENTS = insert(table_of(Event)).returning(table_of(Event).c.id, sort_by_parameter_order=True)
_INSERT_DELIVERIES = insert(table_of(Delivery))
_NOTIFY = text("SELECT pg_notify(:channel, '')")


async def consumers(session: AsyncSession) -> Consumers:
    """Who listens, read once per transaction (cached on the session)."""
    cached = session.info.get(CONSUMERS_KEY)
    if isinstance(cached, Consumers):
        return cached
    found = Consumers(retain_all=bool(session.info.get(RETAIN_ALL_EVENTS)))
    webhooks: list[Any]
    streams: list[Any]
    if _is_postgresql(session):
        webhooks = list(await session.execute(_ENABLED_WEBHOOKS))
        streams = list(await session.execute(_OPEN_STREAMS, {"now": utcnow()}))
    else:
        webhooks, streams = await _consumer_rows_sqlite(session)
    for webhook_id, types, workspace_id, dataset_id in webhooks:
        found.webhooks.append(Subscription(webhook_id, frozenset(types or ()), workspace_id, dataset_id))
    for stream_types, stream_dataset_id in streams:
        found.streams.append(
            Subscription(None, frozenset(stream_types) if stream_types else None, None, stream_dataset_id)
        )
    session.info[CONSUMERS_KEY] = found
    return found


_ENABLED_WEBHOOKS_SQLITE = (
    "SELECT id, events, workspace_id, dataset_id FROM webhooks WHERE enabled AND kind = 'events'"
)
_OPEN_STREAMS_SQLITE = "SELECT event_types, dataset_id FROM event_streams WHERE expires_at > ?"


async def _consumer_rows_sqlite(session: AsyncSession) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The two queries of `consumers` straight to the SQLite driver (every write transaction asks;
    SQLAlchemy's per-statement work cost more than SQLite's), decoded as the column types would."""
    driver = await sqlite_connection(session)
    webhooks = [
        (uuid.UUID(hex=webhook_id), stored_json(events), _uuid(workspace_id), _uuid(dataset_id))
        for webhook_id, events, workspace_id, dataset_id in await driver.execute_fetchall(
            _ENABLED_WEBHOOKS_SQLITE
        )
    ]
    now = sqlite_time(utcnow())
    streams = [
        (stored_json(event_types), _uuid(dataset_id))
        for event_types, dataset_id in await driver.execute_fetchall(_OPEN_STREAMS_SQLITE, (now,))
    ]
    return webhooks, streams


def _uuid(stored: str | None) -> uuid.UUID | None:
    return None if stored is None else uuid.UUID(hex=stored)


def forget_consumers(session: AsyncSession) -> None:
    """Call after changing webhooks or streams inside a transaction."""
    session.info.pop(CONSUMERS_KEY, None)


@dataclass
class NewEvent:
    type: str
    data: dict[str, Any]
    workspace_id: uuid.UUID | None = None
    dataset_id: uuid.UUID | None = None
    # the dataset, stored once per state and put back at `snapshot_path` when delivered
    snapshot: dict[str, Any] | None = None
    snapshot_path: str | None = None
    occurred_at: datetime = field(default_factory=utcnow)


def _is_postgresql(session: AsyncSession) -> bool:
    bind = session.get_bind()
    return bind.dialect.name == "postgresql"


def _dialect_insert(session: AsyncSession) -> Any:
    return postgresql.insert if _is_postgresql(session) else sqlite.insert


async def _snapshot_ids(session: AsyncSession, snapshots: dict[str, dict[str, Any]]) -> dict[str, int]:
    if not snapshots:
        return {}
    stmt = _dialect_insert(session)(table_of(DatasetSnapshot)).on_conflict_do_nothing(
        index_elements=["digest"]
    )
    await session.execute(stmt, [{"digest": digest, "data": data} for digest, data in snapshots.items()])
    rows = await session.execute(
        select(DatasetSnapshot.digest, DatasetSnapshot.id).where(DatasetSnapshot.digest.in_(list(snapshots)))
    )
    return {digest: snapshot_id for digest, snapshot_id in rows}


def snapshot_digest(data: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(data, option=orjson.OPT_SORT_KEYS)).hexdigest()


async def publish(session: AsyncSession, events: Sequence[NewEvent]) -> int:
    """Store the events somebody wants and queue one delivery per matching webhook. Returns how
    many events were stored."""
    found = await consumers(session)
    wanted = [e for e in events if found.wants(e.type, e.workspace_id, e.dataset_id)]
    if not wanted:
        return 0
    digests: list[str | None] = []
    snapshots: dict[str, dict[str, Any]] = {}
    for event in wanted:
        if event.snapshot is None:
            digests.append(None)
            continue
        digest = snapshot_digest(event.snapshot)
        snapshots.setdefault(digest, event.snapshot)
        digests.append(digest)
    snapshot_ids = await _snapshot_ids(session, snapshots)

    rows = [
        {
            "type": event.type,
            "occurred_at": event.occurred_at,
            "dataset_id": event.dataset_id,
            "workspace_id": event.workspace_id,
            "data": event.data,
            "dataset_snapshot_id": snapshot_ids[digest] if digest else None,
            "snapshot_path": event.snapshot_path if digest else None,
        }
        for event, digest in zip(wanted, digests, strict=True)
    ]
    result = await session.execute(_INSERT_EVENTS, rows)
    event_ids = [row[0] for row in result]

    now = utcnow()
    deliveries = []
    targets = [
        (event, event_id, webhook_id)
        for event, event_id in zip(wanted, event_ids, strict=True)
        for webhook_id in found.webhook_ids(event.type, event.workspace_id, event.dataset_id)
    ]
    # time-ordered: a batch's deliveries share index pages, as its claims and results will
    new_ids = time_ordered_ids(len(targets))
    for (event, event_id, webhook_id), delivery_id in zip(targets, new_ids, strict=True):
        deliveries.append(
            {
                "id": delivery_id, "webhook_id": webhook_id, "event_id": event_id, "event_type": event.type,
                "msg_id": f"msg_{delivery_id.hex}", "status": DeliveryStatus.pending.value, "attempts": 0,
                "next_attempt_at": now, "inserted_at": now, "updated_at": now,
            }
        )  # fmt: skip
    if deliveries:
        await session.execute(_INSERT_DELIVERIES, deliveries)
    await mark_outbox_dirty(session)  # dispatchers and event streams wake on commit
    return len(wanted)


async def mark_outbox_dirty(session: AsyncSession) -> None:
    """Wake dispatchers when this transaction commits: in this process through `Database.commit`,
    in others through PostgreSQL NOTIFY (delivered at commit, dropped on rollback)."""
    if session.info.get(OUTBOX_DIRTY):
        return
    session.info[OUTBOX_DIRTY] = True
    if _is_postgresql(session):
        await session.execute(_NOTIFY, {"channel": NOTIFY_CHANNEL})
