"""The migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

from alembic import command
from sqlalchemy import text

from quire.server.db import Database
from quire.server.migrate import alembic_config, current_revision, head_revision, migrate, schema_drift
from tests.conftest import Api
from tests.server.helpers import make_dataset


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    assert await current_revision(database) == head_revision()
    async with database.session(write=False) as session:
        connection = await session.connection()
        assert await connection.run_sync(schema_drift) == []


async def test_migrating_twice_is_a_no_op(database: Database) -> None:
    await migrate(database)
    assert await current_revision(database) == head_revision()


def _downgrade(sync_connection: Any, revision: str) -> None:
    config = alembic_config()
    config.attributes["connection"] = sync_connection
    command.downgrade(config, revision)


async def test_0007_marks_the_metadata_rows_of_lists_it_finds(api: Api, database: Database) -> None:
    """Upgrading a database written before `multi` existed marks the rows of list values of
    several members, and only those."""
    dataset = await make_dataset(api, metadata={}, allow_extra_metadata=True)
    items = [
        {"external_id": "a", "fields": {"text": "t"}, "metadata": {"tags": ["x", "y"], "n": 1}},
        {"external_id": "b", "fields": {"text": "t"}, "metadata": {"tags": ["x"], "n": [2, 3]}},
    ]
    await api.ok("PUT", f"/api/v1/datasets/{dataset['id']}/records/bulk", json={"items": items})

    async def marks() -> list[tuple[str, str, bool]]:
        async with database.session(write=False) as session:
            rows = await session.execute(
                text(
                    "SELECT r.external_id, m.name, m.multi FROM record_metadata m "
                    "JOIN records r ON r.id = m.record_id ORDER BY 1, 2, m.value_text, m.value_num"
                )
            )
            return [(e, n, bool(multi)) for e, n, multi in rows]

    written = await marks()
    assert written == [
        ("a", "n", False),
        ("a", "tags", True),
        ("a", "tags", True),
        ("b", "n", True),
        ("b", "n", True),
        ("b", "tags", False),
    ]
    async with database.session(write=True) as session:
        connection = await session.connection()
        await connection.run_sync(_downgrade, "0006")
        await session.commit()
    assert await current_revision(database) == "0006"
    await migrate(database)
    assert await marks() == written
