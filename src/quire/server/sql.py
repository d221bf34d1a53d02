"""Small dialect-aware SQL helpers."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
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
