"""The rule scheduler: runs due rules in the process that dispatches (`quire server`, `quire
worker`), beside the dispatcher, which then delivers the batches the runs queue.

Every `QUIRE_RULES_POLL_SECONDS` it reads which enabled rules are due (`ix_rules_due`) and runs
them one after the other (`runner.run_rule`: each run is its own transaction). Several schedulers
may run against one database: on PostgreSQL a rule being run by one is skipped by the others
(`FOR UPDATE SKIP LOCKED`); on SQLite runs take the write lock in turn, and each re-reads the rule
first, so a window is never run twice. A window cut short (a backlog) is followed by the next one
at once. Every few minutes it also deletes run logs past their retention and webhook rows left
behind by rules of deleted datasets.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import select

from quire.server.db import Database
from quire.server.models import Rule, utcnow
from quire.server.rules import logs, runner, service
from quire.server.settings import Settings

logger = logging.getLogger("quire.rules")
HOUSEKEEPING_SECONDS = 300.0
MAX_DUE_PER_TICK = 100


class Scheduler:
    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = False
        self._next_housekeeping = 0.0

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="quire-rules-scheduler")
        logger.info("rule scheduler started")

    async def stop(self, *, grace_seconds: float = 10.0) -> None:
        """Let the run in progress finish (up to `grace_seconds`; cut short, it is rolled back and
        runs again later), then stop."""
        self._stopping = True
        self._wake.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout=grace_seconds)
        except (TimeoutError, Exception):
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task
        logger.info("rule scheduler stopped")

    def wake(self) -> None:
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            busy = False
            try:
                busy = await self.tick()
                if time.monotonic() >= self._next_housekeeping:
                    self._next_housekeeping = time.monotonic() + HOUSEKEEPING_SECONDS
                    await self.housekeeping()
            except Exception:
                logger.exception("rule scheduler: tick failed; retrying")
            if busy or self._stopping:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.rules_poll_seconds)
            self._wake.clear()

    async def due(self) -> list[uuid.UUID]:
        async with self.database.session(write=False) as session:
            rows = await session.scalars(
                select(Rule.id)
                .where(Rule.enabled.is_(True), Rule.next_run_at <= utcnow())
                .order_by(Rule.next_run_at)
                .limit(MAX_DUE_PER_TICK)
            )
            return list(rows)

    async def tick(self) -> bool:
        """Run the due rules; True when some window was cut short (more is waiting)."""
        backlog = False
        for rule_id in await self.due():
            if self._stopping:
                break
            result = await runner.run_rule(self.database, self.settings, rule_id, trigger="schedule")
            backlog = backlog or (result is not None and result.cut)
        return backlog

    async def housekeeping(self) -> None:
        async with self.database.transaction() as session:
            pruned = await logs.prune(session, older_than_days=self.settings.rules_log_retention_days)
            swept = await service.sweep_orphan_webhooks(session)
        if pruned or swept:
            logger.info("rules: deleted %d old run logs and %d orphaned rule webhooks", pruned, swept)


@asynccontextmanager
async def running(app: FastAPI, database: Database, settings: Settings) -> AsyncIterator[Scheduler | None]:
    """The scheduler for the lifespan of the app, when the app dispatches and rules are on."""
    if not (settings.delivery_enabled and settings.rules_enabled):
        app.state.rule_scheduler = None
        yield None
        return
    scheduler = Scheduler(database, settings)
    await scheduler.start()
    app.state.rule_scheduler = scheduler
    try:
        yield scheduler
    finally:
        await scheduler.stop()
