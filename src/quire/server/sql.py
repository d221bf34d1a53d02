"""Small dialect-aware SQL helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.dml import Insert

from quire.server.db import Dialect


def upsert(dialect: Dialect, table: Table, *, conflict: list[str], update: list[str]) -> Insert:
    """`INSERT … ON CONFLICT (conflict) DO UPDATE SET col = excluded.col` for every `update` column."""
    insert_fn: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = insert_fn(table)
    result: Insert = stmt.on_conflict_do_update(
        index_elements=[table.c[name] for name in conflict],
        set_={name: stmt.excluded[name] for name in update},
    )
    return result


def chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def sqlite_time(moment: datetime) -> str:
    """A timestamp as `UTCDateTime` stores it on SQLite: naive UTC text with microseconds, which
    sorts and compares as text (statements sent straight to the driver bind this)."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


async def sqlite_connection(session: AsyncSession) -> Any:
    """SQLite: the driver connection under the session's transaction (begun by `connection()`).
    Statements sent to it skip SQLAlchemy's per-statement work; inside a write transaction they
    run on the event loop's thread (`sqlite_driver`). They bind and read values as the column types
    store them: UUIDs as 32 hex digits, JSON as text, timestamps as `sqlite_time`."""
    conn = await session.connection()
    return (await conn.get_raw_connection()).driver_connection


def stored_json(stored: str | None) -> Any:
    """A JSON column's value as read straight from the SQLite driver (text, or NULL)."""
    return None if stored is None else orjson.loads(stored)
