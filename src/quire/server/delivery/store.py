"""The dispatcher's reads and writes. Each function runs inside a transaction the dispatcher opens
and commits itself (it is its own unit of work); all statements are Core and batched.

Claim protocol: a due delivery (`pending`, `next_attempt_at <= now`) is claimed by setting
`status = 'delivering'`, `lease_owner` and `lease_expires_at`; on PostgreSQL the rows are picked
with `FOR UPDATE SKIP LOCKED`, so concurrent workers claim disjoint sets. Finishing an attempt
writes only rows whose lease is still ours (`lease_owner = :me`, checked under a row lock), so a
worker that lost its claim records nothing. Claims whose lease expired, or whose owner is a dead
process of this machine, go back to `pending` (`release_stale`) and are claimed again.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import (
    ColumnElement,
    Select,
    any_,
    func,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.db import Dialect
from quire.server.delivery.outcomes import Decision
from quire.server.delivery.policies import DeliveryPolicy
from quire.server.delivery.sender import AttemptResult, signing_secrets, webhook_policy
from quire.server.events.assemble import assemble, load_bodies, render
from quire.server.models import (
    Delivery,
    DeliveryAttempt,
    DeliveryStatus,
    Webhook,
    table_of,
)
from quire.server.sql import sqlite_connection, sqlite_time, stored_json

DELIVERIES = table_of(Delivery)
ATTEMPTS = table_of(DeliveryAttempt)
WEBHOOKS = table_of(Webhook)
PENDING = DeliveryStatus.pending.value
DELIVERING = DeliveryStatus.delivering.value


@dataclass(frozen=True)
class WebhookState:
    """An enabled webhook as the dispatcher sends to it, with its earliest pending delivery."""

    id: uuid.UUID
    url: str
    secrets: tuple[str, ...]
    headers: dict[str, str]
    policy: DeliveryPolicy
    next_due: datetime | None


@dataclass(frozen=True)
class Claim:
    id: uuid.UUID
    webhook_id: uuid.UUID
    msg_id: str
    event_type: str
    attempt: int
    """The number of the attempt about to be made (1 for the first)."""
    body: bytes | None
    """None when the stored event is gone (it cannot be, with the foreign keys; kept safe anyway)."""
    lease_expires_at: datetime


Want = tuple[uuid.UUID, int, datetime]
"""A claim to make: webhook id, how many at most, lease expiry."""


@dataclass(frozen=True)
class Finished:
    claim: Claim
    result: AttemptResult
    decision: Decision


@dataclass
class FinishReport:
    written: list[Finished] = field(default_factory=list)
    lost: list[Finished] = field(default_factory=list)
    """Attempts whose claim was no longer ours: nothing was written for them."""
    disabled: dict[uuid.UUID, str] = field(default_factory=dict)


async def enabled_webhooks(session: AsyncSession, *, now: datetime) -> list[WebhookState]:
    """Enabled webhooks with their earliest pending delivery (one index seek each)."""
    next_due = (
        select(func.min(DELIVERIES.c.next_attempt_at))
        .where(DELIVERIES.c.webhook_id == WEBHOOKS.c.id, DELIVERIES.c.status == PENDING)
        .correlate(WEBHOOKS)
        .scalar_subquery()
    )
    rows = await session.execute(
        select(
            WEBHOOKS.c.id,
            WEBHOOKS.c.url,
            WEBHOOKS.c.secret,
            WEBHOOKS.c.previous_secret,
            WEBHOOKS.c.previous_secret_expires_at,
            WEBHOOKS.c.headers,
            WEBHOOKS.c.policy,
            WEBHOOKS.c.kind,
            next_due.label("next_due"),
        ).where(WEBHOOKS.c.enabled.is_(True))
    )
    return [
        WebhookState(
            id=row.id,
            url=row.url,
            secrets=signing_secrets(row.secret, row.previous_secret, row.previous_secret_expires_at, now=now),
            headers=dict(row.headers or {}),
            policy=webhook_policy(row.policy, row.kind),
            next_due=row.next_due,
        )
        for row in rows
    ]


def _picked(dialect: Dialect, rows: Select[tuple[uuid.UUID]]) -> ColumnElement[bool]:
    """`id` among the rows of a subquery. PostgreSQL: rows locked by nobody else (`FOR UPDATE SKIP
    LOCKED`), and `= ANY(ARRAY(…))` so the update finds them by primary key rather than hashing the
    whole table."""
    if dialect == "postgresql":
        return DELIVERIES.c.id == any_(func.array(rows.with_for_update(skip_locked=True).scalar_subquery()))
    return DELIVERIES.c.id.in_(rows.scalar_subquery())


async def claim(
    session: AsyncSession,
    *,
    dialect: Dialect,
    owner: str,
    wants: Iterable[Want],
    now: datetime,
) -> list[Claim]:
    """Claim up to `limit` due deliveries of each `(webhook_id, limit, lease_expires_at)`, oldest
    first, and load their bodies."""
    wants = list(wants)
    if not wants:
        return []
    if dialect == "sqlite":
        return await _claim_sqlite(session, owner=owner, wants=wants, now=now)
    return await _claim_postgresql(session, owner=owner, wants=wants, now=now)


# PostgreSQL: one statement claims for every webhook and returns each claim with its stored event,
# webhook by webhook (in the order asked), oldest first. `wanted` picks, per webhook, its oldest due
# rows that nobody else has locked (`FOR UPDATE SKIP LOCKED`, as `_picked`), with that webhook's
# lease; the update finds them by primary key (`= ANY(ARRAY(…))`, not a join over the table). The
# event is read per claimed row by primary key (`OFFSET 0` keeps the subquery a nested-loop lookup
# instead of a join the planner might run over all events).
_CLAIM_POSTGRESQL = """
WITH wanted AS MATERIALIZED (
    SELECT p.id, p.next_attempt_at, w.until, w.nth
    FROM unnest($1::uuid[], $2::int[], $3::timestamp[]) WITH ORDINALITY AS w(webhook, quota, until, nth)
    CROSS JOIN LATERAL (
        SELECT id, next_attempt_at FROM deliveries
        WHERE webhook_id = w.webhook AND status = 'pending' AND next_attempt_at <= $4
        ORDER BY next_attempt_at LIMIT w.quota
        FOR UPDATE SKIP LOCKED
    ) AS p
), claimed AS (
    UPDATE deliveries AS d
    SET status = 'delivering', lease_owner = $5, lease_expires_at = wanted.until, updated_at = $4
    FROM wanted
    WHERE d.id = ANY(ARRAY(SELECT id FROM wanted)) AND d.id = wanted.id
    RETURNING d.id, d.webhook_id, d.event_id, d.event_type, d.payload, d.msg_id, d.attempts,
              d.lease_expires_at, wanted.nth, wanted.next_attempt_at
)
SELECT c.id, c.webhook_id, c.event_id, c.event_type, c.payload, c.msg_id, c.attempts,
       c.lease_expires_at, e.type, e.occurred_at, e.data, e.dataset_snapshot_id, e.snapshot_path
