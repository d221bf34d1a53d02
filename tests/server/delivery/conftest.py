"""Delivery fixtures: loopback receivers, webhooks and deliveries written straight into the store,
dispatchers with schedules shortened through the scale settings (never by mocking time)."""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from quire.server.db import Database
from quire.server.delivery.dispatcher import Dispatcher
from quire.server.delivery.signing import generate_secret
from quire.server.events.outbox import NewEvent, mark_outbox_dirty, publish
from quire.server.models import Delivery, DeliveryAttempt, DeliveryStatus, Webhook, utcnow
from quire.server.settings import Settings
from tests.server.delivery.receiver import Receiver

FAST: dict[str, Any] = {
    "delivery_schedule_scale": 0.001,  # argilla: 10 ms, 60 ms, 180 ms
    # argilla: 5 s, langsmith: 1.25 s — short enough for a test, long enough that a loopback answer
    # on a loaded machine is never taken for a timeout (the timeout tests pass a smaller scale)
    "delivery_timeout_scale": 0.25,
    "delivery_poll_seconds": 0.2,
    "delivery_lease_seconds": 5.0,
}
PATIENCE = 30.0
"""How long the helpers wait for a condition by default: they return as soon as it holds, so this
only matters when something is wrong (or the machine is very busy)."""


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    r = Receiver()
    await r.start()
    yield r
    await r.stop()


@pytest.fixture
def closed_port() -> int:
    """A loopback port nobody listens on (connections are refused)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port: int = sock.getsockname()[1]
    sock.close()
    return port


def fast_settings(settings: Settings, **overrides: Any) -> Settings:
    return settings.model_copy(update={**FAST, **overrides})


StartDispatcher = Callable[..., Awaitable[Dispatcher]]


@pytest.fixture
async def start_dispatcher(settings: Settings) -> AsyncIterator[StartDispatcher]:
    """`await start_dispatcher(database, **settings_overrides)`; stopped at the end of the test."""
    started: list[Dispatcher] = []

    async def start(database: Database, **overrides: Any) -> Dispatcher:
        dispatcher = Dispatcher(database, fast_settings(settings, **overrides))
        await dispatcher.start()
        started.append(dispatcher)
        return dispatcher

    yield start
    for dispatcher in reversed(started):
        await dispatcher.stop(grace_seconds=2)


async def add_webhook(
    database: Database,
    url: str,
    *,
    secret: str | None = None,
    policy: str | dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    kind: str = "events",
    events: Sequence[str] = ("record.created",),
    enabled: bool = True,
    previous_secret: str | None = None,
    previous_secret_seconds: float = 0.0,
) -> Webhook:
    webhook = Webhook(
        id=uuid.uuid4(),
        url=url,
        secret=secret or generate_secret(),
        previous_secret=previous_secret,
        previous_secret_expires_at=(
            utcnow() + timedelta(seconds=previous_secret_seconds) if previous_secret else None
        ),
        events=list(events),
        enabled=enabled,
        headers=headers,
        policy=policy,
        kind=kind,
        consecutive_failures=0,
    )
    async with database.transaction() as session:
        session.add(webhook)
    return webhook


async def queue_messages(
    database: Database, webhook: Webhook, payloads: Sequence[dict[str, Any]]
) -> list[str]:
    """Deliveries that carry their own payload (as rule batches and pings do); returns msg ids."""
    now = utcnow()
    msg_ids = []
    async with database.transaction() as session:
        for payload in payloads:
            delivery_id = uuid.uuid4()
            msg_ids.append(f"msg_{delivery_id.hex}")
            session.add(
                Delivery(
                    id=delivery_id,
                    webhook_id=webhook.id,
                    event_id=None,
                    event_type="test",
                    payload=payload,
                    msg_id=msg_ids[-1],
                    status=DeliveryStatus.pending.value,
                    attempts=0,
                    next_attempt_at=now,
                )
            )
        await session.flush()
        await mark_outbox_dirty(session)
    return msg_ids


async def publish_events(
    database: Database, count: int, *, event_type: str = "record.created", start: int = 0
) -> int:
    async with database.transaction() as session:
        return await publish(session, [NewEvent(event_type, {"seq": start + i}) for i in range(count)])


async def deliveries(database: Database, webhook: Webhook | None = None) -> list[Delivery]:
    async with database.session(write=False) as session:
        query = select(Delivery).order_by(Delivery.inserted_at)
        if webhook is not None:
            query = query.where(Delivery.webhook_id == webhook.id)
        return list(await session.scalars(query))


async def attempts(database: Database, delivery_id: uuid.UUID) -> list[DeliveryAttempt]:
    async with database.session(write=False) as session:
        return list(
            await session.scalars(
                select(DeliveryAttempt)
                .where(DeliveryAttempt.delivery_id == delivery_id)
                .order_by(DeliveryAttempt.number)
            )
        )


async def webhook_row(database: Database, webhook_id: uuid.UUID) -> Webhook | None:
    async with database.session(write=False) as session:
        return await session.get(Webhook, webhook_id, populate_existing=True)


async def wait_until(
    check: Callable[[], Awaitable[bool]], *, within: float = PATIENCE, what: str = ""
) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await asyncio.sleep(0.02)


async def settled(
    database: Database, webhook: Webhook | None = None, *, within: float = PATIENCE
) -> list[Delivery]:
    """Wait until no delivery is pending or in flight; returns them all."""

    async def done() -> bool:
        rows = await deliveries(database, webhook)
        return bool(rows) and all(d.status in ("succeeded", "failed") for d in rows)

    await wait_until(done, within=within, what="deliveries to settle")
    return await deliveries(database, webhook)
