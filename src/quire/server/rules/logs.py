"""Run logs, newest first, with each webhook action's delivery outcome read from the outbox (so a
log shows batches delivered, failed for good, or still pending as the dispatcher works)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.models import Delivery, RuleDelivery, RuleRun, utcnow


async def list_runs(
    session: AsyncSession, rule_id: uuid.UUID, *, offset: int, limit: int
) -> tuple[list[dict[str, Any]], int]:
    total = await session.scalar(select(func.count()).select_from(RuleRun).where(RuleRun.rule_id == rule_id))
    rows = list(
        await session.scalars(
            select(RuleRun)
            .where(RuleRun.rule_id == rule_id)
            .order_by(RuleRun.id.desc())
            .offset(offset)
            .limit(limit)
        )
    )
    return await with_outcomes(session, rows), int(total or 0)


async def get_run(session: AsyncSession, run_id: int) -> dict[str, Any] | None:
    run = await session.get(RuleRun, run_id, populate_existing=True)
    return None if run is None else (await with_outcomes(session, [run]))[0]


async def with_outcomes(session: AsyncSession, runs: list[RuleRun]) -> list[dict[str, Any]]:
    counts: dict[tuple[int, str], dict[str, int]] = defaultdict(
        lambda: {"delivered": 0, "failed": 0, "pending": 0}
    )
    if runs:
        rows = await session.execute(
            select(RuleDelivery.run_id, RuleDelivery.action_id, Delivery.status, func.count())
            .join(Delivery, Delivery.id == RuleDelivery.delivery_id)
            .where(RuleDelivery.run_id.in_([r.id for r in runs]))
            .group_by(RuleDelivery.run_id, RuleDelivery.action_id, Delivery.status)
        )
        for run_id, action_id, status, count in rows:
            key = "delivered" if status == "succeeded" else "failed" if status == "failed" else "pending"
            counts[(run_id, str(action_id))][key] += count
    out = []
    for run in runs:
        actions = []
        for entry in run.actions or []:
            entry = dict(entry)
            if entry.get("type") == "webhook":
                entry.update(counts[(run.id, entry["id"])])
            actions.append(entry)
        out.append(
            {
                "id": run.id,
                "rule_id": run.rule_id,
                "trigger": run.trigger,
                "start_time": run.start_time,
                "end_time": run.end_time,
                "changed": run.changed,
                "matched": run.matched,
                "sampled": run.sampled,
                "duration_ms": run.duration_ms,
                "error": run.error,
                "actions": actions,
                "inserted_at": run.inserted_at,
            }
        )
    return out


async def prune(session: AsyncSession, *, older_than_days: float) -> int:
    """Delete run logs older than the retention (their rule_deliveries links go with them)."""
    cutoff = utcnow() - timedelta(days=older_than_days)
    result = await session.execute(delete(RuleRun).where(RuleRun.inserted_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)
