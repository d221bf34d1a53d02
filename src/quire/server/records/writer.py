"""Rows out to the database fast: driver SQL with parameters encoded once.

The bulk record path (`records.bulk`) writes thousands of rows per request. Going through
SQLAlchemy's Core `insert()` cost more in per-row parameter processing (UUID, datetime and JSON type
processors) than the database spent writing; `RowWriter` encodes each value once, in exactly the
form those types would bind, and sends plain SQL.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from itertools import chain
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm.attributes import set_committed_value

from quire.server.db import Dialect, json_dumps
from quire.server.models import Dataset, table_of
from quire.server.sql import sqlite_time

_datasets = table_of(Dataset)

# by `sqlite`: the names as a JSON array (SQLite) or an array (PostgreSQL)
_NUMBERED_NAMES = {
    True: "SELECT name, id FROM metadata_keys WHERE dataset_id = ? AND name IN (SELECT value FROM json_each(?))",
    False: "SELECT name, id FROM metadata_keys WHERE dataset_id = $1 AND name = ANY($2::varchar[])",
}
_NUMBER_NAMES = {  # (SQLite needs the WHERE to tell the upsert's ON from a join's)
    True: "INSERT INTO metadata_keys (dataset_id, name) SELECT ?, value FROM json_each(?) WHERE true "
    "ON CONFLICT (dataset_id, name) DO NOTHING",
    False: "INSERT INTO metadata_keys (dataset_id, name) SELECT $1, unnest($2::varchar[]) "
    "ON CONFLICT (dataset_id, name) DO NOTHING",
}


# ---------------------------------------------------------------- writing


# SQLite's default limit on parameters per statement since 3.32 (999 before).
_SQLITE_MAX_PARAMS = 32766 if sqlite3.sqlite_version_info >= (3, 32, 0) else 999
_POSTGRESQL_MAX_PARAMS = 32767
_MAX_ROWS_PER_STATEMENT = 1000


@lru_cache(maxsize=64)
def _values(sqlite: bool, width: int, count: int) -> str:
    """`(?, ?), (?, ?)` (SQLite) or `($1, $2), ($3, $4)` (PostgreSQL) for `count` rows of `width`."""
    if sqlite:
        row = f"({', '.join('?' * width)})"
        return ", ".join([row] * count)
    return ", ".join(
        f"({', '.join(f'${n}' for n in range(first, first + width))})"
        for first in range(1, width * count + 1, width)
    )


class RowWriter:
    """Rows out to the database as driver SQL, with parameters encoded as SQLAlchemy's types would
    bind them: on SQLite, UUIDs as 32 hex digits (`Uuid`) and timestamps as naive-UTC text
    (`UTCDateTime` over `DateTime`); on PostgreSQL (asyncpg), UUIDs as they are and naive-UTC
    datetimes; JSON as text on both, `None` as JSON `null` (what `JSON` stores for an explicit None).

    Rows go as multi-row `INSERT … VALUES (…), (…)` statements. On SQLite they replace `executemany`,
    where each row is its own statement transaction and the FTS5 index that a trigger feeds from
    `record_texts` flushed its pending terms once per row (four times the cost of the whole
    insert); on PostgreSQL they cost half the time of asyncpg's `executemany`.

    On SQLite the statements go straight to the driver connection (inside the write transaction
    they run on the event loop's thread: `sqlite_driver`)."""

    def __init__(self, conn: AsyncConnection, dialect: Dialect, driver: Any) -> None:
        self.conn = conn
        self.sqlite = dialect == "sqlite"
        self._driver = driver

    @classmethod
    async def open(cls, session: AsyncSession, dialect: Dialect) -> RowWriter:
        conn = await session.connection()
        driver = (await conn.get_raw_connection()).driver_connection if dialect == "sqlite" else None
        return cls(conn, dialect, driver)

    def id(self, value: uuid.UUID) -> Any:
        return value.hex if self.sqlite else value

    def time(self, value: datetime) -> Any:
        return sqlite_time(value) if self.sqlite else value.astimezone(UTC).replace(tzinfo=None)

    def marks(self, count: int) -> list[str]:
        return ["?" if self.sqlite else f"${n}" for n in range(1, count + 1)]

    async def insert(
        self,
        table: str,
        columns: Sequence[str],
        rows: Sequence[Sequence[Any]],
        *,
        conflict: str = "",
        update: Sequence[str] = (),
    ) -> None:
        """Insert `rows`; with `conflict`, `ON CONFLICT (conflict) DO UPDATE` the `update` columns."""
        if not rows:
            return
        names = ", ".join(f'"{c}"' for c in columns)
        head = f"INSERT INTO {table} ({names}) VALUES "
        tail = ""
        if conflict:
            sets = ", ".join(f'"{c}" = excluded."{c}"' for c in update)
            tail = f" ON CONFLICT ({conflict}) DO UPDATE SET {sets}"
        width = len(columns)
        max_params = _SQLITE_MAX_PARAMS if self.sqlite else _POSTGRESQL_MAX_PARAMS
        per_statement = max(1, min(_MAX_ROWS_PER_STATEMENT, max_params // width))
        for start in range(0, len(rows), per_statement):
            part = rows[start : start + per_statement]
            sql = f"{head}{_values(self.sqlite, width, len(part))}{tail}"
            params = tuple(chain.from_iterable(part))
            if self.sqlite:
                await self._submit(sql, params)
            else:
                await self.conn.exec_driver_sql(sql, params)

    async def delete_where_in(self, table: str, column: str, keys: Sequence[Any]) -> None:
        for start in range(0, len(keys), 500):
            part = tuple(keys[start : start + 500])
            sql = f'DELETE FROM {table} WHERE "{column}" IN ({", ".join(self.marks(len(part)))})'
            if self.sqlite:
                await self._submit(sql, part)
            else:
                await self.conn.exec_driver_sql(sql, part)

    async def update_records(self, rows: list[tuple[Any, ...]]) -> None:
        """(fields, metadata, updated_at, id) per record."""
        if rows:
            a, b, c, d = self.marks(4)
            sql = f'UPDATE records SET "fields" = {a}, "metadata" = {b}, "updated_at" = {c} WHERE "id" = {d}'
            await self.conn.exec_driver_sql(sql, rows)

    async def metadata_keys(self, dataset_id: uuid.UUID, names: Collection[str]) -> dict[str, int]:
        """The key (`metadata_keys.id`) of each of `names` in the dataset; names it has not seen
        yet are numbered first (concurrent writers on PostgreSQL: whoever inserts second skips).
        The names travel as one parameter (a JSON array on SQLite, an array on PostgreSQL): a
        batch may hold more names than a statement takes parameters."""
        if not names:
            return {}
        wanted = sorted(names)
        keys = await self._numbered(dataset_id, wanted)
        if missing := [name for name in wanted if name not in keys]:
            params = self._names_params(dataset_id, missing)
            if self.sqlite:
                await self._submit(_NUMBER_NAMES[True], params)
            else:
                await self.conn.exec_driver_sql(_NUMBER_NAMES[False], params)
            keys = await self._numbered(dataset_id, wanted)
        return keys

    async def _numbered(self, dataset_id: uuid.UUID, names: list[str]) -> dict[str, int]:
        sql, params = _NUMBERED_NAMES[self.sqlite], self._names_params(dataset_id, names)
        if self.sqlite:
            rows: list[Any] = list(await self._driver.execute_fetchall(sql, params))
        else:
            rows = list(await self.conn.exec_driver_sql(sql, params))
        return {name: key for name, key in rows}

    def _names_params(self, dataset_id: uuid.UUID, names: list[str]) -> tuple[Any, Any]:
        return (dataset_id.hex, json_dumps(names)) if self.sqlite else (dataset_id, names)

    async def next_seq(self) -> int:
        """SQLite only: the next free `records.seq` (writers are serialized by BEGIN IMMEDIATE)."""
        rows = list(await self._driver.execute_fetchall("SELECT coalesce(max(seq), 0) FROM records"))
        return int(rows[0][0]) + 1

    async def touch_dataset(self, dataset: Dataset, now: datetime) -> None:
        """Set the dataset's `last_activity_at` (and `updated_at`, as the column's onupdate would)."""
        if self.sqlite:
            stamp = self.time(now)
            sql = "UPDATE datasets SET last_activity_at = ?, updated_at = ? WHERE id = ?"
            await self._submit(sql, (stamp, stamp, self.id(dataset.id)))
        else:
            await self.conn.execute(
                update(_datasets).where(_datasets.c.id == dataset.id).values(last_activity_at=now)
            )
        set_committed_value(dataset, "last_activity_at", now)

    async def _submit(self, sql: str, params: tuple[Any, ...]) -> None:
        await self._driver.execute_fetchall(sql, params)