FROM claimed AS c
LEFT JOIN LATERAL (
    SELECT type, occurred_at, data, dataset_snapshot_id, snapshot_path
    FROM events WHERE events.id = c.event_id OFFSET 0
) AS e ON true
ORDER BY c.nth, c.next_attempt_at"""
_SNAPSHOTS_POSTGRESQL = "SELECT id, data FROM dataset_snapshots WHERE id = ANY($1::bigint[])"


def _adapter_internals_known(adapted: Any) -> bool:
    """The parts of SQLAlchemy's asyncpg adapter (private, as of 2.0–2.1) `_postgresql` uses."""
    return all(hasattr(adapted, name) for name in ("_transaction", "_execute_mutex", "_start_transaction"))


async def _postgresql(session: AsyncSession) -> Any:
    """PostgreSQL: the asyncpg connection under the session's transaction. SQLAlchemy's adapter
    begins the transaction at its first statement; a round may start with ours, so begin it here
    (as the adapter would) before using the connection directly. Statements through it are
    prepared once per connection (asyncpg's statement cache) and take ids, timestamps and arrays
    as they are, instead of SQLAlchemy compiling, processing and wrapping each one."""
    conn = await session.connection()
    raw = await conn.get_raw_connection()
    adapted: Any = raw.dbapi_connection
    if not _adapter_internals_known(adapted):
        # another SQLAlchemy moved them: one statement through the adapter's public path begins
        # the transaction instead, at the cost of a round trip
        await conn.exec_driver_sql("SELECT 1")
    elif adapted._transaction is None:
        async with adapted._execute_mutex:
            if adapted._transaction is None:
                await adapted._start_transaction()
    return raw.driver_connection


