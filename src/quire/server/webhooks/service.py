"""Event webhooks: create, change, enable, rotate secrets, ping. Never commits.

Only `kind="events"` webhooks live here (automation rules own their `kind="rule"` ones). Every change
drops the transaction's cached list of consumers (`forget_consumers`), so events written later in
the same transaction already see it; every change that queues deliveries wakes the dispatchers on
commit (`mark_outbox_dirty`).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from pydantic import ValidationError
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from quire import __version__
from quire.server.delivery.policies import DeliveryPolicy, resolve
from quire.server.delivery.signing import generate_secret
from quire.server.errors import Invalid, NotFound
from quire.server.events.catalog import PING, envelope
from quire.server.events.outbox import forget_consumers, mark_outbox_dirty
from quire.server.models import Dataset, Delivery, DeliveryStatus, Webhook, Workspace, utcnow
from quire.server.webhooks.schemas import MASK

KIND = "events"
MAX_WEBHOOKS = 100
"""Event webhooks per server. Argilla allows 10 (each event became one background job per webhook);
quire writes one delivery row per matching webhook in the event's own transaction, so the cap only
bounds the fan-out of a bulk write (100 webhooks x 500 records = 50,000 rows at most)."""
DEFAULT_POLICY = "argilla"
PING_AGENT = "quire"


def stored_policy(policy: str | Mapping[str, Any] | None) -> dict[str, Any]:
    """The resolved policy as stored on the webhook (`DeliveryPolicy.model_validate` reads it back)."""
    try:
        resolved = resolve(dict(policy) if isinstance(policy, Mapping) else policy, default=DEFAULT_POLICY)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'policy'}: {e['msg']}" for e in exc.errors())
        raise Invalid(f"invalid delivery policy: {problems}") from None
    except ValueError as exc:
        raise Invalid(str(exc)) from None
    return resolved.model_dump(mode="json")


def policy_of(webhook: Webhook) -> DeliveryPolicy:
    return DeliveryPolicy.model_validate(webhook.policy) if webhook.policy else resolve(DEFAULT_POLICY)


def masked_headers(webhook: Webhook) -> dict[str, str]:
    return dict.fromkeys(webhook.headers or {}, MASK)


def merge_headers(current: Mapping[str, str] | None, given: Mapping[str, str]) -> dict[str, str]:
    """`given` replaces the headers; a `"***"` value keeps the stored value of that header."""
    stored = {name.lower(): value for name, value in (current or {}).items()}
    merged: dict[str, str] = {}
    for name, value in given.items():
        if value == MASK:
            if name.lower() not in stored:
                raise Invalid(
                    f"header {name!r} has no stored value to keep: send its value instead of {MASK!r}"
                )
            value = stored[name.lower()]
        merged[name] = value
    return merged


async def get_webhook(session: AsyncSession, webhook_id: uuid.UUID, *, for_update: bool = False) -> Webhook:
    query = select(Webhook).where(Webhook.id == webhook_id, Webhook.kind == KIND)
    if for_update:
        query = query.with_for_update()
    webhook: Webhook | None = await session.scalar(query)
    if webhook is None:
        raise NotFound(f"Webhook with id `{webhook_id}` not found")
    return webhook


async def list_webhooks(session: AsyncSession) -> list[Webhook]:
    rows = await session.scalars(select(Webhook).where(Webhook.kind == KIND).order_by(Webhook.inserted_at))
    return list(rows)


async def _check_scope(
    session: AsyncSession, workspace_id: uuid.UUID | None, dataset_id: uuid.UUID | None
) -> None:
    if workspace_id is not None and await session.get(Workspace, workspace_id) is None:
        raise Invalid(f"Workspace with id `{workspace_id}` not found")
    if dataset_id is not None:
        dataset = await session.get(Dataset, dataset_id)
        if dataset is None:
            raise Invalid(f"Dataset with id `{dataset_id}` not found")
        if workspace_id is not None and dataset.workspace_id != workspace_id:
            raise Invalid(f"Dataset `{dataset_id}` is not in workspace `{workspace_id}`")


async def create_webhook(
    session: AsyncSession,
    *,
    url: str,
    events: list[str],
    description: str | None = None,
    enabled: bool = True,
    headers: Mapping[str, str] | None = None,
    policy: str | Mapping[str, Any] | None = None,
    workspace_id: uuid.UUID | None = None,
    dataset_id: uuid.UUID | None = None,
) -> Webhook:
    count = await session.scalar(select(func.count()).select_from(Webhook).where(Webhook.kind == KIND))
    if (count or 0) >= MAX_WEBHOOKS:
        raise Invalid(f"Maximum number of webhooks reached ({MAX_WEBHOOKS}); delete one first")
    await _check_scope(session, workspace_id, dataset_id)
    webhook = Webhook(
        id=uuid.uuid4(),
        url=url,
        secret=generate_secret(),
        events=list(events),
        enabled=enabled,
        description=description,
        headers=dict(headers) if headers else None,
        policy=stored_policy(policy),
        workspace_id=workspace_id,
        dataset_id=dataset_id,
        disabled_reason=None,
        consecutive_failures=0,
        kind=KIND,
    )
    session.add(webhook)
    await session.flush()
    forget_consumers(session)
    return webhook


async def update_webhook(session: AsyncSession, webhook: Webhook, changes: Mapping[str, Any]) -> Webhook:
    """`changes`: the keys the client sent (already validated), with their new values."""
    if "url" in changes:
        webhook.url = changes["url"]
    if "events" in changes:
        webhook.events = list(changes["events"])
    if "description" in changes:
        webhook.description = changes["description"]
    if "headers" in changes:
        given = changes["headers"]
        webhook.headers = merge_headers(webhook.headers, given) if given else None
    if "policy" in changes:
        webhook.policy = stored_policy(changes["policy"])
    if "workspace_id" in changes or "dataset_id" in changes:
        workspace_id = changes.get("workspace_id", webhook.workspace_id)
        dataset_id = changes.get("dataset_id", webhook.dataset_id)
        await _check_scope(session, workspace_id, dataset_id)
        webhook.workspace_id, webhook.dataset_id = workspace_id, dataset_id
    if "enabled" in changes:
        if changes["enabled"]:
            if not webhook.enabled or webhook.disabled_reason or webhook.consecutive_failures:
                await enable_webhook(session, webhook)
        elif webhook.enabled:
            webhook.enabled = False
            webhook.disabled_reason = "disabled through the API"
    webhook.updated_at = utcnow()
    await session.flush()
    forget_consumers(session)
    return webhook


async def delete_webhook(session: AsyncSession, webhook: Webhook) -> Webhook:
    """Deletes the webhook and its deliveries (with their attempts)."""
    await session.delete(webhook)
    await session.flush()
    forget_consumers(session)
    return webhook


async def enable_webhook(session: AsyncSession, webhook: Webhook) -> Webhook:
    """Enable it, forget why it was disabled and its failure streak; its pending deliveries are due
    now (the dispatcher wakes on commit)."""
    now = utcnow()
    webhook.enabled = True
    webhook.disabled_reason = None
    webhook.consecutive_failures = 0
    webhook.updated_at = now
    await session.execute(
        update(Delivery)
        .where(
            Delivery.webhook_id == webhook.id,
            Delivery.status == DeliveryStatus.pending.value,
            Delivery.next_attempt_at > now,
        )
        .values(next_attempt_at=now)
    )
    await session.flush()
    forget_consumers(session)
    await mark_outbox_dirty(session)
    return webhook


async def rotate_secret(session: AsyncSession, webhook: Webhook, *, grace_period_seconds: int) -> Webhook:
    """A new secret signs from now on; the old one keeps signing (beside it) for the grace period."""
    now = utcnow()
    if grace_period_seconds > 0:
        webhook.previous_secret = webhook.secret
        webhook.previous_secret_expires_at = now + timedelta(seconds=grace_period_seconds)
    else:
        webhook.previous_secret = None
        webhook.previous_secret_expires_at = None
    webhook.secret = generate_secret()
    webhook.updated_at = now
    await session.flush()
    forget_consumers(session)
    return webhook


def ping_body() -> dict[str, Any]:
    return envelope(PING, utcnow(), {"agent": PING_AGENT, "version": __version__})
