"""Windows: where a run's `[start_time, end_time)` ends, and which records changed inside it.

Timestamps (`records.updated_at`, `responses.updated_at`) are taken by the application inside write
transactions that commit later, so "now" is not a safe end: a transaction that took its timestamp
before now and commits after the scan would be missed. The end is therefore the *horizon*: a moment
before which every write has committed.

- SQLite: the run's transaction holds the write lock (`BEGIN IMMEDIATE`), and quire's writers take
  their timestamps after their own `BEGIN IMMEDIATE`; so once the lock is ours, every writer that
  took a timestamp has committed, and "now" is the horizon.
- PostgreSQL: writers take their timestamps after their transaction began, so the horizon is the
  start of the oldest transaction still open on the database (`pg_stat_activity.xact_start`), or
  now if none is. Transactions older than now are waited for first (up to half a second: most
  are a request or a dispatcher round, over in milliseconds), so a run triggered right after a
  write includes it. A transaction that began after that look takes later timestamps. Every quire
  process must connect as the same role (or one with `pg_read_all_stats`): others' transactions
  are invisible otherwise.

Then `QUIRE_RULES_SETTLE_SECONDS` is taken off, for clock skew between hosts.

The changes of a window come from two index range scans, `ix_records_dataset_updated_at` (records
created or updated) and `ix_responses_updated_at` (responses given or changed), so a run reads what
changed, not the dataset. A window with more changes than a run takes is cut short at a timestamp
boundary (every change before the cut is in, none after), and the next run follows at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.db import Dialect
from quire.server.models import Record, Response, utcnow

_OLDEST_TRANSACTION = text(
    """
    SELECT xact_start, pid FROM pg_stat_activity
    WHERE datname = current_database() AND pid <> pg_backend_pid() AND xact_start IS NOT NULL
      AND backend_type = 'client backend'
    ORDER BY xact_start LIMIT 1
    """
)
_FRESH_ACTIVITY = text("SELECT pg_stat_clear_snapshot()")
HORIZON_WAIT_SECONDS = 0.5
HORIZON_POLL_SECONDS = 0.01
TICK = timedelta(microseconds=1)
LAG_WARNING = timedelta(minutes=1)
logger = logging.getLogger(__name__)


async def horizon(
    session: AsyncSession,
    dialect: Dialect,
    *,
    settle_seconds: float,
    wait_seconds: float = HORIZON_WAIT_SECONDS,
) -> datetime:
    """The latest end a window closed now may have. On SQLite the session must already hold the
    write lock (a write session that has run a statement).

    On PostgreSQL, transactions that began before now and are still open (most are short: a
    request, a dispatcher round) are waited for up to `wait_seconds`, so that a run triggered
    right after a write includes it; only a transaction open longer than that holds the end back
    to its start."""
    end = utcnow()
    if dialect == "postgresql":
        give_up = time.monotonic() + wait_seconds
        while True:
            oldest = (await session.execute(_OLDEST_TRANSACTION)).first()
            if oldest is None or oldest.xact_start >= end:
                break
            if time.monotonic() >= give_up:
                if end - oldest.xact_start > LAG_WARNING:
                    logger.warning(
                        "rule windows are held back by a transaction open since %s (PostgreSQL pid %s)",
                        oldest.xact_start,
                        oldest.pid,
                    )
                end = oldest.xact_start
                break
            await asyncio.sleep(HORIZON_POLL_SECONDS)
            await session.execute(_FRESH_ACTIVITY)  # pg_stat_activity is read once per transaction
    return end - timedelta(seconds=settle_seconds)


@dataclass(frozen=True)
class Changes:
    record_ids: list[uuid.UUID]
    """Distinct, in the order of their first change in the window."""
    end: datetime
    """The window's end: the requested one, or earlier when it was cut short."""

    def cut(self, requested_end: datetime) -> bool:
        return self.end < requested_end


def _of_dataset(dataset_id: uuid.UUID) -> ColumnElement[bool]:
    """The response's record is in the dataset: a correlated test per response, so that responses
    (their `updated_at` index) drive the scan — a join lets SQLite, which has no statistics, walk
    the dataset's records instead."""
    return (
        select(Record.id)
        .where(Record.id == Response.record_id, Record.dataset_id == dataset_id)
        .correlate(Response)
        .exists()
    )


async def changed_records(
    session: AsyncSession, *, dataset_id: uuid.UUID, start: datetime, end: datetime, limit: int
) -> Changes:
    """Records of the dataset created, updated or answered in `[start, end)`; about `limit` of them
    at most (the window then ends earlier)."""
    updated = list(
        await session.execute(
            select(Record.updated_at, Record.id)
            .where(Record.dataset_id == dataset_id, Record.updated_at >= start, Record.updated_at < end)
            .order_by(Record.updated_at)
            .limit(limit + 1)
        )
    )
    answered = list(
        await session.execute(
            select(Response.updated_at, Response.record_id)
            .where(Response.updated_at >= start, Response.updated_at < end, _of_dataset(dataset_id))
            .order_by(Response.updated_at)
            .limit(limit + 1)
        )
    )
    # Every change before `cut` was read: each source read all of its own before its last row.
    cut = end
    for rows in (updated, answered):
        if len(rows) > limit:
            cut = min(cut, rows[-1][0])
    merged = sorted([(t, i) for t, i in updated if t < cut] + [(t, i) for t, i in answered if t < cut])
    if len(merged) > limit:
        cut = merged[limit][0]
        merged = [(t, i) for t, i in merged if t < cut]
    if cut < end and not merged:  # more than `limit` changes share the first timestamp: take them all
        merged = await _at(session, dataset_id=dataset_id, moment=cut)
        cut += TICK
    return Changes(list(dict.fromkeys(record_id for _, record_id in merged)), cut)


async def _at(
    session: AsyncSession, *, dataset_id: uuid.UUID, moment: datetime
) -> list[tuple[datetime, uuid.UUID]]:
    records = await session.execute(
        select(Record.updated_at, Record.id).where(
            Record.dataset_id == dataset_id, Record.updated_at == moment
        )
    )
    responses = await session.execute(
        select(Response.updated_at, Response.record_id).where(
            Response.updated_at == moment, _of_dataset(dataset_id)
        )
    )
    return [(t, i) for t, i in records] + [(t, i) for t, i in responses]