def _aware(moment: datetime | None) -> datetime | None:
    """A `timestamp` read through asyncpg (naive UTC) as `UTCDateTime` returns it."""
    return None if moment is None else moment.replace(tzinfo=UTC)


async def _claim_postgresql(
    session: AsyncSession, *, owner: str, wants: list[Want], now: datetime
) -> list[Claim]:
    driver = await _postgresql(session)
    rows = await driver.fetch(
        _CLAIM_POSTGRESQL,
        [webhook_id for webhook_id, _, _ in wants],
        [limit for _, limit, _ in wants],
        [_naive(until) for _, _, until in wants],
        _naive(now),
        owner,
    )
    if not rows:
        return []
    snapshots: dict[int, Any] = {}
    wanted = {row[11] for row in rows if row[11] is not None}
    if wanted:
        snapshots = dict(await driver.fetch(_SNAPSHOTS_POSTGRESQL, list(wanted)))
    bodies: dict[int, bytes] = {}
    claims = []
    for row in rows:
        event_id = row[2]
        if event_id is None:
            body: bytes | None = render(row[4])
        elif event_id in bodies:
            body = bodies[event_id]
        elif row[8] is None:  # the event is gone
            body = None
        else:
            snapshot = snapshots.get(row[11]) if row[11] is not None else None
            body = bodies[event_id] = render(
                assemble(row[8], row[9].replace(tzinfo=UTC), row[10], snapshot, row[12])
            )
        claims.append(
            Claim(
                id=row[0],
                webhook_id=row[1],
                msg_id=row[5],
                event_type=row[3],
                attempt=row[6] + 1,
                body=body,
                lease_expires_at=row[7].replace(tzinfo=UTC),
            )
        )
    return claims


_CLAIM_SQLITE = """
UPDATE deliveries SET status = 'delivering', lease_owner = :owner, lease_expires_at = :until, updated_at = :now
WHERE id IN (
    SELECT id FROM deliveries
    WHERE webhook_id = :webhook AND status = 'pending' AND next_attempt_at <= :now
    ORDER BY next_attempt_at LIMIT :limit
)
RETURNING id, event_id, event_type, payload, msg_id, attempts"""


async def _claim_sqlite(
    session: AsyncSession, *, owner: str, wants: list[Want], now: datetime
) -> list[Claim]:
    driver = await sqlite_connection(session)
    stamp = sqlite_time(now)
    returned: list[tuple[uuid.UUID, datetime, Any]] = []
    for webhook_id, limit, lease_until in wants:
        rows = await driver.execute_fetchall(
            _CLAIM_SQLITE,
            {
                "owner": owner,
                "until": sqlite_time(lease_until),
                "now": stamp,
                "webhook": webhook_id.hex,
                "limit": limit,
            },
        )
        returned.extend((webhook_id, lease_until, row) for row in rows)
    if not returned:
        return []
    bodies = await load_bodies(session, [row[1] for _, _, row in returned if row[1] is not None])
    return [
        Claim(
            id=uuid.UUID(hex=row[0]),
            webhook_id=webhook_id,
            msg_id=row[4],
            event_type=row[2],
            attempt=row[5] + 1,
            body=bodies.get(row[1]) if row[1] is not None else render(stored_json(row[3])),
            lease_expires_at=lease_until,
        )
        for webhook_id, lease_until, row in returned
    ]


async def lease_holders(session: AsyncSession) -> list[tuple[str | None, datetime | None]]:
    """Who holds claims, with the earliest expiry of each (few rows: what is in flight)."""
    rows = await session.execute(
        select(DELIVERIES.c.lease_owner, func.min(DELIVERIES.c.lease_expires_at))
        .where(DELIVERIES.c.status == DELIVERING)
        .group_by(DELIVERIES.c.lease_owner)
    )
    return [(owner, expires) for owner, expires in rows]


