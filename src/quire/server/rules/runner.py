"""One run of one rule, in one transaction of its own:

1. lock the rule (PostgreSQL: its row, `FOR UPDATE`, skipping it when another process has it;
   SQLite: the write lock), and re-read where its next window starts;
2. close the window at the horizon (`windows.horizon`) and read the records changed in it;
3. keep those the filter matches and the sample takes;
4. queue the webhook batches, copy into other datasets, write the run's log;
5. move the rule's window to the end of this one — and commit all of it at once.

A crash anywhere before the commit leaves nothing behind: the window is run again later, by this
process or another. After the commit the window is done and its deliveries are in the outbox. So
windows never overlap and none is skipped. A run that fails (a filter that no longer compiles, a
copy the target refuses) is rolled back the same way, logged with its error, and retried after
the rule's interval; its window does not move.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from quire.server.datasets.service import get_dataset
from quire.server.db import Database
from quire.server.errors import QuireError
from quire.server.models import Rule, RuleRun, utcnow
from quire.server.rules import deliveries, matching, payload, urls, windows
from quire.server.settings import Settings

logger = logging.getLogger("quire.rules")

Trigger = Literal["schedule", "manual"]
IDLE_IN_TRANSACTION_TIMEOUT = "120s"
"""PostgreSQL ends a run's session that stops talking for this long (a hung process), which frees
the rule's lock for another process."""
LOCK_TIMEOUT = "30s"


@dataclass(frozen=True)
class RunResult:
    run_id: int
    cut: bool
    """The window was cut short: more changes wait, run again at once."""


