"""A webhook's deliveries: reading them with their attempts, redelivering one, replaying a window
of stored events. Never commits.

Replay works on the `events` table, which holds an event only if something listened for it when it
happened (an enabled webhook, an open event stream, or `QUIRE_EVENTS_RETAIN_ALL`; see
`events.outbox`). It can therefore re-send what this webhook already received, and back-fill it
with events stored for other consumers; it cannot invent events nobody stored.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Select, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.errors import Conflict, Invalid, NotFound
from quire.server.events.assemble import load_bodies
from quire.server.events.outbox import mark_outbox_dirty
from quire.server.ids import time_ordered_ids
from quire.server.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, Webhook, table_of, utcnow
from quire.server.sql import chunks

MAX_REPLAY_EVENTS = 100_000
"""Events one replay request may queue; a wider window is refused (replay it in parts)."""


@dataclass(frozen=True)
class DeliveryFilter:
    status: DeliveryStatus | None = None
    event_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None


async def list_deliveries(
    session: AsyncSession, webhook: Webhook, *, where: DeliveryFilter, offset: int, limit: int
) -> tuple[list[Delivery], int]:
    """Newest first, with the total that matches."""
    conditions = [Delivery.webhook_id == webhook.id]
    if where.status is not None:
        conditions.append(Delivery.status == where.status.value)
    if where.event_type is not None:
        conditions.append(Delivery.event_type == where.event_type)
    if where.since is not None:
        conditions.append(Delivery.inserted_at >= where.since)
    if where.until is not None:
        conditions.append(Delivery.inserted_at < where.until)
    total = await session.scalar(select(func.count()).select_from(Delivery).where(*conditions))
    rows = await session.scalars(
        select(Delivery)
        .where(*conditions)
        .order_by(Delivery.inserted_at.desc(), Delivery.id.desc())
        .offset(offset)
        .limit(limit)
    )
    return list(rows), int(total or 0)


async def get_delivery(
    session: AsyncSession, webhook: Webhook, delivery_id: uuid.UUID, *, for_update: bool = False
) -> Delivery:
    query = select(Delivery).where(Delivery.id == delivery_id, Delivery.webhook_id == webhook.id)
    if for_update:
        query = query.with_for_update()
    delivery: Delivery | None = await session.scalar(query)
    if delivery is None:
        raise NotFound(f"Delivery with id `{delivery_id}` not found for webhook `{webhook.id}`")
    return delivery


async def attempts_of(session: AsyncSession, delivery: Delivery) -> list[DeliveryAttempt]:
    rows = await session.scalars(
        select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery.id).order_by(DeliveryAttempt.id)
    )
    return list(rows)


async def body_of(session: AsyncSession, delivery: Delivery) -> dict[str, Any] | None:
    """The JSON the receiver gets: the stored event re-assembled, or the delivery's own payload."""
    if delivery.event_id is None:
        return delivery.payload
    body = (await load_bodies(session, [delivery.event_id])).get(delivery.event_id)
    if body is None:
        return None
    parsed: dict[str, Any] = orjson.loads(body)
    return parsed


def _not_in_flight(now: datetime) -> Any:
    """Deliveries no dispatcher is sending right now (an expired lease is a crashed worker's)."""
    return or_(
        Delivery.status != DeliveryStatus.delivering.value,
        Delivery.lease_expires_at.is_(None),
        Delivery.lease_expires_at < now,
    )


def _back_to_pending(now: datetime) -> dict[str, Any]:
    return {
        "status": DeliveryStatus.pending.value,
        "next_attempt_at": now,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
    }


