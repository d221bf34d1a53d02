"""Turning stored events back into the JSON bodies receivers get.

The body is assembled from immutable stored parts (the event's data and its dataset snapshot), so
every attempt and redelivery of an event sends the same bytes.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Text, select, type_coerce
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.events.catalog import envelope, envelope_timestamp
from quire.server.models import DatasetSnapshot, Event
from quire.server.sql import chunks, sqlite_connection


def assemble(
    event_type: str,
    occurred_at: datetime | str,
    data: dict[str, Any] | str,
    snapshot: dict[str, Any] | str | None,
    snapshot_path: str | None,
) -> dict[str, Any]:
    """The `{"type", "version", "timestamp", "data"}` envelope with the dataset put back in place.
    `occurred_at` may be the envelope's timestamp text already. `data` and `snapshot` may be stored
    JSON text: it goes into the body as it is, unparsed (`orjson.Fragment`), except `data` when a
    snapshot must go inside it."""
    if snapshot is not None and snapshot_path:
        placed = orjson.Fragment(snapshot) if isinstance(snapshot, str) else snapshot
        data = orjson.loads(data) if isinstance(data, str) else copy.copy(data)
        target = data
        *parents, leaf = snapshot_path.split(".")
        for key in parents:
            target[key] = copy.copy(target[key])
            target = target[key]
        target[leaf] = placed
    elif isinstance(data, str):
        return envelope(event_type, occurred_at, orjson.Fragment(data))
    return envelope(event_type, occurred_at, data)


def render(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def _parsed(value: dict[str, Any] | str) -> dict[str, Any]:
    return orjson.loads(value) if isinstance(value, str) else value


async def load_bodies(session: AsyncSession, event_ids: Iterable[int]) -> dict[int, bytes]:
    """Rendered bodies of stored events, by event id."""
    ids = list(dict.fromkeys(event_ids))
    if session.get_bind().dialect.name == "sqlite":
        return await _load_bodies_sqlite(session, ids)
    return await _load_bodies_orm(session, ids)


async def _load_bodies_orm(session: AsyncSession, ids: list[int]) -> dict[int, bytes]:
    bodies: dict[int, bytes] = {}
    snapshot_cache: dict[int, Any] = {}
    jsonb = session.get_bind().dialect.name == "postgresql"
    for batch in chunks(ids, 500):
        rows = (
            await session.execute(
                select(
                    Event.id,
                    Event.type,
                    Event.occurred_at,
                    type_coerce(Event.data, Text),  # stored JSON text, put in the body unparsed
                    Event.dataset_snapshot_id,
                    Event.snapshot_path,
                ).where(Event.id.in_(batch))
            )
        ).all()
        missing = {r.dataset_snapshot_id for r in rows if r.dataset_snapshot_id is not None} - set(
            snapshot_cache
        )
        if missing:
            for snapshot_id, text in await session.execute(
                select(DatasetSnapshot.id, type_coerce(DatasetSnapshot.data, Text)).where(
                    DatasetSnapshot.id.in_(list(missing))
                )
            ):
                snapshot_cache[snapshot_id] = text
        for row in rows:
            data: dict[str, Any] | str = row[3]
            snapshot: dict[str, Any] | str | None = (
                snapshot_cache.get(row.dataset_snapshot_id) if row.dataset_snapshot_id else None
            )
            if jsonb:  # jsonb comes back spaced (or decoded): parsed, so the body is the dispatcher's
                data = _parsed(data)
                snapshot = None if snapshot is None else _parsed(snapshot)
            bodies[row.id] = render(assemble(row.type, row.occurred_at, data, snapshot, row.snapshot_path))
    return bodies


_EVENTS_SQLITE = (
    "SELECT id, type, occurred_at, data, dataset_snapshot_id, snapshot_path FROM events "
    "WHERE id IN (SELECT value FROM json_each(?))"
)
_SNAPSHOTS_SQLITE = "SELECT id, data FROM dataset_snapshots WHERE id IN (SELECT value FROM json_each(?))"
_STORED_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")


def _envelope_time(stored: str) -> str:
    """The envelope timestamp of a time stored on SQLite (naive UTC text, `sql.sqlite_time`),
    without a round trip through `datetime` when it has the usual form."""
    if _STORED_TIME.fullmatch(stored):
        return f"{stored[:10]}T{stored[11:]}Z"
    return envelope_timestamp(datetime.fromisoformat(stored).replace(tzinfo=UTC))


async def _load_bodies_sqlite(session: AsyncSession, ids: list[int]) -> dict[int, bytes]:
    """`load_bodies` straight from the SQLite driver (the dispatcher renders every body it claims)."""
    driver = await sqlite_connection(session)
    bodies: dict[int, bytes] = {}
    snapshots: dict[int, str] = {}
    for batch in chunks(ids, 500):
        rows = await driver.execute_fetchall(_EVENTS_SQLITE, (orjson.dumps(batch).decode(),))
        missing = {row[4] for row in rows if row[4] is not None} - snapshots.keys()
        if missing:
            found = await driver.execute_fetchall(
                _SNAPSHOTS_SQLITE, (orjson.dumps(sorted(missing)).decode(),)
            )
            snapshots.update((snapshot_id, text) for snapshot_id, text in found)
        for event_id, event_type, occurred_at, data, snapshot_id, path in rows:
            snapshot = snapshots.get(snapshot_id) if snapshot_id is not None else None
            bodies[event_id] = render(assemble(event_type, _envelope_time(occurred_at), data, snapshot, path))
    return bodies
