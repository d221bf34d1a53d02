"""/api/v1/webhooks: Argilla's routes (list, create, update, delete, ping) and quire's (get one,
deliveries with their attempts, redeliver, replay, secret rotation, enable). Owner only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from quire.server.deps import ActorDep, DatabaseDep, SessionDep, SettingsDep, read_only
from quire.server.models import DeliveryStatus
from quire.server.models import Webhook as WebhookRow
from quire.server.policies import require_owner
from quire.server.webhooks import deliveries, service
from quire.server.webhooks.ping import ping
from quire.server.webhooks.schemas import (
    DeliveriesPage,
    Delivery,
    DeliveryAttempt,
    DeliveryDetail,
    Replay,
    ReplayResult,
    RotateSecret,
    Webhook,
    WebhookCreate,
    WebhookUpdate,
    aware,
)
from quire.server.wire import Items

router = APIRouter(tags=["webhooks"])
MAX_PAGE = 1000


def webhook_out(row: WebhookRow) -> Webhook:
    return Webhook(
        id=row.id,
        url=row.url,
        secret=row.secret,
        events=list(row.events),
        enabled=row.enabled,
        description=row.description,
        inserted_at=row.inserted_at,
        updated_at=row.updated_at,
        headers=service.masked_headers(row),
        policy=service.policy_of(row),
        workspace_id=row.workspace_id,
        dataset_id=row.dataset_id,
        disabled_reason=row.disabled_reason,
        consecutive_failures=row.consecutive_failures,
        previous_secret_expires_at=row.previous_secret_expires_at if row.previous_secret else None,
    )


@router.get("/webhooks", response_model=Items[Webhook])
async def list_webhooks(session: SessionDep, actor: ActorDep) -> Items[Webhook]:
    require_owner(actor)
    return Items[Webhook](items=[webhook_out(w) for w in await service.list_webhooks(session)])


@router.post("/webhooks", status_code=status.HTTP_201_CREATED, response_model=Webhook)
async def create_webhook(body: WebhookCreate, session: SessionDep, actor: ActorDep) -> Webhook:
    require_owner(actor)
    row = await service.create_webhook(
        session,
        url=body.url,
        events=body.events,
        description=body.description,
        enabled=body.enabled,
        headers=body.headers,
        policy=body.policy,
        workspace_id=body.workspace_id,
        dataset_id=body.dataset_id,
    )
    return webhook_out(row)


@router.get("/webhooks/{webhook_id}", response_model=Webhook, summary="Get one webhook (quire extension)")
async def get_webhook(webhook_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Webhook:
    require_owner(actor)
    return webhook_out(await service.get_webhook(session, webhook_id))


@router.patch("/webhooks/{webhook_id}", response_model=Webhook)
async def update_webhook(
    webhook_id: uuid.UUID, body: WebhookUpdate, session: SessionDep, actor: ActorDep
) -> Webhook:
    require_owner(actor)
    row = await service.get_webhook(session, webhook_id, for_update=True)
    changes = {
        name: getattr(body, name) for name in body.model_fields_set if name in WebhookUpdate.model_fields
    }
    return webhook_out(await service.update_webhook(session, row, changes))


@router.delete("/webhooks/{webhook_id}", response_model=Webhook)
async def delete_webhook(webhook_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Webhook:
    require_owner(actor)
    row = await service.get_webhook(session, webhook_id)
    out = webhook_out(row)
    await service.delete_webhook(session, row)
    return out


@router.post("/webhooks/{webhook_id}/ping", status_code=status.HTTP_204_NO_CONTENT)
@read_only
async def ping_webhook(
    webhook_id: uuid.UUID, session: SessionDep, actor: ActorDep, database: DatabaseDep, settings: SettingsDep
) -> Response:
    """Send a signed `ping` now and wait for the answer. 204 whatever the receiver answers; the
    attempt is kept as a delivery of type `ping` (see `webhooks.ping`)."""
    require_owner(actor)
    webhook = await service.get_webhook(session, webhook_id)
    session.expunge(webhook)
    await session.rollback()  # no transaction stays open while waiting for the receiver
    await ping(database, settings, webhook)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/webhooks/{webhook_id}/enable", response_model=Webhook, summary="Re-enable (quire extension)")
async def enable_webhook(webhook_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Webhook:
    require_owner(actor)
    row = await service.get_webhook(session, webhook_id, for_update=True)
    return webhook_out(await service.enable_webhook(session, row))


@router.post(
    "/webhooks/{webhook_id}/rotate-secret",
    response_model=Webhook,
    summary="Rotate the secret (quire extension)",
)
async def rotate_secret(
    webhook_id: uuid.UUID, session: SessionDep, actor: ActorDep, body: RotateSecret | None = None
) -> Webhook:
    require_owner(actor)
    body = body or RotateSecret()
    row = await service.get_webhook(session, webhook_id, for_update=True)
    return webhook_out(
        await service.rotate_secret(session, row, grace_period_seconds=body.grace_period_seconds)
    )


@router.get("/webhooks/{webhook_id}/deliveries", response_model=DeliveriesPage)
async def list_deliveries(
    webhook_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    delivery_status: Annotated[DeliveryStatus | None, Query(alias="status")] = None,
    event_type: str | None = None,
    since: Annotated[datetime | None, Query(description="inserted at or after (UTC)")] = None,
    until: Annotated[datetime | None, Query(description="inserted before (UTC)")] = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> DeliveriesPage:
    """Newest first (quire extension)."""
    require_owner(actor)
    webhook = await service.get_webhook(session, webhook_id)
    where = deliveries.DeliveryFilter(
        status=delivery_status,
        event_type=event_type,
        since=aware(since) if since else None,
        until=aware(until) if until else None,
    )
    rows, total = await deliveries.list_deliveries(session, webhook, where=where, offset=offset, limit=limit)
    return DeliveriesPage(items=[Delivery.model_validate(r) for r in rows], total=total)


@router.get("/webhooks/{webhook_id}/deliveries/{delivery_id}", response_model=DeliveryDetail)
async def get_delivery(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> DeliveryDetail:
    """One delivery with every attempt and the body it sends (quire extension)."""
    require_owner(actor)
    webhook = await service.get_webhook(session, webhook_id)
    row = await deliveries.get_delivery(session, webhook, delivery_id)
    attempts = await deliveries.attempts_of(session, row)
    return DeliveryDetail.model_validate(
        {
            **Delivery.model_validate(row).model_dump(),
            "attempt_history": [DeliveryAttempt.model_validate(a) for a in attempts],
            "body": await deliveries.body_of(session, row),
        }
    )


@router.post("/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver", response_model=Delivery)
async def redeliver(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> Delivery:
    """Send it again now, with the same `webhook-id` (quire extension)."""
    require_owner(actor)
    webhook = await service.get_webhook(session, webhook_id)
    row = await deliveries.get_delivery(session, webhook, delivery_id)
    return Delivery.model_validate(await deliveries.redeliver(session, row))


@router.post("/webhooks/{webhook_id}/replay", response_model=ReplayResult)
async def replay(webhook_id: uuid.UUID, body: Replay, session: SessionDep, actor: ActorDep) -> ReplayResult:
    """Re-queue the stored events of a time window for this webhook (quire extension)."""
    require_owner(actor)
    webhook = await service.get_webhook(session, webhook_id, for_update=True)
    outcome = await deliveries.replay(
        session, webhook, since=body.since, until=body.until, event_types=body.event_types
    )
    return ReplayResult(queued=outcome.queued, created=outcome.created, reset=outcome.reset)
