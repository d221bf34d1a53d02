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
            name = "k.name" if await current_revision(database) == head_revision() else "m.name"
            join = "JOIN metadata_keys k ON k.id = m.key_id " if name == "k.name" else ""
            rows = await session.execute(
                text(
                    f"SELECT r.external_id, {name}, m.multi FROM record_metadata m {join}"
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
    await migrate(database, "0008")
    assert await marks() == written
    await migrate(database)
    assert await marks() == written


async def test_0009_numbers_each_datasets_metadata_names(api: Api, database: Database) -> None:
    """Upgrading moves every metadata row under its dataset's number for its name, and downgrading
    gives each row its dataset and name back; search finds the same records before and after."""
    metadata = {"lang": {"type": "terms"}}  # `n` stays undeclared: it gets its number all the same
    datasets = [await make_dataset(api, metadata=metadata, allow_extra_metadata=True) for _ in range(2)]
    for n, dataset in enumerate(datasets):
        items = [
            {"external_id": f"{n}-{i}", "fields": {"text": "t"}, "metadata": {"lang": lang, "n": i + n}}
            for i, lang in enumerate(["en", "fr", "en"])
        ]
        await api.ok("PUT", f"/api/v1/datasets/{dataset['id']}/records/bulk", json={"items": items})

    async def rows(sql: str) -> list[tuple[Any, ...]]:
        async with database.session(write=False) as session:
            return [tuple(row) for row in await session.execute(text(sql))]

    def key(dataset_id: Any) -> str:
        return str(dataset_id).replace("-", "") if database.dialect == "sqlite" else str(dataset_id)

    keyed = (
        "SELECT r.external_id, k.name, m.value_text, m.value_num, k.dataset_id = r.dataset_id "
        "FROM record_metadata m JOIN metadata_keys k ON k.id = m.key_id "
        "JOIN records r ON r.id = m.record_id ORDER BY 1, 2"
    )
    named = (
        "SELECT r.external_id, m.name, m.value_text, m.value_num, m.dataset_id = r.dataset_id "
        "FROM record_metadata m JOIN records r ON r.id = m.record_id ORDER BY 1, 2"
    )
    written = await rows(keyed)
    assert len(written) == 12 and all(row[4] for row in written)
    assert len(await rows("SELECT id FROM metadata_keys")) == 4  # lang and n, per dataset

    async def english(dataset: dict[str, Any]) -> list[str]:
        body = {"query": {"text": {"q": "t"}}, "filters": {"and": [
            {"type": "terms", "scope": {"entity": "metadata", "metadata_property": "lang"}, "values": ["en"]}
        ]}}  # fmt: skip
        found = await api.ok(
            "POST", f"/api/v1/datasets/{dataset['id']}/records/search", json=body, status=200
        )
        return sorted(item["record"]["external_id"] for item in found["items"])

    found = [await english(dataset) for dataset in datasets]
    assert found == [["0-0", "0-2"], ["1-0", "1-2"]]

    async with database.session(write=True) as session:
        connection = await session.connection()
        await connection.run_sync(_downgrade, "0008")
        await session.commit()
    assert await rows(named) == written
    assert await rows("SELECT count(*) FROM record_metadata WHERE dataset_id IS NULL OR name IS NULL") == [
        (0,)
    ]
    await migrate(database)
    assert await rows(keyed) == written
    assert sorted(map(key, {row[0] for row in await rows("SELECT dataset_id FROM metadata_keys")})) == sorted(
        key(d["id"]) for d in datasets
    )
    assert [await english(dataset) for dataset in datasets] == found
