"""The event stream's store side: the `event_streams` row that keeps matching events stored while a
client listens (and for a grace period after it leaves), and reading stored events past a cursor
in commit order. Never commits.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Text,
    cast,
    delete,
    func,
    not_,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.db import Dialect
from quire.server.events.assemble import load_bodies
from quire.server.events.outbox import forget_consumers
from quire.server.models import Event, EventStream, User, WorkspaceUser, utcnow
from quire.server.streams.cursor import MAX_ID, Cursor

GRACE_PERIOD = timedelta(minutes=5)
"""How long events keep being stored for a stream after its client last showed up (or left)."""
FORGET_AFTER = timedelta(days=1)
"""Expired stream rows are deleted when another stream opens, after this long."""
MAX_SEEN = 10_000
"""(PostgreSQL) at most this many already-committed events are held back from a new stream; past
that, a new stream may also get some events committed just before it opened."""


@dataclass(frozen=True)
class StreamFilter:
    types: frozenset[str] | None = None
    dataset_id: uuid.UUID | None = None
    workspace_ids: frozenset[uuid.UUID] | None = None
    """None: every workspace (owners)."""
    responses_of: uuid.UUID | None = None
    """Only this user's `response.*` events (annotators)."""


@dataclass(frozen=True)
class StreamedEvent:
    cursor: Cursor
    type: str
    body: bytes


async def register(
    session: AsyncSession, *, types: Sequence[str] | None, dataset_id: uuid.UUID | None
) -> uuid.UUID:
    """Make the outbox store events this stream wants, from this transaction's commit on. Streams
    with the same filters share one row (a client reconnecting in a loop does not pile rows up for
    every writer to read)."""
    now = utcnow()
    await session.execute(delete(EventStream).where(EventStream.expires_at < now - FORGET_AFTER))
    wanted = sorted(types) if types else None
    same_scope = EventStream.dataset_id == dataset_id if dataset_id else EventStream.dataset_id.is_(None)
    live = await session.execute(
        select(EventStream.id, EventStream.event_types).where(EventStream.expires_at > now, same_scope)
    )
    for stream_id, stream_types in live:
        if (sorted(stream_types) if stream_types else None) == wanted:
            await keep_alive(session, stream_id)
            return stream_id
    stream_id = uuid.uuid4()
    session.add(
        EventStream(id=stream_id, event_types=wanted, dataset_id=dataset_id, expires_at=now + GRACE_PERIOD)
    )
    await session.flush()
    forget_consumers(session)
    return stream_id


async def keep_alive(session: AsyncSession, stream_id: uuid.UUID) -> None:
    """Push the stream's expiry forward (the client is still there)."""
    await session.execute(
        update(EventStream).where(EventStream.id == stream_id).values(expires_at=utcnow() + GRACE_PERIOD)
    )
    forget_consumers(session)


async def memberships(session: AsyncSession, user_id: uuid.UUID) -> frozenset[uuid.UUID] | None:
    """The user's workspaces, or None if the user is gone."""
    if await session.get(User, user_id) is None:
        return None
    rows = await session.scalars(select(WorkspaceUser.workspace_id).where(WorkspaceUser.user_id == user_id))
    return frozenset(rows)


def _pg_xmin() -> ColumnElement[int]:
    """The oldest transaction still running: every event below it is committed (or never will be)."""
    return cast(cast(func.pg_snapshot_xmin(func.pg_current_snapshot()), Text), BigInteger)


@dataclass(frozen=True)
class Start:
    """Where a stream starts: after `cursor`, minus `seen` (PostgreSQL: events committed before the
    start that sort after the cursor because an older transaction was still running)."""

    cursor: Cursor
    seen: frozenset[int] = frozenset()


async def head(session: AsyncSession, dialect: Dialect) -> Start:
    """Where a stream without `Last-Event-ID` starts: after everything committed so far (read in
    one snapshot, so nothing committed after it is missed)."""
    if dialect == "sqlite":
        return Start(Cursor(0, int(await session.scalar(select(func.max(Event.id))) or 0)))
    horizon = select(_pg_xmin().label("xmin")).subquery()
    rows = (
        await session.execute(
            select(horizon.c.xmin, Event.id)
            .select_from(horizon.outerjoin(Event, Event.txid >= horizon.c.xmin))
            .limit(MAX_SEEN)
        )
    ).all()
    xmin = int(rows[0][0])
    return Start(
        Cursor(xmin - 1, MAX_ID), frozenset(int(event_id) for _, event_id in rows if event_id is not None)
    )


async def locate(session: AsyncSession, event_id: int) -> Cursor | None:
    """(PostgreSQL) the cursor of an event known by its id only."""
    txid = await session.scalar(select(Event.txid).where(Event.id == event_id))
    return None if txid is None else Cursor(int(txid), event_id)


def _conditions(where: StreamFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if where.types is not None:
        conditions.append(Event.type.in_(sorted(where.types)))
    if where.dataset_id is not None:
        conditions.append(Event.dataset_id == where.dataset_id)
    if where.workspace_ids is not None:
        conditions.append(Event.workspace_id.in_(list(where.workspace_ids)))
    if where.responses_of is not None:
        conditions.append(
            or_(
                not_(Event.type.like("response.%")),
                Event.data["user"]["id"].as_string() == str(where.responses_of),
            )
        )
    return conditions


@dataclass(frozen=True)
class Batch:
    events: list[StreamedEvent]
    cursor: Cursor
    """After the last event read, including skipped ones."""
    full: bool


async def read(
    session: AsyncSession,
    dialect: Dialect,
    *,
    after: Cursor,
    where: StreamFilter,
    limit: int,
    skip: frozenset[int] = frozenset(),
) -> Batch:
    """The next stored events after `after`, in commit order, with their bodies (none of `skip`)."""
    query: Select[int, str, int | None]
    if dialect == "sqlite":
        query = select(Event.id, Event.type, Event.txid).where(Event.id > after.id).order_by(Event.id)
    else:
        query = (
            select(Event.id, Event.type, Event.txid)
            .where(Event.txid < _pg_xmin(), tuple_(Event.txid, Event.id) > tuple_(after.txid, after.id))
            .order_by(Event.txid, Event.id)
        )
    rows = (await session.execute(query.where(*_conditions(where)).limit(limit))).all()
    if not rows:
        return Batch([], after, full=False)
    last_id, _, last_txid = rows[-1]
    cursor = Cursor(0 if dialect == "sqlite" else int(last_txid or 0), last_id)
    wanted = [row for row in rows if row[0] not in skip]
    bodies = await load_bodies(session, [row[0] for row in wanted])
    events = [
        StreamedEvent(
            Cursor(0 if dialect == "sqlite" else int(txid or 0), event_id), event_type, bodies[event_id]
        )
        for event_id, event_type, txid in wanted
        if event_id in bodies
    ]
    return Batch(events, cursor, full=len(rows) == limit)
