"""Ordering: explicit sorts (missing values last), relevance, insertion order, stable paging."""

from __future__ import annotations

import pytest

from quire.server.search import (
    And,
    MetadataScope,
    Range,
    RecordScope,
    ResponseScope,
    SearchQuery,
    SortBy,
    SuggestionScope,
    Terms,
    Text,
)
from tests.server.search.conftest import Store
from tests.server.search.fixtures import sample_spec
from tests.server.search.reference import Reference

CASES: list[tuple[list[SortBy], list[int]]] = [
    ([], [0, 1, 2, 3, 4]),  # insertion order
    ([SortBy(MetadataScope("n"))], [0, 1, 2, 4, 3]),
    ([SortBy(MetadataScope("n"), "desc")], [4, 2, 1, 0, 3]),
    # lists sort by their smallest member ascending, by their largest descending
    ([SortBy(MetadataScope("lang"))], [0, 2, 1, 4, 3]),
    ([SortBy(MetadataScope("lang"), "desc")], [2, 4, 1, 0, 3]),
    ([SortBy(MetadataScope("score"))], [0, 1, 4, 2, 3]),
    ([SortBy(RecordScope("external_id"))], [0, 1, 3, 4, 2]),
    ([SortBy(RecordScope("external_id"), "desc")], [4, 3, 1, 0, 2]),
    ([SortBy(RecordScope("inserted_at"), "desc")], [4, 3, 2, 1, 0]),
    ([SortBy(RecordScope("status")), SortBy(MetadataScope("n"), "desc")], [2, 0, 4, 1, 3]),
    ([SortBy(SuggestionScope("label", "score"), "desc")], [0, 1, 2, 3, 4]),
    ([SortBy(SuggestionScope("label", "score"))], [1, 0, 2, 3, 4]),
    ([SortBy(SuggestionScope("topics", "score"))], [0, 2, 1, 3, 4]),
    ([SortBy(SuggestionScope("topics", "score"), "desc")], [0, 2, 1, 3, 4]),
    ([SortBy(SuggestionScope("rating"), "desc")], [0, 1, 2, 3, 4]),
    ([SortBy(SuggestionScope("label"))], [1, 0, 2, 3, 4]),
    ([SortBy(SuggestionScope("rank"), "desc")], [4, 0, 1, 2, 3]),
    ([SortBy(SuggestionScope("label", "agent"), "desc")], [1, 0, 2, 3, 4]),
    ([SortBy(ResponseScope("rating"))], [2, 0, 1, 3, 4]),  # average of the responses
    ([SortBy(ResponseScope("label"))], [0, 2, 1, 3, 4]),
    ([SortBy(ResponseScope(None, "status"))], [2, 1, 0, 3, 4]),
]


async def test_sorts(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    failures = []
    for sort, expected in CASES:
        got = await store.indexes(seeded, SearchQuery(sort=sort))
        oracle = Reference(seeded).search(None, sort)
        if got != expected or oracle != expected:
            failures.append(f"{sort}: got {got}, expected {expected}, reference {oracle}")
    assert not failures, "\n".join(failures)


async def test_response_sort_sees_only_the_users_responses(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    sort = [SortBy(ResponseScope("rating"))]
    assert await store.indexes(seeded, SearchQuery(sort=sort), user="u2") == [2, 1, 0, 3, 4]
    assert Reference(seeded, "u2").search(None, sort) == [2, 1, 0, 3, 4]


@pytest.mark.parametrize(("offset", "limit"), [(0, 2), (2, 2), (4, 2), (5, 2), (1, 3)])
async def test_paging_is_stable(store: Store, offset: int, limit: int) -> None:
    seeded = await store.seed(sample_spec())
    query = SearchQuery(sort=[SortBy(RecordScope("status"))])  # ties broken by record id
    everything = await store.indexes(seeded, query)
    assert everything == Reference(seeded).search(None, query.sort)
    statuses = [seeded.spec.records[i].status for i in everything]
    assert statuses == sorted(statuses)
    result = await store.search(seeded, query, offset=offset, limit=limit)
    assert [seeded.index(i) for i, _ in result.hits] == everything[offset : offset + limit]
    assert result.total == 5


async def test_text_relevance_orders_by_default(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    result = await store.search(seeded, SearchQuery(text=Text("hello world")))
    scores = [score for _, score in result.hits]
    assert sorted(seeded.index(i) for i, _ in result.hits) == [0, 4]
    assert all(s is not None and s > 0 for s in scores)
    assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


async def test_relevance_counts_text_found_in_filters(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    query = SearchQuery(filter=Text("hello"), sort=[SortBy(MetadataScope("n"), "desc")])
    result = await store.search(seeded, query)
    assert [seeded.index(i) for i, _ in result.hits] == [4, 1, 0]  # explicit sort wins
    assert all(score is not None and score > 0 for _, score in result.hits)


async def test_query_without_text_has_no_score(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    result = await store.search(seeded, SearchQuery(filter=Terms(MetadataScope("lang"), ("en",))))
    assert [score for _, score in result.hits] == [None, None]


METADATA_ONLY: list[tuple[list[Terms | Range], list[SortBy]]] = [
    # record 2 has lang ["en", "fr"]: it matches both values, and must come back once
    ([Terms(MetadataScope("lang"), ("en", "fr"))], [SortBy(MetadataScope("n"), "desc")]),
    (
        [Terms(MetadataScope("lang"), ("en", "fr", "es")), Range(MetadataScope("n"), ge=2)],
        [SortBy(MetadataScope("score"))],
    ),
    (
        [Range(MetadataScope("n"), ge=1, le=5)],
        [SortBy(MetadataScope("lang"), "desc"), SortBy(MetadataScope("n"))],
    ),
    ([Range(MetadataScope("score"), gt=0)], [SortBy(MetadataScope("score"), "desc")]),
]


@pytest.mark.parametrize(("offset", "limit"), [(0, 100), (1, 2), (3, 5)])
async def test_metadata_only_queries_agree_with_the_reference(store: Store, offset: int, limit: int) -> None:
    """Filters and sorts on metadata alone are answered from the metadata rows without reading
    `records` (SQLite): same hits, order, paging and total as the reference."""
    seeded = await store.seed(sample_spec())
    for conditions, sort in METADATA_ONLY:
        query = SearchQuery(
            filter=And(tuple(conditions)) if len(conditions) > 1 else conditions[0], sort=sort
        )
        expected = Reference(seeded).search(query.filter, sort)
        result = await store.search(seeded, query, offset=offset, limit=limit)
        got = [seeded.index(record_id) for record_id, _ in result.hits]
        assert got == expected[offset : offset + limit], (conditions, sort)
        assert result.total == len(expected), (conditions, sort)
        assert all(score is None for _, score in result.hits)
