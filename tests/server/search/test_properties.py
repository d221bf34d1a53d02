"""Property tests: random datasets, random filter trees and sorts, run compiled on the database and
through the pure-Python reference evaluator; same ids, same order, same total. One database per
test function (a new dataset per example), so each backend runs in seconds."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Coroutine, Iterator
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.db import Database
from quire.server.models import Dataset
from quire.server.search import (
    And,
    MetadataScope,
    Node,
    Not,
    Or,
    QueryError,
    SearchQuery,
    SortBy,
    Text,
    parse_query_string,
    search_records,
)
from quire.server.search.filters import positive_texts
from tests.server.search.data import Seeded, Spec, load_dataset, seed
from tests.server.search.fixtures import sample_spec
from tests.server.search.reference import Reference
from tests.server.search.strategies import (
    METADATA_LEAVES,
    RESPONSE_LEAVES,
    RESPONSE_SORTS,
    TEXT_LEAVES,
    filters,
    resolve_ids,
    sorts,
    sorts_of,
    specs,
    trees,
    users,
)

T = TypeVar("T")
# Raise for a deeper run: QUIRE_SEARCH_EXAMPLES=500 pytest tests/server/search/test_properties.py
EXAMPLES = int(os.environ.get("QUIRE_SEARCH_EXAMPLES", "40"))
PROPERTY_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
)
FOCUSED_SETTINGS = settings(PROPERTY_SETTINGS, max_examples=max(10, EXAMPLES * 3 // 4))


class Runner:
    """Runs coroutines on a private event loop, so hypothesis can drive a sync test body while the
    database (and its connections) live for the whole test function."""

    def __init__(self, url: str) -> None:
        self.loop = asyncio.new_event_loop()
        self.database = Database(url)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self.loop.run_until_complete(coro)

    def close(self) -> None:
        self.run(self.database.dispose())
        self.loop.close()


@pytest.fixture
def runner(database_url: str) -> Iterator[Runner]:
    r = Runner(database_url)
    yield r
    r.close()


async def _search(
    session: AsyncSession,
    dataset: Dataset,
    seeded: Seeded,
    query: SearchQuery,
    *,
    user: str | None,
    offset: int = 0,
    limit: int = 1000,
) -> tuple[list[int], int]:
    user_id = seeded.user_ids[user] if user else None
    result = await search_records(
        session, dataset=dataset, query=query, offset=offset, limit=limit, user_id=user_id
    )
    return [seeded.index(i) for i, _ in result.hits], result.total


async def _search_once(database: Database, seeded: Seeded, query: SearchQuery) -> tuple[list[int], int]:
    async with database.session(write=False) as session:
        dataset = await load_dataset(session, seeded.dataset_id)
        return await _search(session, dataset, seeded, query, user=None)


Query = tuple[Node | None, list[SortBy], str | None]


def agree(runner: Runner, spec: Spec, batch: list[Query], page: tuple[int, int]) -> None:
    """Every query of the batch returns on the database what the reference evaluator returns."""
    seeded = runner.run(seed(runner.database, spec))
    runner.run(_agree(runner.database, seeded, batch, page))


def _fields(node: Node | None) -> set[str]:
    if isinstance(node, Text):
        return {node.field} if node.field else set()
    if isinstance(node, And | Or):
        return {f for child in node.children for f in _fields(child)}
    if isinstance(node, Not):
        return _fields(node.child)
    return set()


async def _agree(database: Database, seeded: Seeded, batch: list[Query], page: tuple[int, int]) -> None:
    async with database.session(write=False) as session:
        dataset = await load_dataset(session, seeded.dataset_id)
        for i, (raw, sort, user) in enumerate(batch):
            node = None if raw is None else resolve_ids(raw, seeded)
            # a lone text goes, every other time, where the SDK puts it: the query's text
            query = (
                SearchQuery(text=node, sort=sort)
                if isinstance(node, Text) and i % 2
                else SearchQuery(filter=node, sort=sort)
            )
            if missing := _fields(node) - set(seeded.spec.fields):
                with pytest.raises(QueryError, match=f"unknown field '{missing.pop()}'"):
                    await _search(session, dataset, seeded, query, user=user)
                continue
            expected = Reference(seeded, user).search(node, sort)
            got, total = await _search(session, dataset, seeded, query, user=user)
            assert total == len(expected), (node, sort, user)
            if not sort and positive_texts(node):
                assert sorted(got) == sorted(expected), (node, user)  # ordered by relevance
                continue
            assert got == expected, (node, sort, user)
            offset, limit = page
            paged, _ = await _search(session, dataset, seeded, query, user=user, offset=offset, limit=limit)
            assert paged == expected[offset : offset + limit], (node, sort, user, page)


pages = st.tuples(st.integers(0, 4), st.integers(1, 4))


def test_engine_agrees_with_reference(runner: Runner) -> None:
    batch = st.lists(st.tuples(st.none() | filters, sorts, users), min_size=1, max_size=8)

    @PROPERTY_SETTINGS
    @given(spec=specs(), batch=batch, page=pages)
    def check(spec: Spec, batch: list[Query], page: tuple[int, int]) -> None:
        agree(runner, spec, batch, page)

    check()


def test_metadata_conjunctions_sorted_by_metadata_agree(runner: Runner) -> None:
    """ANDs of metadata conditions sorted by one metadata property: on SQLite, when the sort
    property is also filtered and no record holds several values under it, the page is a walk of
    its value index; with list values (some datasets here) it must not be."""
    conjunctions = st.lists(st.one_of(*METADATA_LEAVES), min_size=1, max_size=3).map(
        lambda c: And(tuple(c)) if len(c) > 1 else c[0]
    )
    one_sort = st.builds(
        lambda scope, order: [SortBy(scope, order)],
        st.sampled_from([MetadataScope("lang"), MetadataScope("n"), MetadataScope("score")]),
        st.sampled_from(["asc", "desc"]),
    )
    batch = st.lists(st.tuples(conjunctions, one_sort, st.none()), min_size=3, max_size=8)

    @FOCUSED_SETTINGS
    @given(spec=specs(min_records=3, number_lists=True), batch=batch, page=pages)
    def check(spec: Spec, batch: list[Query], page: tuple[int, int]) -> None:
        agree(runner, spec, batch, page)

    check()


def test_response_filters_and_sorts_agree(runner: Runner) -> None:
    """Responses, per user or all: pending means "no response", numeric sorts average."""
    batch = st.lists(
        st.tuples(trees(RESPONSE_LEAVES, max_leaves=3), sorts_of(st.sampled_from(RESPONSE_SORTS)), users),
        min_size=3,
        max_size=8,
    )

    @FOCUSED_SETTINGS
    @given(spec=specs(min_records=3), batch=batch, page=pages)
    def check(spec: Spec, batch: list[Query], page: tuple[int, int]) -> None:
        agree(runner, spec, batch, page)

    check()


def test_text_filters_agree(runner: Runner) -> None:
    """Full text: words across fields, one field, phrases, prefixes, negation."""
    batch = st.lists(
        st.tuples(trees(TEXT_LEAVES, max_leaves=3), st.just([]), st.none()), min_size=4, max_size=10
    )

    @FOCUSED_SETTINGS
    @given(spec=specs(min_records=3, one_field=None), batch=batch)
    def check(spec: Spec, batch: list[Query]) -> None:
        agree(runner, spec, batch, (0, 1))

    check()


def test_any_text_is_a_safe_query(runner: Runner) -> None:
    seeded = runner.run(seed(runner.database, sample_spec()))

    @PROPERTY_SETTINGS
    @given(
        text=st.text(max_size=40),
        field=st.sampled_from([None, "text"]),
        phrase=st.booleans(),
        prefix=st.booleans(),
    )
    def check(text: str, field: str | None, phrase: bool, prefix: bool) -> None:
        node = Text(text, field=field, phrase=phrase, prefix=prefix)
        try:
            got, total = runner.run(_search_once(runner.database, seeded, SearchQuery(text=node)))
        except QueryError as exc:
            assert "words; at most" in exc.message
            return
        assert len(got) == total

    check()


def test_any_query_string_parses_or_says_why(runner: Runner) -> None:
    seeded = runner.run(seed(runner.database, sample_spec()))
    alphabet = st.sampled_from(
        [
            *'ab :"*?~^()[]{}-+\\/<>=!.\x00',
            "AND ",
            "OR ",
            "NOT ",
            "TO ",
            "metadata.n",
            "fields.text",
            "status",
            "external_id",
            "metadata.lang",
            "suggestions.label",
            "responses.rating",
            "1",
            "2024-01-01",
        ]
    )

    @PROPERTY_SETTINGS
    @given(query=st.lists(alphabet, max_size=12).map("".join) | st.text(max_size=30))
    def check(query: str) -> None:
        try:
            node = parse_query_string(query)
            runner.run(_search_once(runner.database, seeded, SearchQuery(filter=node)))
        except QueryError as exc:
            assert exc.message.startswith(
                ("invalid query", "unknown ", "a ", "record ", "integer ", "metadata ")
            )
            assert exc.status_code == 422

    check()
