"""Turning stored events back into the JSON bodies receivers get.

The body is assembled from immutable stored parts (the event's data and its dataset snapshot), so
every attempt and redelivery of an event sends the same bytes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.events.catalog import envelope
from quire.server.models import DatasetSnapshot, Event
from quire.server.sql import chunks


def assemble(
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    snapshot: dict[str, Any] | None,
    snapshot_path: str | None,
) -> dict[str, Any]:
    """The `{"type", "version", "timestamp", "data"}` envelope with the dataset put back in place."""
    if snapshot is not None and snapshot_path:
        data = copy.copy(data)
        target = data
        *parents, leaf = snapshot_path.split(".")
        for key in parents:
            target[key] = copy.copy(target[key])
            target = target[key]
        target[leaf] = snapshot
    return envelope(event_type, occurred_at, data)


def render(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


async def load_bodies(session: AsyncSession, event_ids: Iterable[int]) -> dict[int, bytes]:
    """Rendered bodies of stored events, by event id."""
    ids = list(dict.fromkeys(event_ids))
    bodies: dict[int, bytes] = {}
    snapshot_cache: dict[int, dict[str, Any]] = {}
    for batch in chunks(ids, 500):
        rows = (
            await session.execute(
                select(
                    Event.id,
                    Event.type,
                    Event.occurred_at,
                    Event.data,
                    Event.dataset_snapshot_id,
                    Event.snapshot_path,
                ).where(Event.id.in_(batch))
            )
        ).all()
        missing = {r.dataset_snapshot_id for r in rows if r.dataset_snapshot_id is not None} - set(
            snapshot_cache
        )
        if missing:
            for snapshot_id, data in await session.execute(
                select(DatasetSnapshot.id, DatasetSnapshot.data).where(DatasetSnapshot.id.in_(list(missing)))
            ):
                snapshot_cache[snapshot_id] = data
        for row in rows:
            snapshot = snapshot_cache.get(row.dataset_snapshot_id) if row.dataset_snapshot_id else None
            bodies[row.id] = render(
                assemble(row.type, row.occurred_at, row.data, snapshot, row.snapshot_path)
            )
    return bodies
