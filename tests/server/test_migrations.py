"""The migrations produce exactly the schema the models describe, on both databases."""

from __future__ import annotations

from quire.server.db import Database
from quire.server.migrate import current_revision, head_revision, migrate, schema_drift


async def test_migrated_schema_matches_the_models(database: Database) -> None:
    assert await current_revision(database) == head_revision()
    async with database.session(write=False) as session:
        connection = await session.connection()
        assert await connection.run_sync(schema_drift) == []


async def test_migrating_twice_is_a_no_op(database: Database) -> None:
    await migrate(database)
    assert await current_revision(database) == head_revision()