async def release_stale(
    session: AsyncSession, *, dialect: Dialect, dead_owners: Sequence[str], now: datetime, limit: int = 5000
) -> int:
    """Put claims whose lease expired, or whose owner is dead, back to pending."""
    stale = DELIVERIES.c.lease_expires_at < now
    if dead_owners:
        stale = stale | DELIVERIES.c.lease_owner.in_(list(dead_owners))
    picked = select(DELIVERIES.c.id).where(DELIVERIES.c.status == DELIVERING, stale).limit(limit)
    result = await session.execute(
        update(DELIVERIES)
        .where(_picked(dialect, picked))
        .values(status=PENDING, lease_owner=None, lease_expires_at=None, updated_at=now)
    )
    return int(getattr(result, "rowcount", 0) or 0)


async def release(session: AsyncSession, *, owner: str, ids: Sequence[uuid.UUID], now: datetime) -> None:
    """Give back claims we will not send (shutdown, webhook disabled, lease too short to start)."""
    if not ids:
        return
    await session.execute(
        update(DELIVERIES)
        .where(
            DELIVERIES.c.id.in_(list(ids)),
            DELIVERIES.c.lease_owner == owner,
            DELIVERIES.c.status == DELIVERING,
        )
        .values(status=PENDING, lease_owner=None, lease_expires_at=None, updated_at=now)
    )


# SQLite: one statement records a whole batch and applies the lease guard: the batch travels as one
# JSON parameter (constant SQL, compiled once), a row per delivery as an array (positions are
# cheaper to extract than keys), and only rows whose claim is still ours are updated and returned.
_FINISH_SQLITE = """
UPDATE deliveries SET
    status = v.status, attempts = v.attempts,
    next_attempt_at = coalesce(v.next_at, deliveries.next_attempt_at),
    delivered_at = coalesce(v.delivered_at, deliveries.delivered_at),
    last_status_code = v.code, last_error = v.error,
    lease_owner = NULL, lease_expires_at = NULL, updated_at = :now
FROM (
    SELECT value ->> 0 AS id, value ->> 1 AS status, value ->> 2 AS attempts, value ->> 3 AS next_at,
           value ->> 4 AS delivered_at, value ->> 5 AS code, value ->> 6 AS error
    FROM json_each(:batch)
) AS v
WHERE deliveries.id = v.id AND deliveries.lease_owner = :owner AND +deliveries.status = 'delivering'
RETURNING deliveries.id"""