async def _lock(session: AsyncSession, database: Database, rule_id: uuid.UUID, *, wait: bool) -> Rule | None:
    if database.dialect == "postgresql":
        await session.execute(
            text(f"SET LOCAL idle_in_transaction_session_timeout = '{IDLE_IN_TRANSACTION_TIMEOUT}'")
        )
        if wait:
            await session.execute(text(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'"))
    query = (
        select(Rule)
        .where(Rule.id == rule_id)
        .options(selectinload(Rule.actions))
        .with_for_update(skip_locked=not wait, of=Rule)
        .execution_options(populate_existing=True)
    )
    rule: Rule | None = await session.scalar(query)
    return rule


async def run_rule(
    database: Database, settings: Settings, rule_id: uuid.UUID, *, trigger: Trigger
) -> RunResult | None:
    """Run the rule's next window now. A scheduled run happens only if the rule is enabled, due,
    and not being run by another process (None otherwise); a manual run waits for its turn and runs
    whether enabled or not. Returns the run (its log), failed or not; None if nothing ran."""
    began = time.perf_counter()
    start: datetime | None = None
    try:
        async with database.session(write=True) as session:
            rule = await _lock(session, database, rule_id, wait=trigger == "manual")
            now = utcnow()
            if rule is None or (trigger == "schedule" and (not rule.enabled or rule.next_run_at > now)):
                return None
            start = rule.next_window_start
            end = await windows.horizon(
                session, database.dialect, settle_seconds=settings.rules_settle_seconds
            )
            if end <= start and trigger == "schedule":
                return None  # nothing is settled yet past the start: try again at the next poll
            end = max(end, start)
            logger.debug("rule %s: window [%s, %s) running", rule_id, start.isoformat(), end.isoformat())
            run, cut = await _execute(
                session, database, settings, rule, trigger=trigger, start=start, end=end
            )
            run.duration_ms = (time.perf_counter() - began) * 1000.0
            rule.next_window_start = run.end_time or end
            rule.last_run_at = now
            rule.next_run_at = now if cut else now + timedelta(seconds=rule.interval_seconds)
            await session.flush()
            await database.commit(session)
            logger.debug(
                "rule %s: window [%s, %s) committed",
                rule_id,
                start.isoformat(),
                rule.next_window_start.isoformat(),
            )
            return RunResult(run.id, cut)
    except Exception as exc:
        logger.warning("rule %s: run failed: %s", rule_id, exc, exc_info=not isinstance(exc, _EXPECTED))
        return await _record_failure(database, rule_id, trigger, start, exc, began)


async def _execute(
    session: AsyncSession,
    database: Database,
    settings: Settings,
    rule: Rule,
    *,
    trigger: Trigger,
    start: datetime,
    end: datetime,
) -> tuple[RuleRun, bool]:
    dataset = await get_dataset(session, rule.dataset_id, with_settings=True)
    where = matching.compiled_filter(dataset, rule.filter, database.dialect)
    changes = await windows.changed_records(
        session, dataset_id=dataset.id, start=start, end=end, limit=settings.rules_max_changes_per_run
    )
    matched = await matching.matching_records(session, where, changes.record_ids)
    chosen = matching.sampled(rule.id, rule.sampling_rate, [i for i in changes.record_ids if i in matched])
    run = RuleRun(
        rule_id=rule.id,
        trigger=trigger,
        start_time=start,
        end_time=changes.end,
        changed=len(changes.record_ids),
        matched=len(matched),
        sampled=len(chosen),
        actions=[],
        duration_ms=0.0,
        inserted_at=utcnow(),
    )
    session.add(run)
    await session.flush()
    full = await payload.load_runs(session, dataset, chosen)
    ordered = [full[record_id] for record_id in chosen if record_id in full]
    logs: list[dict[str, Any]] = []
    bodies: list[dict[str, Any]] | None = None
    for action in rule.actions:
        entry: dict[str, Any] = {"id": str(action.id), "type": action.type}
        if action.type == "webhook":
            if bodies is None:
                bodies = await _bodies(
                    session, settings, rule, dataset.questions, start, changes.end, ordered, full
                )
            entry["batches"] = await deliveries.queue_batches(
                session, action=action, run_id=run.id, bodies=bodies
            )
            entry["runs"] = len(ordered)
        else:
            entry["dataset_id"] = str(action.target_dataset_id)
            entry["copied"] = await deliveries.copy_records(
                session,
                action=action,
                source=dataset,
                runs=ordered,
                dialect=database.dialect,
                batch_size=settings.max_records_per_bulk,
            )
        logs.append(entry)
    run.actions = logs
    return run, changes.cut(end)


async def _bodies(
    session: AsyncSession,
    settings: Settings,
    rule: Rule,
    questions: Any,
    start: datetime,
    end: datetime,
    ordered: list[dict[str, Any]],
    full: dict[uuid.UUID, dict[str, Any]],
) -> list[dict[str, Any]]:
    if not ordered:
        return []  # an empty window sends nothing
    key = await urls.signing_key(session, create=True)
    assert key is not None
    signer = urls.Signer(
        key, base_url=settings.public_url, rule_id=rule.id, ttl_seconds=settings.rules_url_ttl_seconds
    )
    shrunk = [payload.shrink(run, limit=settings.rules_inline_limit_bytes, signer=signer) for run in ordered]
    kinds = [(q.name, str(q.settings.get("type", ""))) for q in questions]
    return [
        payload.body(rule.id, start, end, batch, full, kinds)
        for batch in payload.batches(
            shrunk, max_runs=settings.rules_max_runs_per_batch, max_bytes=settings.rules_max_batch_bytes
        )
    ]


_EXPECTED: tuple[type[Exception], ...] = (QuireError,)
"""Failures that are the rule's (its filter, its target): logged without a traceback."""


async def _record_failure(
    database: Database,
    rule_id: uuid.UUID,
    trigger: Trigger,
    start: datetime | None,
    exc: Exception,
    began: float,
) -> RunResult | None:
    """Log the failed run and push the rule's next attempt back by its interval (the window stays)."""
    message = getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}"
    try:
        async with database.transaction() as session:
            rule = await session.get(Rule, rule_id)
            if rule is None:
                return None
            now = utcnow()
            run = RuleRun(
                rule_id=rule_id,
                trigger=trigger,
                start_time=start or rule.next_window_start,
                end_time=None,
                actions=[],
                changed=0,
                matched=0,
                sampled=0,
                duration_ms=(time.perf_counter() - began) * 1000.0,
                error=message[:2000],
                inserted_at=now,
            )
            session.add(run)
            await session.execute(
                update(Rule)
                .where(Rule.id == rule_id)
                .values(next_run_at=now + timedelta(seconds=rule.interval_seconds), last_run_at=now)
            )
            await session.flush()
            return RunResult(run.id, False)
    except Exception:
        logger.exception("rule %s: could not record the failed run", rule_id)
        return None
