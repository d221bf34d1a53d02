"""The SQLite driver shim (`sqlite_driver`): one trip to the driver's thread per statement, with
results longer than the prefetch still read in full, streamed results still streamed, errors and
rollbacks as before. SQLite only: it is the SQLite driver (PostgreSQL goes through asyncpg)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from quire.server import sqlite_driver
from quire.server.db import SQLITE_PAGE_SIZE, Database


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    database = Database(f"sqlite:///{tmp_path / 'driver.db'}")
    async with database.transaction() as session:
        await session.execute(text("CREATE TABLE t (n INTEGER PRIMARY KEY, label TEXT NOT NULL)"))
    yield database
    await database.dispose()


@pytest.fixture
def trips(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Names of the functions sent to the driver's thread, in order."""
    sent: list[str] = []
    original = sqlite_driver.OneTripConnection._execute

    async def counting(self: Any, fn: Any, *args: Any, **kwargs: Any) -> Any:
        sent.append(getattr(fn, "__name__", repr(fn)))
        return await original(self, fn, *args, **kwargs)

    monkeypatch.setattr(sqlite_driver.OneTripConnection, "_execute", counting)
    return sent


async def _fill(db: Database, count: int) -> None:
    async with db.transaction() as session:
        await session.execute(
            text("INSERT INTO t (n, label) VALUES (:n, :label)"),
            [{"n": n, "label": f"row {n}"} for n in range(count)],
        )


async def test_a_statement_is_one_trip_to_the_driver_thread(db: Database, trips: list[str]) -> None:
    await _fill(db, 3)
    async with db.session(write=False) as session:
        await session.execute(text("SELECT 1"))  # the transaction begins: BEGIN is one trip
        trips.clear()
        rows = (await session.execute(text("SELECT n, label FROM t ORDER BY n"))).all()
    assert rows == [(0, "row 0"), (1, "row 1"), (2, "row 2")]
    assert trips == ["_run", "rollback"]  # the statement, then the read transaction ending


async def test_a_write_transaction_runs_inline_commit_included(db: Database, trips: list[str]) -> None:
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (n, label) VALUES (1, 'one')"))
        rows = (await session.execute(text("SELECT label FROM t"))).scalars().all()
    # BEGIN IMMEDIATE, the insert, the select and COMMIT ran on this thread; no rollback when the
    # pool took the connection back (nothing was open)
    assert trips == []
    assert rows == ["one"]
    async with db.session(write=False) as session:
        assert (await session.execute(text("SELECT label FROM t"))).scalars().all() == ["one"]


async def test_begin_waits_off_the_event_loop_while_another_process_writes(
    db: Database, tmp_path: Path, trips: list[str]
) -> None:
    other = sqlite3.connect(tmp_path / "driver.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t (n, label) VALUES (7, 'other process')")

    async def write() -> None:
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (n, label) VALUES (8, 'ours')"))

    writer = asyncio.create_task(write())
    ticks = 0
    for _ in range(20):  # the event loop keeps running while the writer waits for the lock
        await asyncio.sleep(0.01)
        ticks += 1
    assert not writer.done()
    other.execute("COMMIT")
    other.close()
    await asyncio.wait_for(writer, timeout=10)
    assert ticks == 20
    assert "execute" in trips  # BEGIN IMMEDIATE went to the driver's thread to wait
    async with db.session(write=False) as session:
        labels = (await session.execute(text("SELECT label FROM t ORDER BY n"))).scalars().all()
    assert labels == ["other process", "ours"]


async def test_results_longer_than_the_prefetch_are_read_in_full(db: Database) -> None:
    count = sqlite_driver.PREFETCH_ROWS * 2 + 17
    await _fill(db, count)
    async with db.session(write=False) as session:
        rows = (await session.execute(text("SELECT n FROM t ORDER BY n"))).scalars().all()
        one = (await session.execute(text("SELECT label FROM t WHERE n = 5"))).scalar_one()
    assert rows == list(range(count))
    assert one == "row 5"


