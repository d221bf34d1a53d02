"""`POST /webhooks/{id}/ping`: a signed `ping` message, sent synchronously inside the request.

The body is `{"type": "ping", "version": 1, "timestamp": …, "data": {"agent": "quire", "version": …}}`.
As in Argilla, the endpoint answers 204 whatever the receiver does, and a disabled webhook is pinged
too. Unlike Argilla, the attempt is kept: a delivery of type `ping` (its own payload, no event) with
one attempt, `succeeded` or `failed`, readable under the webhook's deliveries. A ping is never
retried and does not count towards the webhook's failure streak.

The send happens with no transaction open (a slow receiver must not hold SQLite's write lock or
PostgreSQL's snapshot horizon for up to the policy's timeout); the outcome is written afterwards in a
transaction of its own.

`rg.webhook_listener` handlers cannot parse a ping (`ping` is not one of the SDK's event types), in
Argilla too: pings are for generic receivers.
"""

from __future__ import annotations

import logging
import uuid

from quire.server.db import Database
from quire.server.delivery.sender import send_once
from quire.server.events.assemble import render
from quire.server.models import Delivery, DeliveryAttempt, DeliveryStatus, Webhook
from quire.server.settings import Settings
from quire.server.webhooks.service import ping_body

logger = logging.getLogger("quire.server.webhooks")
WORKER = "api:ping"


async def ping(database: Database, settings: Settings, webhook: Webhook) -> Delivery | None:
    """Send the ping and record it; None if the webhook was deleted meanwhile."""
    body = ping_body()
    delivery_id = uuid.uuid4()
    msg_id = f"msg_{delivery_id.hex}"
    result = await send_once(webhook, render(body), msg_id, settings=settings)
    async with database.transaction() as session:
        if await session.get(Webhook, webhook.id) is None:
            logger.info("webhook %s was deleted while being pinged", webhook.id)
            return None
        delivery = Delivery(
            id=delivery_id,
            webhook_id=webhook.id,
            event_id=None,
            event_type="ping",
            payload=body,
            msg_id=msg_id,
            status=(DeliveryStatus.succeeded if result.ok else DeliveryStatus.failed).value,
            attempts=1,
            next_attempt_at=result.started_at,
            last_status_code=result.status_code,
            last_error=result.error,
            delivered_at=result.started_at if result.ok else None,
            inserted_at=result.started_at,
            updated_at=result.started_at,
        )
        session.add(delivery)
        await session.flush()
        session.add(
            DeliveryAttempt(
                delivery_id=delivery_id,
                number=1,
                started_at=result.started_at,
                duration_ms=result.duration_ms,
                status_code=result.status_code,
                outcome=result.kind,
                error=result.error,
                response_snippet=result.response_snippet,
                worker=WORKER,
            )
        )
    return delivery
