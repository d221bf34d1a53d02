"""Isolation between webhooks, wake-up latency, several dispatchers on one database, crashed
workers' claims, and a clean stop."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import orjson
import pytest
from sqlalchemy import select, update

from quire.server.db import Database
from quire.server.delivery import store
from quire.server.delivery.dispatcher import Dispatcher
from quire.server.delivery.outcomes import Decision
from quire.server.delivery.sender import AttemptResult
from quire.server.delivery.workers import _pid_namespace, is_dead, worker_id
from quire.server.models import Delivery, DeliveryAttempt, Lease, utcnow
from quire.server.settings import Settings
from tests.server.delivery.conftest import (
    StartDispatcher,
    add_webhook,
    deliveries,
    fast_settings,
    publish_events,
    queue_messages,
    settled,
    wait_until,
)
from tests.server.delivery.receiver import Receiver

SLOW_MS = 8000


async def test_a_slow_receiver_does_not_delay_another(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    slow = await add_webhook(database, receiver.url(f"/slow/{SLOW_MS}"))
    fast = await add_webhook(database, receiver.url("/ok"))
    await start_dispatcher(database, delivery_timeout_scale=1.0, delivery_concurrency_per_webhook=4)
    await queue_messages(database, slow, [{"n": n} for n in range(40)])
    first_slow = (await receiver.wait_for(4, path_prefix="/slow"))[0]  # 4 in flight, more queued
    await queue_messages(database, fast, [{"n": n} for n in range(30)])
    got = await receiver.wait_for(30, path_prefix="/ok", within=SLOW_MS / 1000)
    # all of them while the slow receiver had not answered even its first request
    assert max(r.at for r in got) < first_slow.at + SLOW_MS / 1000
    assert len(receiver.on("/slow")) == 4
    assert {d.status for d in await deliveries(database, fast)} <= {"succeeded", "delivering"}


POLL_NEVER = 600.0
"""A poll interval no test waits for: whatever arrives was woken by something else."""


async def test_commits_wake_the_dispatcher_without_polling(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    await add_webhook(database, receiver.url("/ok"))
    dispatcher = await start_dispatcher(database, delivery_poll_seconds=POLL_NEVER)
    await wait_until(lambda: _true(dispatcher.dispatching), what="the dispatcher to take its lease")
    for n in range(10):
        # the dispatcher polls every 10 minutes: each event that arrives was woken by its commit
        # (the wait is generous for a busy machine; it is not a speed check)
        await publish_events(database, 1, start=n)
        await receiver.wait_for(n + 1, within=60)
    assert sorted(orjson.loads(r.body)["data"]["seq"] for r in receiver.received) == list(range(10))


async def test_other_processes_wake_a_postgresql_dispatcher_through_notify(
    backend: str,
    database: Database,
    settings: Settings,
    receiver: Receiver,
    start_dispatcher: StartDispatcher,
) -> None:
    if backend != "postgresql":
        pytest.skip("LISTEN/NOTIFY is PostgreSQL's")
    await add_webhook(database, receiver.url("/ok"))
    await start_dispatcher(database, delivery_poll_seconds=POLL_NEVER)
    other = Database(settings.resolved_database_url)  # another process's connection pool
    try:
        # The poll is 10 minutes away and `other` is not this dispatcher's database object, so only
        # NOTIFY wakes it — except once, when its LISTEN connection is set up (that wake covers a
        # commit made before it listened). Three events one after the other: two at least come
        # through NOTIFY.
        for n in range(3):
            await publish_events(other, 1, start=n)
            await receiver.wait_for(n + 1, within=60)
    finally:
        await other.dispose()


async def test_three_postgresql_dispatchers_never_send_the_same_attempt_concurrently(
    backend: str, database: Database, settings: Settings, receiver: Receiver
) -> None:
    """Three dispatchers, each with its own connection pool (as three `quire worker` processes),
    drain one webhook: the receiver never has one `webhook-id` open twice, gets each exactly once,
    and every dispatcher did part of the work."""
    if backend != "postgresql":
        pytest.skip("on SQLite one dispatcher works at a time (see the lease test)")
    webhook = await add_webhook(database, receiver.url("/slow/20"))
    pools = [database] + [Database(settings.resolved_database_url) for _ in range(2)]
    tuned = fast_settings(settings, delivery_concurrency_per_webhook=4, delivery_timeout_scale=1.0)
    dispatchers = [Dispatcher(pool, tuned) for pool in pools]
    try:
        for dispatcher in dispatchers:
            await dispatcher.start()
        await queue_messages(database, webhook, [{"n": n} for n in range(300)])
        rows = await settled(database, webhook, within=60)
    finally:
        for dispatcher in dispatchers:
            await dispatcher.stop()
        for pool in pools[1:]:
            await pool.dispose()
    assert {d.status for d in rows} == {"succeeded"}
    assert receiver.overlaps == []
    assert sorted(receiver.msg_ids()) == sorted(d.msg_id for d in rows)  # each exactly once
    async with database.session(write=False) as session:
        workers = set(await session.scalars(select(DeliveryAttempt.worker)))
    assert workers == {d.owner for d in dispatchers}  # each did part of the work


async def _claim_as(database: Database, owner: str, *, lease_seconds: float) -> None:
    async with database.transaction() as session:
        await session.execute(
            update(Delivery)
            .where(Delivery.status == "pending")
            .values(
                status="delivering",
                lease_owner=owner,
                lease_expires_at=utcnow() + timedelta(seconds=lease_seconds),
            )
        )


def _dead_local_owner() -> str:
    process = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    pid = int(process.stdout)
    owner = f"{socket.gethostname()}/{_pid_namespace()}/{pid}/dead"
    assert is_dead(owner)
    return owner


async def test_an_expired_claim_of_a_crashed_worker_is_taken_over(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    webhook = await add_webhook(database, receiver.url("/ok"))
    await queue_messages(database, webhook, [{"n": n} for n in range(5)])
    await _claim_as(database, "elsewhere/1/4242/crashed", lease_seconds=1.0)  # another machine
    began = time.monotonic()
    await start_dispatcher(database)
    await receiver.wait_for(5, within=10)
    assert time.monotonic() - began >= 0.8  # not before its lease expired
    assert {d.status for d in await settled(database, webhook)} == {"succeeded"}


async def test_a_dead_local_worker_is_taken_over_at_once(
    database: Database, receiver: Receiver, start_dispatcher: StartDispatcher
) -> None:
    webhook = await add_webhook(database, receiver.url("/ok"))
    await queue_messages(database, webhook, [{"n": n} for n in range(5)])
    await _claim_as(database, _dead_local_owner(), lease_seconds=3600)
    live = f"{socket.gethostname()}/{_pid_namespace()}/{os.getpid()}/alive"
    assert not is_dead(live) and not is_dead("elsewhere/1/1/x") and not is_dead("garbage")
    began = time.monotonic()
    await start_dispatcher(database)
    await receiver.wait_for(5, within=10)
    assert time.monotonic() - began < 10  # the lease runs for an hour


async def test_results_are_only_written_while_the_claim_is_ours(
    database: Database, receiver: Receiver
) -> None:
    webhook = await add_webhook(database, receiver.url("/ok"))
    await queue_messages(database, webhook, [{"n": 1}])
    me, thief = worker_id(), worker_id()
    now = utcnow()
    async with database.transaction() as session:
        (claimed,) = await store.claim(
            session,
            dialect=database.dialect,
            owner=me,
            wants=[(webhook.id, 5, now + timedelta(seconds=60))],
            now=now,
        )
    async with database.transaction() as session:  # our lease expired and another worker took it
        await session.execute(update(Delivery).values(lease_owner=thief))
    finished = store.Finished(claimed, AttemptResult(now, 1.0, "ok", status_code=200), Decision("succeeded"))
    async with database.transaction() as session:
        report = await store.finish(
            session, dialect=database.dialect, owner=me, batch=[finished], failures_before_disable=20, now=now
        )
    assert report.lost == [finished] and report.written == []
    (row,) = await deliveries(database, webhook)
    assert row.status == "delivering" and row.lease_owner == thief and row.attempts == 0
    async with database.session(write=False) as session:
        assert list(await session.scalars(select(DeliveryAttempt))) == []


async def test_one_sqlite_dispatcher_at_a_time_and_a_standby_takes_over(
    backend: str, database: Database, settings: Settings, receiver: Receiver
) -> None:
    if backend != "sqlite":
        pytest.skip("the dispatcher lease is SQLite's")
    webhook = await add_webhook(database, receiver.url("/ok"))
    second_database = Database(settings.resolved_database_url)  # e.g. a `quire worker` beside the server
    # renewed every 2 s: only a process starved for 6 s would lose it (the takeover below does not
    # wait for expiry: a stopping dispatcher drops the lease)
    tuned = fast_settings(settings, delivery_lease_seconds=6.0)
    first, second = Dispatcher(database, tuned), Dispatcher(second_database, tuned)
    try:
        await first.start()
        await wait_until(lambda: _true(first.dispatching), what="the first dispatcher to take the lease")
        await second.start()
        await queue_messages(database, webhook, [{"n": n} for n in range(20)])
        await settled(database, webhook)
        assert first.dispatching and not second.dispatching
        await first.stop()  # drops the lease
        await wait_until(lambda: _true(second.dispatching), within=15, what="the standby to take over")
        await queue_messages(database, webhook, [{"n": n} for n in range(20, 30)])
        await receiver.wait_for(30)
    finally:
        await first.stop()
        await second.stop()
        await second_database.dispose()
    async with database.session(write=False) as session:
        workers = list(await session.scalars(select(DeliveryAttempt.worker).order_by(DeliveryAttempt.id)))
        assert (await session.scalar(select(Lease.owner))) is None  # both gave it back
    assert set(workers[:20]) == {first.owner} and set(workers[20:]) == {second.owner}
    assert sorted(receiver.msg_ids()) == sorted(d.msg_id for d in await deliveries(database, webhook))


async def _true(value: bool) -> bool:
    return value


async def test_stop_records_requests_in_flight_and_gives_back_the_rest(
    database: Database, settings: Settings, receiver: Receiver
) -> None:
    webhook = await add_webhook(database, receiver.url("/slow/1500"))
    dispatcher = Dispatcher(
        database, fast_settings(settings, delivery_concurrency_per_webhook=2, delivery_timeout_scale=1.0)
    )
    await dispatcher.start()
    await queue_messages(database, webhook, [{"n": n} for n in range(10)])
    await receiver.wait_for(2)
    await dispatcher.stop()
    rows = await deliveries(database, webhook)
    assert sorted(d.status for d in rows) == ["pending"] * 8 + ["succeeded"] * 2
    assert all(d.lease_owner is None for d in rows)
    assert len(receiver.received) == 2


async def test_unique_worker_ids() -> None:
    ids = {worker_id() for _ in range(50)}
    assert len(ids) == 50 and all(len(i) <= 100 and i.count("/") == 3 for i in ids)
    assert str(os.getpid()) in next(iter(ids)) and uuid