async def test_streamed_results_arrive_in_parts_and_in_full(db: Database) -> None:
    count = sqlite_driver.PREFETCH_ROWS * 3 + 5
    await _fill(db, count)
    async with db.session(write=False) as session:
        connection = await session.connection()
        result = await connection.stream(text("SELECT n FROM t ORDER BY n").execution_options(yield_per=250))
        parts = [list(part) async for part in result.partitions(250)]
    assert [row[0] for part in parts for row in part] == list(range(count))
    assert len(parts) == -(-count // 250)


async def test_a_stream_closed_early_leaves_the_connection_usable(db: Database) -> None:
    await _fill(db, sqlite_driver.PREFETCH_ROWS + 10)
    async with db.session(write=False) as session:
        connection = await session.connection()
        result = await connection.stream(text("SELECT n FROM t ORDER BY n").execution_options(yield_per=10))
        first = await result.fetchmany(10)
        await result.close()
        total = (await session.execute(text("SELECT count(*) FROM t"))).scalar_one()
    assert [row[0] for row in first] == list(range(10))
    assert total == sqlite_driver.PREFETCH_ROWS + 10


async def test_errors_surface_and_the_failed_transaction_rolls_back(db: Database) -> None:
    await _fill(db, 1)
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (n, label) VALUES (100, 'kept?')"))
            await session.execute(text("INSERT INTO t (n, label) VALUES (0, 'duplicate key')"))
    async with db.session(write=False) as session:
        labels = (await session.execute(text("SELECT label FROM t ORDER BY n"))).scalars().all()
    assert labels == ["row 0"]  # the first insert of the failed transaction is gone


async def test_after_a_failed_write_reads_go_back_to_the_driver_thread(
    db: Database, trips: list[str]
) -> None:
    await _fill(db, 1)
    with pytest.raises(IntegrityError):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (n, label) VALUES (0, 'duplicate key')"))
    async with db.session(write=False) as session:
        await session.execute(text("SELECT 1"))
        trips.clear()
        await session.execute(text("SELECT count(*) FROM t"))
    assert trips == ["_run", "rollback"]


async def test_executemany_and_rowcount(db: Database) -> None:
    await _fill(db, 10)
    async with db.transaction() as session:
        result = await session.execute(text("UPDATE t SET label = 'even' WHERE n % 2 = 0"))
        assert result.rowcount == 5  # type: ignore[attr-defined]
        await session.execute(
            text("UPDATE t SET label = :label WHERE n = :n"), [{"n": 1, "label": "a"}, {"n": 3, "label": "b"}]
        )
    async with db.session(write=False) as session:
        labels = (await session.execute(text("SELECT label FROM t WHERE n IN (0, 1, 3)"))).scalars().all()
    assert sorted(labels) == ["a", "b", "even"]


async def test_driver_level_statements_inside_and_outside_a_write_transaction(
    db: Database, trips: list[str]
) -> None:
    """What `RowWriter` and the delivery store use: `execute_fetchall` on the driver connection."""
    async with db.transaction() as session:
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        await driver.execute_fetchall("INSERT INTO t (n, label) VALUES (?, ?)", (1, "a"))
        rows = await driver.execute_fetchall("SELECT n, label FROM t")
    assert [tuple(row) for row in rows] == [(1, "a")]
    assert trips == []
    trips.clear()
    async with db.session(write=False) as session:
        driver = (await (await session.connection()).get_raw_connection()).driver_connection
        count = await driver.execute_fetchall("SELECT count(*) FROM t")
    assert [tuple(row) for row in count] == [(1,)]
    assert trips == ["_run", "_fetchall", "rollback"]  # BEGIN, the select, the end


async def test_a_new_database_gets_16_kb_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    with sqlite3.connect(old) as conn:  # made elsewhere, with SQLite's default pages
        conn.execute("CREATE TABLE t (n INTEGER PRIMARY KEY, label TEXT NOT NULL)")
        conn.execute("INSERT INTO t VALUES (1, 'kept')")
    for path, expected in ((tmp_path / "new.db", SQLITE_PAGE_SIZE), (old, 4096)):
        database = Database(f"sqlite:///{path}")
        try:
            async with database.transaction() as session:
                await session.execute(
                    text("CREATE TABLE IF NOT EXISTS t (n INTEGER PRIMARY KEY, label TEXT)")
                )
                await session.execute(text("INSERT INTO t (n, label) VALUES (2, 'new')"))
            async with database.session(write=False) as session:
                size = (await session.execute(text("PRAGMA page_size"))).scalar_one()
                labels = (await session.execute(text("SELECT label FROM t ORDER BY n"))).scalars().all()
        finally:
            await database.dispose()
        assert size == expected
        assert labels[-1] == "new"
    assert labels == ["kept", "new"]


def _rows_in_database_file_alone(tmp_path: Path) -> int:
    """Rows of `t` in the database file without its WAL: what checkpoints have copied there."""
    alone = tmp_path / "alone.db"
    shutil.copyfile(tmp_path / "driver.db", alone)
    probe = sqlite3.connect(alone)
    try:
        if probe.execute("SELECT count(*) FROM sqlite_master WHERE name = 't'").fetchone() == (0,):
            return 0  # not even the table yet
        return int(probe.execute("SELECT count(*) FROM t").fetchone()[0])
    finally:
        probe.close()


async def test_commits_never_checkpoint_and_the_checkpointer_does(db: Database, tmp_path: Path) -> None:
    """A commit only appends to the WAL (it runs on the event loop); checkpoints run on the
    checkpointer's own thread, at most once per interval."""
    assert db.checkpointer is not None
    db.checkpointer.interval = 3600.0  # none during the writes below
    for n in range(20):
        async with db.transaction() as session:
            await session.execute(text("INSERT INTO t (n, label) VALUES (:n, 'x')"), {"n": n})
    assert db.checkpointer.checkpoints == 0
    assert _rows_in_database_file_alone(tmp_path) == 0  # all 20 commits are in the WAL only

    db.checkpointer.interval = 0.0
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (n, label) VALUES (99, 'y')"))
    for _ in range(300):  # the checkpoint runs on its own thread
        if db.checkpointer.checkpoints:
            break
        await asyncio.sleep(0.01)
    assert db.checkpointer.checkpoints == 1
    assert _rows_in_database_file_alone(tmp_path) == 21


async def test_disposing_the_database_checkpoints_what_was_committed(db: Database, tmp_path: Path) -> None:
    assert db.checkpointer is not None
    db.checkpointer.interval = 3600.0
    async with db.transaction() as session:
        await session.execute(text("INSERT INTO t (n, label) VALUES (1, 'x')"))
    assert _rows_in_database_file_alone(tmp_path) == 0
    await db.dispose()
    assert _rows_in_database_file_alone(tmp_path) == 1
