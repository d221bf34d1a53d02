"""Rules: create, change, delete, read. Never commits.

A webhook action owns a `webhooks` row of `kind="rule"` (url, Standard Webhooks secret, custom
headers, delivery policy), so the dispatcher sends rule batches exactly as it sends events, while
the row stays out of `/api/v1/webhooks`. Deleting a rule, or one of its webhook actions, deletes that
row and its pending deliveries.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from quire.server.datasets.service import get_dataset
from quire.server.db import Dialect
from quire.server.delivery.signing import generate_secret
from quire.server.errors import Invalid, NotFound
from quire.server.models import Dataset, Rule, RuleAction, Webhook, utcnow
from quire.server.rules import compat, matching
from quire.server.rules.schemas import ActionIn, AddToDatasetActionIn, RuleCreate, WebhookActionIn
from quire.server.webhooks.service import enable_webhook, merge_headers, stored_policy

KIND = "rule"
MAX_RULES_PER_DATASET = 50


async def get_rule(session: AsyncSession, rule_id: uuid.UUID, *, for_update: bool = False) -> Rule:
    query = select(Rule).where(Rule.id == rule_id).options(selectinload(Rule.actions))
    if for_update:
        query = query.with_for_update(of=Rule)
    rule: Rule | None = await session.scalar(query.execution_options(populate_existing=True))
    if rule is None:
        raise NotFound(f"Rule with id `{rule_id}` not found")
    return rule


async def list_rules(
    session: AsyncSession, *, workspace_ids: set[uuid.UUID] | None, dataset_id: uuid.UUID | None
) -> list[Rule]:
    """Rules of every dataset (`workspace_ids=None`) or of datasets in those workspaces."""
    query = select(Rule).options(selectinload(Rule.actions)).order_by(Rule.inserted_at, Rule.id)
    if workspace_ids is not None:
        query = query.join(Dataset, Dataset.id == Rule.dataset_id).where(
            Dataset.workspace_id.in_(workspace_ids)
        )
    if dataset_id is not None:
        query = query.where(Rule.dataset_id == dataset_id)
    return list(await session.scalars(query))


async def webhooks_of(session: AsyncSession, rules: Sequence[Rule]) -> dict[uuid.UUID, Webhook]:
    ids = [a.webhook_id for r in rules for a in r.actions if a.webhook_id is not None]
    if not ids:
        return {}
    return {w.id: w for w in await session.scalars(select(Webhook).where(Webhook.id.in_(ids)))}


async def _new_action(
    session: AsyncSession, dataset: Dataset, rule_id: uuid.UUID, position: int, spec: ActionIn
) -> RuleAction:
    action = RuleAction(id=uuid.uuid4(), rule_id=rule_id, position=position, type=spec.type)
    if isinstance(spec, WebhookActionIn):
        webhook = Webhook(
            id=uuid.uuid4(),
            url=spec.url,
            secret=generate_secret(),
            events=[],
            enabled=True,
            description=f"automation rule {rule_id}",
            headers=dict(spec.headers) if spec.headers else None,
            policy=stored_policy(spec.policy),
            workspace_id=dataset.workspace_id,
            dataset_id=dataset.id,
            consecutive_failures=0,
            kind=KIND,
        )
        session.add(webhook)
        await session.flush()  # before the action that points at it (no ORM relationship orders them)
        action.webhook_id = webhook.id
    else:
        await _check_target(session, dataset, spec)
        action.target_dataset_id = spec.dataset_id
        action.include_suggestions = spec.include_suggestions
    return action


async def _check_target(session: AsyncSession, dataset: Dataset, spec: AddToDatasetActionIn) -> None:
    try:
        target = await get_dataset(session, spec.dataset_id, with_settings=True)
    except NotFound:
        raise Invalid(f"add_to_dataset: dataset {spec.dataset_id} not found") from None
    compat.check_copy_target(dataset, target, include_suggestions=spec.include_suggestions)


async def create_rule(session: AsyncSession, *, dataset: Dataset, body: RuleCreate, dialect: Dialect) -> Rule:
    """`dataset` loaded with its settings."""
    matching.compiled_filter(dataset, body.filter, dialect)
    count = len(await list_rules(session, workspace_ids=None, dataset_id=dataset.id))
    if count >= MAX_RULES_PER_DATASET:
        raise Invalid(f"a dataset has at most {MAX_RULES_PER_DATASET} rules; delete one first")
    now = utcnow()
    if body.backfill_from is not None and body.backfill_from >= now:
        raise Invalid("backfill_from must be in the past")
    rule = Rule(
        id=uuid.uuid4(),
        name=body.name,
        dataset_id=dataset.id,
        filter=body.filter,
        sampling_rate=body.sampling_rate,
        interval_seconds=body.interval_seconds,
        enabled=body.enabled,
        backfill_from=body.backfill_from,
        next_window_start=body.backfill_from or now,
        # a backfill starts at once; otherwise the first window closes one interval from now
        next_run_at=now if body.backfill_from is not None else now + timedelta(seconds=body.interval_seconds),
        inserted_at=now,
        updated_at=now,
    )
    session.add(rule)
    await session.flush()
    for position, spec in enumerate(body.actions):
        session.add(await _new_action(session, dataset, rule.id, position, spec))
    await session.flush()
    return await get_rule(session, rule.id)


async def update_rule(
    session: AsyncSession, rule: Rule, *, dataset: Dataset, changes: dict[str, Any], dialect: Dialect
) -> Rule:
    """`changes`: the keys the client sent, validated. `dataset` loaded with its settings."""
    if "filter" in changes:
        matching.compiled_filter(dataset, changes["filter"], dialect)
        rule.filter = changes["filter"]
    for name in ("name", "sampling_rate"):
        if name in changes:
            setattr(rule, name, changes[name])
    if "interval_seconds" in changes and changes["interval_seconds"] != rule.interval_seconds:
        rule.interval_seconds = changes["interval_seconds"]
        last = rule.last_run_at or rule.inserted_at
        rule.next_run_at = last + timedelta(seconds=rule.interval_seconds)
    if "actions" in changes:
        await _replace_actions(session, rule, dataset, changes["actions"])
    if "enabled" in changes:
        rule.enabled = changes["enabled"]
        if rule.enabled:  # a webhook that kept failing was disabled: enabling the rule retries it
            for webhook in (await webhooks_of(session, [rule])).values():
                if not webhook.enabled or webhook.consecutive_failures:
                    await enable_webhook(session, webhook)
    rule.updated_at = utcnow()
    await session.flush()
    return await get_rule(session, rule.id)


async def _replace_actions(
    session: AsyncSession, rule: Rule, dataset: Dataset, specs: Sequence[ActionIn]
) -> None:
    existing = {a.id: a for a in rule.actions}
    webhooks = await webhooks_of(session, [rule])
    kept: set[uuid.UUID] = set()
    for position, spec in enumerate(specs):
        action = existing.get(spec.id) if spec.id is not None else None
        if spec.id is not None and (action is None or action.type != spec.type):
            raise Invalid(f"actions[{position}]: this rule has no {spec.type} action with id {spec.id}")
        if action is None:
            session.add(await _new_action(session, dataset, rule.id, position, spec))
            continue
        kept.add(action.id)
        action.position = position
        if isinstance(spec, WebhookActionIn):
            webhook = webhooks.get(action.webhook_id) if action.webhook_id else None
            if webhook is None:
                raise Invalid(f"actions[{position}]: its webhook is gone; send the action without its id")
            webhook.url = spec.url
            if "headers" in spec.model_fields_set:
                webhook.headers = merge_headers(webhook.headers, spec.headers) if spec.headers else None
            if "policy" in spec.model_fields_set:
                webhook.policy = stored_policy(spec.policy)
            webhook.updated_at = utcnow()
        else:
            await _check_target(session, dataset, spec)
            action.target_dataset_id = spec.dataset_id
            action.include_suggestions = spec.include_suggestions
    for action_id, action in existing.items():
        if action_id not in kept:
            await _delete_action(session, action)


async def _delete_action(session: AsyncSession, action: RuleAction) -> None:
    if action.webhook_id is not None:  # its deliveries go with it
        await session.execute(delete(Webhook).where(Webhook.id == action.webhook_id, Webhook.kind == KIND))
    await session.execute(delete(RuleAction).where(RuleAction.id == action.id))


async def delete_rule(session: AsyncSession, rule: Rule) -> None:
    """The rule, its actions, logs, webhooks and their pending deliveries."""
    for action in rule.actions:
        await _delete_action(session, action)
    await session.execute(delete(Rule).where(Rule.id == rule.id))


async def sweep_orphan_webhooks(session: AsyncSession) -> int:
    """Rule webhooks whose rule is gone without `delete_rule` (its dataset was deleted)."""
    used = select(RuleAction.webhook_id).where(RuleAction.webhook_id == Webhook.id).exists()
    result = await session.execute(delete(Webhook).where(Webhook.kind == KIND, ~used))
    return int(getattr(result, "rowcount", 0) or 0)
