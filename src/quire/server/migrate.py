"""Schema migrations (Alembic), run at server start and by `quire db migrate`.

On PostgreSQL an advisory lock serializes concurrent starts of several servers; on SQLite the
migration runs inside one `BEGIN IMMEDIATE` transaction, so DDL is all-or-nothing there too.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from quire.server.db import Database

_MIGRATIONS = Path(__file__).parent / "migrations"
_ADVISORY_LOCK_KEY = 0x71756972  # "quir"


HAND_MADE_INDEXES = frozenset({"ix_events_txid", "ix_record_texts_tsv", "ix_record_texts_dataset_id"})


def managed_by_models(name: str | None, type_: str, _parent: object) -> bool:
    """What migrations derive from the models. Left out: the FTS5 tables, the tsvector column and
    the indexes that migrations make on PostgreSQL only."""
    if type_ == "table" and name is not None and name.startswith("record_texts_fts"):
        return False
    if type_ == "index" and name in HAND_MADE_INDEXES:
        return False
    return not (type_ == "column" and name == "tsv")


def schema_drift(sync_connection: Any) -> list[Any]:
    """Differences between the models and a migrated database (empty when they agree)."""
    from alembic.autogenerate import compare_metadata

    from quire.server.models import Base

    context = MigrationContext.configure(
        sync_connection, opts={"include_name": managed_by_models, "compare_type": True}
    )
    return list(compare_metadata(context, Base.metadata))


def alembic_config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    return config


def _upgrade(sync_connection: Any, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync_connection
    command.upgrade(config, revision)


def _current(sync_connection: Any) -> str | None:
    return MigrationContext.configure(sync_connection).get_current_revision()


def head_revision() -> str | None:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


async def migrate(database: Database, revision: str = "head") -> None:
    async with database.session(write=True) as session:
        connection = await session.connection()
        if database.dialect == "postgresql":
            await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
        await connection.run_sync(_upgrade, revision)
        await session.commit()


async def current_revision(database: Database) -> str | None:
    async with database.session(write=False) as session:
        connection = await session.connection()
        return await connection.run_sync(_current)


def _revision(sync_connection: Any, message: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync_connection
    command.revision(config, message=message, autogenerate=True)


async def autogenerate_revision(database: Database, message: str) -> None:
    """Developer tool: write a new revision from the difference between the models and `database`
    (which must be at head). Review the file: dialect-specific DDL is added by hand."""
    async with database.session(write=True) as session:
        connection = await session.connection()
        await connection.run_sync(_revision, message)
