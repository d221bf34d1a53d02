"""Fixtures for search tests: a store (SQLite and PostgreSQL, from the root conftest) and a
helper that seeds it and runs searches."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from quire.server.db import Database
from quire.server.search import SearchQuery, SearchResult, search_records
from tests.server.search.data import Seeded, Spec, load_dataset, seed


class Store:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def seed(self, spec: Spec) -> Seeded:
        return await seed(self.database, spec)

    async def search(
        self,
        seeded: Seeded,
        query: SearchQuery | None = None,
        *,
        offset: int = 0,
        limit: int = 1000,
        user: str | None = None,
    ) -> SearchResult:
        async with self.database.session(write=False) as session:
            dataset = await load_dataset(session, seeded.dataset_id)
            user_id: uuid.UUID | None = seeded.user_ids[user] if user else None
            return await search_records(
                session,
                dataset=dataset,
                query=query or SearchQuery(),
                offset=offset,
                limit=limit,
                user_id=user_id,
            )

    async def indexes(self, seeded: Seeded, query: SearchQuery, **kwargs: object) -> list[int]:
        """Positions (in `spec.records`) of the hits, in order."""
        result = await self.search(seeded, query, **kwargs)  # type: ignore[arg-type]
        return [seeded.index(record_id) for record_id, _ in result.hits]


@pytest.fixture
async def store(database: Database) -> AsyncIterator[Store]:
    yield Store(database)
