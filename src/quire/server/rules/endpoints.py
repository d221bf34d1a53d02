"""/api/v1/rules: automation rules. Owners, and admins of the rule's dataset's workspace.

Plus `GET /api/v1/rules/{id}/values/{record_id}/{name}`: the signed URLs of large values in rule
payloads, served without an API key (see `urls`).
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.datasets.endpoints import managed_dataset
from quire.server.deps import Actor, ActorDep, DatabaseDep, SessionDep, SettingsDep, read_only
from quire.server.errors import NotFound
from quire.server.models import Dataset, Webhook
from quire.server.models import Rule as RuleRow
from quire.server.policies import require_owner_or_admin
from quire.server.rules import logs, runner, service, values
from quire.server.rules.schemas import (
    AddToDatasetAction,
    Rule,
    RuleCreate,
    RuleRun,
    RuleRuns,
    RuleUpdate,
    WebhookAction,
)
from quire.server.webhooks.service import masked_headers, policy_of
from quire.server.wire import Items

router = APIRouter(tags=["rules"])


async def _rule_out(session: AsyncSession, rule: RuleRow) -> Rule:
    webhooks = await service.webhooks_of(session, [rule])
    return _out(rule, webhooks)


def _out(rule: RuleRow, webhooks: dict[uuid.UUID, Webhook]) -> Rule:
    actions: list[WebhookAction | AddToDatasetAction] = []
    for action in rule.actions:
        webhook = webhooks.get(action.webhook_id) if action.webhook_id else None
        if action.type == "webhook" and webhook is not None:
            actions.append(
                WebhookAction(
                    id=action.id,
                    url=webhook.url,
                    headers=masked_headers(webhook),
                    policy=policy_of(webhook),
                    secret=webhook.secret,
                    enabled=webhook.enabled,
                    disabled_reason=webhook.disabled_reason,
                )
            )
        elif action.type == "add_to_dataset":
            actions.append(
                AddToDatasetAction(
                    id=action.id,
                    dataset_id=action.target_dataset_id,
                    include_suggestions=action.include_suggestions,
                )
            )
    return Rule.model_validate(
        {**{c: getattr(rule, c) for c in Rule.model_fields if c != "actions"}, "actions": actions}
    )


async def _managed_rule(
    session: AsyncSession, actor: Actor, rule_id: uuid.UUID, *, for_update: bool = False
) -> tuple[RuleRow, Dataset]:
    require_owner_or_admin(actor)
    rule = await service.get_rule(session, rule_id, for_update=for_update)
    dataset = await managed_dataset(session, actor, rule.dataset_id, with_settings=True)
    return rule, dataset


@router.post("/rules", status_code=status.HTTP_201_CREATED, response_model=Rule)
async def create_rule(body: RuleCreate, session: SessionDep, actor: ActorDep, database: DatabaseDep) -> Rule:
    require_owner_or_admin(actor)
    dataset = await managed_dataset(session, actor, body.dataset_id, with_settings=True)
    rule = await service.create_rule(session, dataset=dataset, body=body, dialect=database.dialect)
    return await _rule_out(session, rule)


@router.get("/rules", response_model=Items[Rule])
async def list_rules(
    session: SessionDep, actor: ActorDep, dataset_id: uuid.UUID | None = None
) -> Items[Rule]:
    """Every rule an owner can see; an admin sees those of its workspaces' datasets."""
    require_owner_or_admin(actor)
    scope = None if actor.is_owner else await actor.workspace_ids(session)
    rules = await service.list_rules(session, workspace_ids=scope, dataset_id=dataset_id)
    webhooks = await service.webhooks_of(session, rules)
    return Items[Rule](items=[_out(rule, webhooks) for rule in rules])


@router.get("/rules/{rule_id}", response_model=Rule)
async def get_rule(rule_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Rule:
    rule, _dataset = await _managed_rule(session, actor, rule_id)
    return await _rule_out(session, rule)


@router.patch("/rules/{rule_id}", response_model=Rule)
async def update_rule(
    rule_id: uuid.UUID, body: RuleUpdate, session: SessionDep, actor: ActorDep, database: DatabaseDep
) -> Rule:
    rule, dataset = await _managed_rule(session, actor, rule_id, for_update=True)
    changes = {name: getattr(body, name) for name in body.model_fields_set if name in RuleUpdate.model_fields}
    rule = await service.update_rule(
        session, rule, dataset=dataset, changes=changes, dialect=database.dialect
    )
    return await _rule_out(session, rule)


@router.delete("/rules/{rule_id}", response_model=Rule)
async def delete_rule(rule_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Rule:
    """Deletes the rule with its logs, and its webhooks with their pending deliveries."""
    rule, _dataset = await _managed_rule(session, actor, rule_id, for_update=True)
    out = await _rule_out(session, rule)
    await service.delete_rule(session, rule)
    return out


@router.post("/rules/{rule_id}/trigger", status_code=status.HTTP_201_CREATED, response_model=RuleRun)
@read_only
async def trigger_rule(
    rule_id: uuid.UUID, session: SessionDep, actor: ActorDep, database: DatabaseDep, settings: SettingsDep
) -> RuleRun:
    """Run the rule's next window now (enabled or not) and return its log. The window is the one
    the schedule would have run next, closed now: it advances the rule like a scheduled run."""
    await _managed_rule(session, actor, rule_id)
    await session.rollback()  # the run has its own transaction; no read transaction stays open
    result = await runner.run_rule(database, settings, rule_id, trigger="manual")
    run = None if result is None else await logs.get_run(session, result.run_id)
    if run is None:
        raise NotFound(f"Rule with id `{rule_id}` not found")
    return RuleRun.model_validate(run)


@router.get("/rules/{rule_id}/logs", response_model=RuleRuns)
async def rule_logs(
    rule_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
) -> RuleRuns:
    """Runs, newest first."""
    await _managed_rule(session, actor, rule_id)
    items, total = await logs.list_runs(session, rule_id, offset=offset, limit=limit)
    return RuleRuns(items=[RuleRun.model_validate(item) for item in items], total=total)


@router.get(
    "/rules/{rule_id}/values/{record_id}/{name}", summary="A large value of a rule payload (signed URL)"
)
async def rule_value(
    rule_id: uuid.UUID,
    record_id: uuid.UUID,
    name: str,
    session: SessionDep,
    expires: int,
    digest: Annotated[str, Query(max_length=64)],
    signature: Annotated[str, Query(max_length=100)],
) -> Response:
    """No API key: the signature is the authorization. 403 when expired or altered, 410 when the
    value changed since the payload was built."""
    body = await values.signed_value(
        session,
        rule_id=rule_id,
        record_id=record_id,
        name=name,
        expires=expires,
        digest=digest,
        signature=signature,
    )
    return Response(content=body, media_type="application/json")
