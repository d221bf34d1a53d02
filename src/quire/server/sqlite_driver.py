"""aiosqlite connections whose statements cost one trip to the driver's thread, not four.

aiosqlite runs every call on a thread of its own, and SQLAlchemy's adapter makes four calls per
statement: create a cursor, execute, fetch the rows, close the cursor. Each is a round trip between
the event loop and that thread (a queue put, a thread wake-up, `call_soon_threadsafe`, a loop
wake-up), measured at ~0.17 ms on our 2-core machines — more than SQLite spends on a small statement.
A one-event transaction (BEGIN, two reads, two inserts, COMMIT) took ~25 round trips and 5 ms of CPU.

`OneTripCursor` does the whole statement in one trip: it executes, fetches up to `PREFETCH_ROWS`
rows and, when that was all of them, closes the SQLite cursor, all on the driver's thread. Longer
results (a streamed vector scan) keep the cursor open and fetch the rest in further trips, so
`stream()` still streams. Everything else is aiosqlite's `Connection`, which `db.Database` hands to
SQLAlchemy through `async_creator`.
"""

from __future__ import annotations

import sqlite3
from collections import deque
from collections.abc import Callable, Generator, Iterable, Sequence
from typing import Any

import aiosqlite

PREFETCH_ROWS = 1000
"""Rows fetched with the statement itself; SQLAlchemy reads whole results at once unless streaming."""

_Outcome = tuple[Any, int, int | None, list[Any], sqlite3.Cursor | None]


def _run(
    conn: sqlite3.Connection,
    call: Callable[[sqlite3.Cursor], object],
) -> _Outcome:
    """On the driver's thread: run `call` on a new cursor, fetch the first rows, close if done."""
    cursor = conn.cursor()
    try:
        call(cursor)
        rows: list[Any] = []
        if cursor.description is not None:
            rows = cursor.fetchmany(PREFETCH_ROWS)
        done = cursor.description is None or len(rows) < PREFETCH_ROWS
        outcome = (cursor.description, cursor.rowcount, cursor.lastrowid, rows, None if done else cursor)
    except BaseException:
        cursor.close()
        raise
    if done:
        cursor.close()
    return outcome


class OneTripCursor:
    """The part of aiosqlite's `Cursor` that SQLAlchemy's adapter uses, one trip per statement."""

    arraysize = 1

    def __init__(self, connection: OneTripConnection) -> None:
        self._connection = connection
        self._open: sqlite3.Cursor | None = None  # a result longer than PREFETCH_ROWS
        self._rows: deque[Any] = deque()
        self.description: Any = None
        self.rowcount = -1
        self.lastrowid: int | None = None

    # SQLAlchemy enters the cursor (`await cursor.__aenter__()`); aiosqlite's can also be awaited.
    async def __aenter__(self) -> OneTripCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.close()

    def __await__(self) -> Generator[Any, None, OneTripCursor]:
        return self.__aenter__().__await__()

    async def execute(self, sql: str, parameters: Sequence[Any] | dict[str, Any] = ()) -> OneTripCursor:
        await self._start(lambda cursor: cursor.execute(sql, parameters))
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> OneTripCursor:
        await self._start(lambda cursor: cursor.executemany(sql, parameters))
        return self

    async def _start(self, call: Callable[[sqlite3.Cursor], object]) -> None:
        await self.close()
        conn = self._connection._conn
        description, rowcount, lastrowid, rows, still_open = await self._connection.trip(_run, conn, call)
        self.description, self.rowcount, self.lastrowid = description, rowcount, lastrowid
        self._rows = deque(rows)
        self._open = still_open

    async def fetchone(self) -> Any:
        if not self._rows:
            await self._more(PREFETCH_ROWS)
        return self._rows.popleft() if self._rows else None

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        wanted = self.arraysize if size is None else size
        if len(self._rows) < wanted:
            await self._more(max(wanted - len(self._rows), PREFETCH_ROWS))
        return [self._rows.popleft() for _ in range(min(wanted, len(self._rows)))]

    async def fetchall(self) -> list[Any]:
        if self._open is not None:
            await self._more(None)
        rows, self._rows = list(self._rows), deque()
        return rows

    async def _more(self, size: int | None) -> None:
        """Fetch `size` more rows (None: all) from a result longer than the prefetch."""
        cursor = self._open
        if cursor is None:
            return

        def fetch() -> list[Any]:
            rows = cursor.fetchall() if size is None else cursor.fetchmany(size)
            if size is None or len(rows) < size:
                cursor.close()
            return rows

        rows = await self._connection.trip(fetch)
        if size is None or len(rows) < size:
            self._open = None
        self._rows.extend(rows)

    async def close(self) -> None:
        self._rows.clear()
        cursor, self._open = self._open, None
        if cursor is not None:
            await self._connection.trip(cursor.close)


class OneTripConnection(aiosqlite.Connection):
    """aiosqlite's connection with cursors that take one trip per statement."""

    def cursor(self) -> OneTripCursor:  # type: ignore[override]
        return OneTripCursor(self)

    async def trip(self, fn: Callable[..., Any], *args: Any) -> Any:
        """Run `fn(*args)` on the driver's thread."""
        return await self._execute(fn, *args)  # type: ignore[no-untyped-call]

    async def rollback(self) -> None:
        # The pool rolls back every connection it takes back, most of them after a commit: with no
        # transaction open there is nothing to roll back, and no trip to make. (`in_transaction`
        # reads SQLite's autocommit flag; no statement runs on this connection meanwhile.)
        if self._conn.in_transaction:
            await super().rollback()


def connect(database: str, **kwargs: Any) -> OneTripConnection:
    """Like `aiosqlite.connect`; the driver's thread does not keep the process alive."""

    def connector() -> sqlite3.Connection:
        connection: sqlite3.Connection = sqlite3.connect(database, **kwargs)
        return connection

    connection = OneTripConnection(connector, iter_chunk_size=64)
    connection._thread.daemon = True
    return connection
