"""Engines, sessions and the unit of work.

One `Database` per process, built by the app factory (never at import time). A request gets one
session; services write into it and never commit; the edge commits once.

SQLite specifics: WAL journal, foreign keys on, and write transactions start with `BEGIN IMMEDIATE`
behind an in-process lock, so concurrent writers queue instead of failing with "database is locked"
when a read snapshot turns stale. Other processes (CLI, workers) are covered by `busy_timeout`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Literal

import orjson
from sqlalchemy import event
from sqlalchemy.dialects.sqlite.aiosqlite import SQLiteDialect_aiosqlite
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from quire.server import sqlite_driver
from quire.server.datasets.settings_cache import SETTINGS_CACHE, SettingsCache
from quire.server.sqlite_checkpoint import Checkpointer

Dialect = Literal["sqlite", "postgresql"]

# Set in a session's info by whoever writes to the outbox; `Database.commit` then wakes listeners.
OUTBOX_DIRTY = "quire.outbox_dirty"
# Copied into every session's info from the settings (see events.outbox).
RETAIN_ALL_EVENTS = "quire.retain_all_events"


class DatabaseURLError(ValueError):
    """The database URL cannot be used (unknown scheme or malformed)."""


JSON_OPTIONS = orjson.OPT_NON_STR_KEYS


def json_dumps(value: Any) -> str:
    """How JSON columns are serialized (bulk writes encode their parameters the same way)."""
    return orjson.dumps(value, option=JSON_OPTIONS).decode()


def _json_loads(value: Any) -> Any:
    # A column declared JSON has NUMERIC affinity in SQLite: scalar numbers come back as numbers.
    if isinstance(value, int | float):
        return value
    return orjson.loads(value)


def normalize_url(url: str) -> URL:
    """Map user-facing URLs to the async drivers quire uses."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise DatabaseURLError(f"malformed database URL {url!r}: {exc}") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername="sqlite+aiosqlite")
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+asyncpg")
    raise DatabaseURLError(
        f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:///path or postgresql://…"
    )


def dialect_of(url: str | URL) -> Dialect:
    name = (make_url(url) if isinstance(url, str) else url).get_backend_name()
    return "sqlite" if name == "sqlite" else "postgresql"


class Database:
    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 10,
        sqlite_busy_timeout: float = 30.0,
        retain_all_events: bool = False,
    ) -> None:
        self.url = normalize_url(url)
        self.dialect: Dialect = dialect_of(self.url)
        self.checkpointer: Checkpointer | None = None
        kwargs: dict[str, Any] = {"json_serializer": json_dumps, "json_deserializer": _json_loads}
        if self.dialect == "postgresql":
            kwargs.update(
                pool_size=pool_size,
                max_overflow=pool_size,
                pool_pre_ping=True,
                # No JIT compilation: sorts by suggestion or response values are costed past
                # `jit_above_cost` and spent ~80 ms compiling, half their time on 50k records.
                connect_args={"server_settings": {"jit": "off"}},
            )
        else:
            self.checkpointer = Checkpointer(self.url.database or ":memory:")
            kwargs.update(
                async_creator=_sqlite_creator(
                    self.url, busy_timeout=sqlite_busy_timeout, after_commit=self.checkpointer.committed
                )
            )
        self.engine: AsyncEngine = create_async_engine(self.url, **kwargs)
        self._write_engine: AsyncEngine = self.engine
        self._write_lock: asyncio.Lock | None = None
        if self.dialect == "sqlite":
            _configure_sqlite(self.engine, busy_timeout_ms=int(sqlite_busy_timeout * 1000))
            self._write_engine = self.engine.execution_options(quire_write=True)
            self._write_lock = asyncio.Lock()
        self.settings_cache = SettingsCache()
        info = {RETAIN_ALL_EVENTS: retain_all_events, SETTINGS_CACHE: self.settings_cache}
        self._read_sessions = async_sessionmaker(
            self.engine, expire_on_commit=False, autoflush=False, info=info
        )
        self._write_sessions = async_sessionmaker(
            self._write_engine, expire_on_commit=False, autoflush=False, info=info
        )
        self.outbox_listeners: list[Callable[[], None]] = []

    @asynccontextmanager
    async def session(self, *, write: bool) -> AsyncIterator[AsyncSession]:
        """A session whose transaction the caller commits; rolled back on error or if not committed."""
        if write and self._write_lock is not None:
            async with self._write_lock, self._write_sessions() as session:
                yield session
        else:
            factory = self._write_sessions if write else self._read_sessions
            async with factory() as session:
                yield session

    async def commit(self, session: AsyncSession) -> None:
        """Commit, then wake whoever waits for new deliveries if this transaction wrote events."""
        dirty = session.info.pop(OUTBOX_DIRTY, False)
        for key in [k for k in session.info if k.startswith("quire.") and k != RETAIN_ALL_EVENTS]:
            del session.info[key]
        await session.commit()
        if dirty:
            for listener in self.outbox_listeners:
                listener()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """A write unit of work that commits when the block ends without error."""
        async with self.session(write=True) as session:
            yield session
            await self.commit(session)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.checkpointer is not None:
            await self.checkpointer.close()


def _sqlite_creator(url: URL, *, busy_timeout: float, after_commit: Callable[[], None]) -> Callable[[], Any]:
    """Connections from `sqlite_driver` (see there), with the arguments SQLAlchemy's aiosqlite
    dialect derives from the URL."""
    args, kwargs = SQLiteDialect_aiosqlite().create_connect_args(url)
    kwargs["timeout"] = busy_timeout

    async def create() -> sqlite_driver.OneTripConnection:
        connection = sqlite_driver.connect(*args, after_commit=after_commit, **kwargs)
        await connection
        return connection

    return create


SQLITE_CACHE_KIB = 32 * 1024
SQLITE_PAGE_SIZE = 16 * 1024


def _configure_sqlite(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control away from the driver so BEGIN is ours (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # Pages of 16 KB instead of 4 KB: a bulk write of 500 records dirties about a quarter as many
        # pages (each a WAL frame written at commit) and splits fewer. Ingest: ~10,200 vs ~6,800
        # records/s in alternating runs (32 and 64 KB were slower again). It takes effect only
        # on a new database (before its first table); an existing one keeps its page size.
        cursor.execute(f"PRAGMA page_size={SQLITE_PAGE_SIZE}")
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms}")
        # No checkpoint inside a commit (commits run on the event loop's thread): `sqlite_checkpoint`
        # runs them on a thread of its own, at most once a second.
        cursor.execute("PRAGMA wal_autocheckpoint=0")
        # A page cache of up to 32 MB per connection (SQLite's default is 2 MB): a filtered search
        # over 100k records walks ~25 MB of metadata index; with the default it re-reads most pages
        # from the OS on every query (~25% slower). Only pages actually read take memory.
        cursor.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get("quire_write") else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")
