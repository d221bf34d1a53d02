"""The PostgreSQL side of `benchmarks.search_shapes`: statistics after loading, waiting out queries
the server still runs after a client timeout, `EXPLAIN (ANALYZE, BUFFERS)` of slow statements, and
a kept copy of the scratch database. Each helper opens its own asyncpg connection to `url`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy.engine import make_url

from benchmarks.ingest import _pg_admin, _pg_connect_args

T = TypeVar("T")


def _run(url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    async def run() -> T:
        connection = await asyncpg.connect(**_pg_connect_args(url))
        try:
            return await work(connection)
        finally:
            await connection.close()

    return asyncio.run(run())


def analyze(url: str) -> float:
    """`ANALYZE` the whole database (autovacuum would, eventually); returns the seconds it took."""
    started = time.perf_counter()
    _pg_admin(url, "ANALYZE")
    return time.perf_counter() - started


_ACTIVE = "FROM pg_stat_activity WHERE datname = $1 AND state = 'active' AND pid <> pg_backend_pid()"


def _active(url: str, *, cancel: bool = False) -> int:
    """How many statements other sessions run in the database of `url`; with `cancel`, cancel them."""
    query = f"SELECT count(pg_cancel_backend(pid)) {_ACTIVE}" if cancel else f"SELECT count(*) {_ACTIVE}"

    async def count(connection: Any) -> int:
        return int(await connection.fetchval(query, make_url(url).database))

    return _run(url, count)


def wait_until_idle(url: str, limit_s: float = 600.0) -> str:
    """After a client timeout the server's statement still runs in PostgreSQL: wait until no session
    of the database is active, then say how long that took. Past `limit_s` the statements are
    cancelled, so they do not slow down the next shapes."""
    started = time.monotonic()
    while _active(url):
        if time.monotonic() - started > limit_s:
            _active(url, cancel=True)
            return f"PostgreSQL was still busy after {limit_s:.0f} s more: cancelled"
        time.sleep(1.0)
    return f"PostgreSQL stayed busy {time.monotonic() - started:.0f} s more"


def explain(url: str, sql: str, parameters: Sequence[Any], timeout_s: float) -> list[str]:
    """`EXPLAIN (ANALYZE, BUFFERS)` of one statement as the server sent it (asyncpg's `$n`
    placeholders and values); only the estimated plan when it runs longer than `timeout_s`."""

    async def work(connection: Any) -> list[str]:
        await connection.execute(f"SET statement_timeout = {int(timeout_s * 1000)}")
        try:
            rows = await connection.fetch(f"EXPLAIN (ANALYZE, BUFFERS) {sql}", *parameters)
            return [str(row[0]) for row in rows]
        except asyncpg.QueryCanceledError:
            rows = await connection.fetch(f"EXPLAIN {sql}", *parameters)
            note = f"(EXPLAIN ANALYZE cancelled after {timeout_s:.0f} s; the estimated plan:)"
            return [note, *(str(row[0]) for row in rows)]
        except asyncpg.PostgresError as exc:
            return [f"(no plan: {type(exc).__name__}: {exc})"]

    return _run(url, work)


def keep_copy(admin_url: str, url: str, name: str) -> str:
    """Copy the database of `url` (nobody may be connected to it) to database `name`, replacing one
    of that name, through the server's database `admin_url`; returns the copy's URL."""
    source = make_url(url).database
    if name in (source, make_url(admin_url).database, "postgres", "template0", "template1"):
        raise ValueError(f"will not replace database {name!r}")
    _pg_admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    _pg_admin(admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{source}"')
    return make_url(url).set(database=name).render_as_string(hide_password=False)
