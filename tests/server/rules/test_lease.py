"""Several schedulers on one database (several `quire server` / `quire worker` processes, here
several `Database`s, each with its own connections): a due window is run by exactly one of them,
the windows follow each other, and every change is sent once. On PostgreSQL a rule whose row is
held by another process (a run in progress) is skipped at once, not waited for."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from datetime import timedelta

from sqlalchemy import select, text, update

from quire.server.db import Database
from quire.server.models import Rule, utcnow
from quire.server.rules import runner
from quire.server.settings import Settings
from tests.conftest import Api
from tests.server.rules.helpers import (
    RuleReceiver,
    assert_contiguous,
    create_rule,
    rules_dataset,
    run_logs,
    sent_by_window,
    settled,
    texts,
    trigger,
    upsert,
    webhook_secret,
)

ROUNDS = 8
SCHEDULERS = 3


async def _make_due(database: Database, rule_id: uuid.UUID) -> None:
    async with database.transaction() as session:
        await session.execute(
            update(Rule).where(Rule.id == rule_id).values(next_run_at=utcnow() - timedelta(seconds=1))
        )


async def test_each_due_window_runs_in_exactly_one_scheduler(
    api: Api, settings: Settings, receiver: RuleReceiver
) -> None:
    dataset = await rules_dataset(api)
    rule = await create_rule(api, dataset["id"], receiver.url("/ok"), interval_seconds=3600)
    receiver.secrets.append(webhook_secret(rule))
    rule_id = uuid.UUID(rule["id"])
    processes = [Database(settings.resolved_database_url) for _ in range(SCHEDULERS)]
    created: list[str] = []
    try:
        for round_ in range(ROUNDS):
            written = upsert(api, dataset["id"], texts(5, prefix=f"r{round_}-"))
            await _make_due(processes[0], rule_id)
            # writes race the runs: each record lands in one window or the next, never both
            batch, *results = await asyncio.gather(
                written,
                *(runner.run_rule(db, settings, rule_id, trigger="schedule") for db in processes),
            )
            created.extend(r["id"] for r in batch)
            ran = [r for r in results if r is not None]
            assert len(ran) == 1, f"round {round_}: {len(ran)} schedulers ran the due window"
        await _make_due(processes[0], rule_id)  # a last window after the last write
        assert await runner.run_rule(processes[1], settings, rule_id, trigger="schedule") is not None
    finally:
        for db in processes:
            await db.dispose()
    logs = await settled(api, rule["id"], receiver)
    assert len(logs) == ROUNDS + 1 and all(r["trigger"] == "schedule" for r in logs)
    assert_contiguous(logs)
    sent = Counter(i for ids in sent_by_window(receiver).values() for i in ids)
    assert set(sent) == set(created), f"missed {len(set(created) - set(sent))}"
    assert max(sent.values()) == 1, "a record was sent in two windows"


async def test_a_rule_held_by_another_process_is_skipped_not_awaited(
    postgres_only: None, api: Api, settings: Settings, database: Database
) -> None:
    """(On SQLite the write lock serializes runs: there is no lease to skip.)"""
    dataset = await rules_dataset(api)
    rule = await create_rule(api, dataset["id"], "http://127.0.0.1:9/", interval_seconds=3600)
    rule_id = uuid.UUID(rule["id"])
    await _make_due(database, rule_id)
    other = Database(settings.resolved_database_url)
    try:
        async with other.session(write=True) as holder:
            # another process in the middle of this rule's run: it holds the row
            await holder.execute(select(Rule.id).where(Rule.id == rule_id).with_for_update())
            skipped = await asyncio.wait_for(
                runner.run_rule(database, settings, rule_id, trigger="schedule"), 60
            )
            assert skipped is None
            await holder.execute(text("SELECT 1"))
            await holder.rollback()  # it crashed: its transaction is gone, and so is its hold
        ran = await asyncio.wait_for(runner.run_rule(database, settings, rule_id, trigger="schedule"), 60)
        assert ran is not None
    finally:
        await other.dispose()
    (log,) = await run_logs(api, rule["id"])
    assert log["start_time"] == rule["next_window_start"] and log["error"] is None


async def _hold_a_transaction(database: Database, seconds: float, begun: asyncio.Event) -> None:
    async with database.session(write=False) as session:
        await session.execute(text("SELECT 1"))  # the transaction is open from here
        begun.set()
        await asyncio.sleep(seconds)


async def test_a_run_waits_out_short_transactions_and_is_held_back_by_long_ones(
    postgres_only: None, api: Api, database: Database
) -> None:
    """A transaction that began before a write may still stamp changes earlier than the write:
    a run waits for such transactions (half a second at most), so a run triggered right after a
    write includes it; one open longer ends the window at its start, and the next run takes the
    rest."""
    dataset = await rules_dataset(api)
    rule = await create_rule(api, dataset["id"], "http://127.0.0.1:9/", interval_seconds=3600)

    begun = asyncio.Event()
    short = asyncio.create_task(_hold_a_transaction(database, 0.2, begun))
    await begun.wait()
    await upsert(api, dataset["id"], texts(2, prefix="short-"))
    run = await trigger(api, rule["id"])
    await short
    assert run["changed"] == 2

    begun = asyncio.Event()
    long = asyncio.create_task(_hold_a_transaction(database, 2.0, begun))
    await begun.wait()
    await upsert(api, dataset["id"], texts(3, prefix="long-"))
    held = await trigger(api, rule["id"])
    assert held["changed"] == 0 and held["start_time"] == run["end_time"]
    await long
    after = await trigger(api, rule["id"])
    assert after["changed"] == 3 and after["start_time"] == held["end_time"]