async def redeliver(session: AsyncSession, delivery: Delivery) -> Delivery:
    """Due again now, with the same `msg_id`. The attempt history and count are kept, so this is one
    more attempt (plus whatever retries the policy still allows), as a manual resend should be."""
    now = utcnow()
    moved = await session.execute(
        update(Delivery)
        .where(Delivery.id == delivery.id, _not_in_flight(now))
        .values(**_back_to_pending(now))
        .execution_options(synchronize_session=False)
    )
    if getattr(moved, "rowcount", 0) != 1:
        raise Conflict("This delivery is being sent right now; look at it again in a moment")
    await session.refresh(delivery)
    await mark_outbox_dirty(session)
    return delivery


def _replay_query(
    webhook: Webhook, *, since: datetime, until: datetime, event_types: list[str] | None
) -> Select[int, str, uuid.UUID]:
    types = [t for t in webhook.events if event_types is None or t in event_types]
    query = (
        select(Event.id, Event.type, Delivery.id.label("delivery_id"))
        .outerjoin(Delivery, and_(Delivery.event_id == Event.id, Delivery.webhook_id == webhook.id))
        .where(Event.occurred_at >= since, Event.occurred_at < until, Event.type.in_(types))
        .order_by(Event.id)
    )
    if webhook.workspace_id is not None:
        query = query.where(Event.workspace_id == webhook.workspace_id)
    if webhook.dataset_id is not None:
        query = query.where(Event.dataset_id == webhook.dataset_id)
    return query


@dataclass(frozen=True)
class ReplayOutcome:
    created: int
    reset: int

    @property
    def queued(self) -> int:
        return self.created + self.reset


async def replay(
    session: AsyncSession,
    webhook: Webhook,
    *,
    since: datetime,
    until: datetime | None = None,
    event_types: list[str] | None = None,
) -> ReplayOutcome:
    """Queue this webhook's deliveries of the stored events that happened in `[since, until)` and
    match its event types (narrowed by `event_types`) and scope: missing deliveries are created,
    existing ones go back to pending (those being sent right now are left alone)."""
    now = utcnow()
    until = until or now
    if until <= since:
        raise Invalid(f"`until` ({until.isoformat()}) must be after `since` ({since.isoformat()})")
    query = _replay_query(webhook, since=since, until=until, event_types=event_types)
    rows = (await session.execute(query.limit(MAX_REPLAY_EVENTS + 1))).all()
    if len(rows) > MAX_REPLAY_EVENTS:
        raise Invalid(
            f"more than {MAX_REPLAY_EVENTS} events in that window; replay a shorter window at a time"
        )
    missing = [(event_id, event_type) for event_id, event_type, delivery_id in rows if delivery_id is None]
    existing = [delivery_id for _, _, delivery_id in rows if delivery_id is not None]

    reset = created = 0
    for batch in chunks(existing, 500):
        result = await session.execute(
            update(Delivery)
            .where(Delivery.id.in_(batch), _not_in_flight(now))
            .values(**_back_to_pending(now))
            .execution_options(synchronize_session=False)
        )
        reset += int(getattr(result, "rowcount", 0) or 0)
    for batch in chunks(missing, 500):
        new_rows = []
        for (event_id, event_type), delivery_id in zip(batch, time_ordered_ids(len(batch)), strict=True):
            new_rows.append(
                {
                    "id": delivery_id, "webhook_id": webhook.id, "event_id": event_id, "event_type": event_type,
                    "msg_id": f"msg_{delivery_id.hex}", "status": DeliveryStatus.pending.value, "attempts": 0,
                    "next_attempt_at": now, "inserted_at": now, "updated_at": now,
                }
            )  # fmt: skip
        result = await session.execute(_insert_new(session).values(new_rows))
        created += int(getattr(result, "rowcount", 0) or 0)
    if created or reset:
        await mark_outbox_dirty(session)
    return ReplayOutcome(created=created, reset=reset)


def _insert_new(session: AsyncSession) -> Any:
    """INSERT that skips a delivery another transaction created meanwhile (same event and webhook)."""
    dialect_insert: Any = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )
    return dialect_insert(table_of(Delivery)).on_conflict_do_nothing(
        index_elements=["event_id", "webhook_id"]
    )