def _naive(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(tzinfo=None)


def _status_after(decision: Decision) -> str:
    return {"succeeded": "succeeded", "retry": PENDING, "failed": "failed"}[decision.verdict]


async def finish(
    session: AsyncSession,
    *,
    dialect: Dialect,
    owner: str,
    batch: Sequence[Finished],
    failures_before_disable: int,
    now: datetime,
) -> FinishReport:
    """Record a batch of attempts and their consequences, for the claims that are still ours."""
    report = FinishReport()
    if not batch:
        return report
    if dialect == "sqlite":
        await _finish_sqlite(session, report, owner=owner, batch=batch, now=now)
        if report.written:
            await _update_webhooks(
                session,
                report,
                failures_before_disable=failures_before_disable,
                now=now,
                driver=await sqlite_connection(session),
            )
        return report
    driver = await _postgresql(session)
    await _finish_postgresql(driver, report, owner=owner, batch=batch, now=now)
    if report.written:
        await _update_webhooks(
            session, report, failures_before_disable=failures_before_disable, now=now, postgresql=driver
        )
    return report


_ATTEMPT_COLUMNS = (
    "delivery_id, number, started_at, duration_ms, status_code, outcome, error, response_snippet, worker"
)


# PostgreSQL: one statement records a batch — the deliveries whose claim is still ours are updated
# (the lease guard checked under the row lock, as on SQLite) and exactly their attempts inserted, in
# the batch's order — and returns the ids written. The batch travels as arrays, one per column,
# natively typed. The rows are found by primary key: `status || ''` keeps the planner off the status
# index, whose `delivering` entries include every row claimed since the table was last vacuumed
# (thousands of dead ones under a backlog, each visited in the heap).
_FINISH_POSTGRESQL = f"""
WITH v AS MATERIALIZED (
    SELECT * FROM unnest($1::uuid[], $2::text[], $3::int[], $4::timestamp[], $5::text[], $6::int[],
                         $7::text[], $8::timestamp[], $9::float8[], $10::text[])
        WITH ORDINALITY AS v(id, status, attempts, next_at, outcome, code, error, started_at, duration_ms,
                             snippet, nth)
), written AS (
    UPDATE deliveries AS d SET
        status = v.status, attempts = v.attempts,
        next_attempt_at = coalesce(v.next_at, d.next_attempt_at),
        delivered_at = CASE WHEN v.outcome = 'succeeded' THEN $11 ELSE d.delivered_at END,
        last_status_code = v.code, last_error = v.error,
        lease_owner = NULL, lease_expires_at = NULL, updated_at = $11
    FROM v
    WHERE d.id = ANY($1::uuid[]) AND d.id = v.id AND d.lease_owner = $12 AND d.status || '' = 'delivering'
    RETURNING d.id
)
INSERT INTO delivery_attempts ({_ATTEMPT_COLUMNS})
SELECT v.id, v.attempts, v.started_at, v.duration_ms, v.code, v.outcome, v.error, v.snippet, $13
FROM v WHERE v.id IN (SELECT id FROM written)
ORDER BY v.nth
RETURNING delivery_id"""


async def _finish_postgresql(
    driver: Any, report: FinishReport, *, owner: str, batch: Sequence[Finished], now: datetime
) -> None:
    """`finish` on PostgreSQL: `_FINISH_POSTGRESQL` through asyncpg, the batch as one array per
    column (in the statement's order)."""
    rows = [
        (
            f.claim.id,
            _status_after(f.decision),
            f.claim.attempt,
            None if f.decision.next_attempt_at is None else _naive(f.decision.next_attempt_at),
            f.decision.verdict,
            f.result.status_code,
            f.result.error,
            _naive(f.result.started_at),
            f.result.duration_ms,
            f.result.response_snippet,
        )
        for f in batch
    ]
    columns = [list(column) for column in zip(*rows, strict=True)]
    owned = {
        row[0] for row in await driver.fetch(_FINISH_POSTGRESQL, *columns, _naive(now), owner, owner[:100])
    }
    for item in batch:
        (report.written if item.claim.id in owned else report.lost).append(item)


_SQLITE_ROWS_PER_INSERT = 1000  # 9 parameters a row: well under SQLite's limit


async def _finish_sqlite(
    session: AsyncSession, report: FinishReport, *, owner: str, batch: Sequence[Finished], now: datetime
) -> None:
    """`finish` on SQLite: the same statements, straight to the driver (values encoded once, as
    the column types store them)."""
    driver = await sqlite_connection(session)
    stamp = sqlite_time(now)
    rows = [  # the columns of _FINISH_SQLITE's `v`, in order
        (
            f.claim.id.hex,
            _status_after(f.decision),
            f.claim.attempt,
            None if f.decision.next_attempt_at is None else sqlite_time(f.decision.next_attempt_at),
            stamp if f.decision.verdict == "succeeded" else None,
            f.result.status_code,
            f.result.error,
        )
        for f in batch
    ]
    owned = {
        row[0]
        for row in await driver.execute_fetchall(
            _FINISH_SQLITE, {"batch": orjson.dumps(rows).decode(), "owner": owner, "now": stamp}
        )
    }
    for item in batch:
        (report.written if item.claim.id.hex in owned else report.lost).append(item)
    worker = owner[:100]
    for start in range(0, len(report.written), _SQLITE_ROWS_PER_INSERT):
        part = report.written[start : start + _SQLITE_ROWS_PER_INSERT]
        params: list[Any] = []
        for f in part:
            result = f.result
            params += (
                f.claim.id.hex,
                f.claim.attempt,
                sqlite_time(result.started_at),
                result.duration_ms,
                result.status_code,
                f.decision.verdict,
                result.error,
                result.response_snippet,
                worker,
            )
        values = ", ".join(["(?, ?, ?, ?, ?, ?, ?, ?, ?)"] * len(part))
        await driver.execute_fetchall(
            f"INSERT INTO delivery_attempts ({_ATTEMPT_COLUMNS}) VALUES {values}", params
        )


async def _update_webhooks(
    session: AsyncSession,
    report: FinishReport,
    *,
    failures_before_disable: int,
    now: datetime,
    driver: Any = None,
    postgresql: Any = None,
) -> None:
    """Failure streaks (a delivery that ends failed adds one, one that succeeds resets), and
    disabling: at once on 410 Gone, or when the streak reaches the limit."""
    streaks: dict[uuid.UUID, tuple[bool, int, str | None]] = {}
    gone: dict[uuid.UUID, str] = {}
    for f in report.written:
        webhook_id = f.claim.webhook_id
        reset, failures, last_error = streaks.get(webhook_id, (False, 0, None))
        if f.decision.verdict == "succeeded":
            streaks[webhook_id] = (True, 0, None)
        elif f.decision.verdict == "failed":
            streaks[webhook_id] = (reset, failures + 1, f.result.error)
        if f.decision.disable_reason:
            gone[webhook_id] = f.decision.disable_reason
    # a success resets the streak: one statement for every webhook whose batch ends with successes
    # only (the common case), instead of one per webhook
    cleared = [webhook_id for webhook_id, (reset, failures, _) in streaks.items() if reset and not failures]
    if cleared and driver is not None:  # SQLite: straight to the driver, as `_finish_sqlite`
        marks = ", ".join("?" * len(cleared))
        await driver.execute_fetchall(
            f"UPDATE webhooks SET consecutive_failures = 0 WHERE id IN ({marks}) AND consecutive_failures != 0",
            [webhook_id.hex for webhook_id in cleared],
        )
    elif cleared and postgresql is not None:  # PostgreSQL: straight to asyncpg, as `_finish_postgresql`
        await postgresql.execute(
            "UPDATE webhooks SET consecutive_failures = 0 WHERE id = ANY($1::uuid[]) AND consecutive_failures != 0",
            cleared,
        )
    elif cleared:
        await session.execute(
            update(WEBHOOKS)
            .where(WEBHOOKS.c.id.in_(cleared), WEBHOOKS.c.consecutive_failures != 0)
            .values(consecutive_failures=0)
        )
    for webhook_id, (reset, failures, last_error) in streaks.items():
        if reset and failures:
            await session.execute(
                update(WEBHOOKS)
                .where(WEBHOOKS.c.id == webhook_id, WEBHOOKS.c.consecutive_failures != failures)
                .values(consecutive_failures=failures)
            )
        elif failures:
            await session.execute(
                update(WEBHOOKS)
                .where(WEBHOOKS.c.id == webhook_id)
                .values(consecutive_failures=WEBHOOKS.c.consecutive_failures + failures)
            )
        if failures and webhook_id not in gone:
            reason = (
                f"disabled after {failures_before_disable} deliveries in a row failed (last: {last_error})"
            )
            disabled = await session.execute(
                update(WEBHOOKS)
                .where(
                    WEBHOOKS.c.id == webhook_id,
                    WEBHOOKS.c.enabled.is_(True),
                    WEBHOOKS.c.consecutive_failures >= failures_before_disable,
                )
                .values(enabled=False, disabled_reason=reason, updated_at=now)
                .returning(WEBHOOKS.c.id)
            )
            if disabled.first() is not None:
                report.disabled[webhook_id] = reason
    for webhook_id, reason in gone.items():
        disabled = await session.execute(
            update(WEBHOOKS)
            .where(WEBHOOKS.c.id == webhook_id, WEBHOOKS.c.enabled.is_(True))
            .values(enabled=False, disabled_reason=reason, updated_at=now)
            .returning(WEBHOOKS.c.id)
        )
        if disabled.first() is not None:
            report.disabled[webhook_id] = reason
