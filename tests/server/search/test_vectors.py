"""Exact cosine similarity, checked against numpy."""

from __future__ import annotations

import numpy as np
import pytest

from quire.server.search import (
    MetadataScope,
    QueryError,
    SearchQuery,
    SortBy,
    Terms,
    Text,
    VectorQuery,
)
from tests.server.search.conftest import Store
from tests.server.search.data import Rec, Spec
from tests.server.search.fixtures import sample_spec


def cosine(matrix: np.ndarray, query: np.ndarray) -> np.ndarray:
    return (matrix @ query) / (np.linalg.norm(matrix, axis=1) * np.linalg.norm(query))


async def test_order_and_scores_match_numpy(store: Store) -> None:
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(300, 16))
    vectors[10] = vectors[20]  # a tie: the earlier record comes first
    spec = Spec(
        vectors={"emb": 16},
        records=[
            Rec(metadata={"n": i % 3}, vectors={"emb": list(map(float, v))} if i != 5 else {})
            for i, v in enumerate(vectors)
        ],
    )
    seeded = await store.seed(spec)
    query = rng.normal(size=16)
    sims = cosine(vectors, query)
    with_vector = np.array([i for i in range(300) if i != 5])
    for order, sign in (("most_similar", -1), ("least_similar", 1)):
        expected = with_vector[np.lexsort((with_vector, sign * sims[with_vector]))][:50]
        result = await store.search(
            seeded,
            SearchQuery(vector=VectorQuery("emb", value=list(map(float, query)), order=order)),
            limit=50,
        )
        assert [seeded.index(i) for i, _ in result.hits] == list(expected)
        assert np.allclose([s for _, s in result.hits], sims[expected], rtol=0, atol=1e-12)
        assert result.total == 50

    # the filter restricts the candidates; paging slices the top offset+limit
    in_group = np.array([i for i in with_vector if i % 3 == 1])
    expected = in_group[np.lexsort((in_group, -sims[in_group]))]
    result = await store.search(
        seeded,
        SearchQuery(
            filter=Terms(MetadataScope("n"), ("1",)), vector=VectorQuery("emb", value=list(map(float, query)))
        ),
        offset=5,
        limit=10,
    )
    assert [seeded.index(i) for i, _ in result.hits] == list(expected[5:15])
    assert result.total == 15


async def test_similar_to_a_record_leaves_it_out(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    query = SearchQuery(vector=VectorQuery("emb", record_id=seeded.record_ids[0]))
    result = await store.search(seeded, query)
    assert [seeded.index(i) for i, _ in result.hits] == [1, 2, 4]
    assert [round(s or 0, 6) for _, s in result.hits] == [round(0.9 / np.sqrt(0.82), 6), 0.0, -1.0]
    least = await store.search(
        seeded, SearchQuery(vector=VectorQuery("emb", record_id=seeded.record_ids[0], order="least_similar"))
    )
    assert [seeded.index(i) for i, _ in least.hits] == [4, 2, 1]


async def test_vector_with_text_and_filter(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    query = SearchQuery(
        text=Text("hello"),
        filter=Terms(MetadataScope("lang"), ("en", "fr")),
        vector=VectorQuery("emb", value=[-1.0, 0.0, 0.0]),
        sort=[SortBy(MetadataScope("n"))],  # ignored by similarity search, like Argilla
    )
    result = await store.search(seeded, query)
    assert [seeded.index(i) for i, _ in result.hits] == [4, 0]


async def test_results_are_capped_at_offset_plus_limit(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    query = SearchQuery(vector=VectorQuery("emb", value=[1.0, 0.0, 0.0]))
    # (offset, limit) -> (hits, total); total counts the offset + limit best, as Argilla does
    cases = {(0, 2): ([0, 1], 2), (3, 2): ([4], 4), (4, 5): ([], 4), (1000, 5): ([], 0)}
    for (offset, limit), (expected, total) in cases.items():
        result = await store.search(seeded, query, offset=offset, limit=limit)
        assert ([seeded.index(i) for i, _ in result.hits], result.total) == (expected, total), (offset, limit)


async def test_bad_vector_queries(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    cases = [
        (VectorQuery("emb", value=[1.0, 2.0]), "vector 'emb' has 3 dimensions; the query vector has 2"),
        (VectorQuery("nope", value=[1.0]), "unknown vector 'nope'; this dataset has: ['emb']"),
        (
            VectorQuery("emb", value=[0.0, 0.0, 0.0]),
            "the query vector has zero length; cosine similarity is undefined",
        ),
    ]
    for vector, message in cases:
        with pytest.raises(QueryError) as info:
            await store.search(seeded, SearchQuery(vector=vector))
        assert info.value.message == message
        assert info.value.status_code == 422


async def test_record_without_vector(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    missing = seeded.record_ids[3]
    with pytest.raises(QueryError, match=f"record {missing} has no vector 'emb'"):
        await store.search(seeded, SearchQuery(vector=VectorQuery("emb", record_id=missing)))
    other = await store.seed(sample_spec())
    with pytest.raises(QueryError, match=f"record {other.record_ids[0]} not found in this dataset"):
        await store.search(seeded, SearchQuery(vector=VectorQuery("emb", record_id=other.record_ids[0])))


def test_a_vector_query_needs_one_source() -> None:
    with pytest.raises(QueryError, match="exactly one of 'value' or 'record_id'"):
        VectorQuery("emb")
