"""Argilla's JSON search body: parsing, validation, and the body the argilla 2.8 SDK really sends."""

from __future__ import annotations

from typing import Any

import pytest

from quire.server.search import (
    And,
    MetadataScope,
    Or,
    QueryError,
    Range,
    RecordScope,
    ResponseScope,
    SearchQuery,
    SortBy,
    SuggestionScope,
    Terms,
    Text,
    VectorQuery,
    parse_search_body,
)
from tests.server.search.conftest import Store
from tests.server.search.fixtures import sample_spec

# argilla-notes §2.3.2: rg.Query(query="hello", filter=rg.Filter([...])) as captured from the SDK
SDK_BODY: dict[str, Any] = {
    "query": {"text": {"q": "hello", "field": None}, "vector": None},
    "filters": {
        "type": "and",
        "and": [
            {"type": "terms", "values": ["completed"], "scope": {"entity": "record", "property": "status"}},
            {
                "type": "terms",
                "values": ["pos"],
                "scope": {"entity": "suggestion", "question": "label", "property": "value"},
            },
            {
                "type": "range",
                "ge": 0.5,
                "le": None,
                "scope": {"entity": "suggestion", "question": "label", "property": "score"},
            },
            {"type": "range", "ge": None, "le": 5, "scope": {"entity": "metadata", "metadata_property": "n"}},
            {
                "type": "terms",
                "values": ["submitted"],
                "scope": {"entity": "response", "question": None, "property": "status"},
            },
            {
                "type": "terms",
                "values": ["neg"],
                "scope": {"entity": "response", "question": "label", "property": None},
            },
        ],
    },
}


def test_sdk_body_translates() -> None:
    assert parse_search_body(SDK_BODY) == SearchQuery(
        filter=And(
            (
                Terms(RecordScope("status"), ("completed",)),
                Terms(SuggestionScope("label"), ("pos",)),
                Range(SuggestionScope("label", "score"), ge=0.5),
                Range(MetadataScope("n"), le=5),
                Terms(ResponseScope(None, "status"), ("submitted",)),
                Terms(ResponseScope("label"), ("neg",)),
            )
        ),
        text=Text("hello"),
    )


async def test_sdk_body_round_trip(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    result = await store.search(seeded, parse_search_body(SDK_BODY))
    # record 0: completed, label suggestion pos (0.9), n=1, u1 submitted label=neg, "hello world"
    assert [seeded.index(i) for i, _ in result.hits] == [0]
    assert result.total == 1
    assert result.hits[0][1] is not None and result.hits[0][1] > 0


def test_similar_body() -> None:
    body = {
        "query": {
            "text": None,
            "vector": {"name": "emb", "record_id": None, "value": [1, 2], "order": "most_similar"},
        },
        "filters": None,
    }
    assert parse_search_body(body) == SearchQuery(vector=VectorQuery("emb", value=[1.0, 2.0]))


def test_terms_values_are_coerced_to_strings_and_unknown_keys_ignored() -> None:
    body = {
        "filters": {
            "and": [
                {
                    "type": "terms",
                    "values": [3, 4.5],
                    "scope": {"entity": "metadata", "metadata_property": "n", "x": 1},
                }
            ]
        },
        "sort": [{"scope": {"entity": "record", "property": "inserted_at"}, "order": "desc"}],
        "whatever": True,
    }
    assert parse_search_body(body) == SearchQuery(
        filter=Terms(MetadataScope("n"), ("3", "4.5")), sort=[SortBy(RecordScope("inserted_at"), "desc")]
    )


def test_query_string_extension_is_anded() -> None:
    body = {
        "query": {"query_string": "metadata.lang:en OR hello", "text": {"q": "world"}},
        "filters": {
            "and": [
                {"type": "terms", "values": ["pending"], "scope": {"entity": "record", "property": "status"}}
            ]
        },
    }
    query = parse_search_body(body)
    assert query.text == Text("world")
    assert query.filter == And(
        (
            Terms(RecordScope("status"), ("pending",)),
            Or((Terms(MetadataScope("lang"), ("en",)), Text("hello"))),
        )
    )


async def test_query_string_extension_end_to_end(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    body = {"query": {"query_string": "metadata.lang:en OR metadata.n:10", "text": {"q": "hello"}}}
    result = await store.search(seeded, parse_search_body(body))
    assert sorted(seeded.index(i) for i, _ in result.hits) == [0, 4]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {
                "filters": {
                    "and": [{"type": "range", "scope": {"entity": "metadata", "metadata_property": "n"}}]
                }
            },
            "invalid search body: filters.and[0].range: Value error, at least one of 'ge' or 'le' must be provided",
        ),
        (
            {
                "filters": {
                    "and": [
                        {
                            "type": "range",
                            "ge": 5,
                            "le": "1",
                            "scope": {"entity": "metadata", "metadata_property": "n"},
                        }
                    ]
                }
            },
            "invalid search body: filters.and[0].range: Value error, 'ge' must be less than or equal to 'le'",
        ),
        (
            {
                "filters": {
                    "and": [
                        {"type": "terms", "values": [], "scope": {"entity": "record", "property": "status"}}
                    ]
                }
            },
            "invalid search body: filters.and[0].terms.values: List should have at least 1 item after validation, not 0",
        ),
        (
            {"filters": {"and": [{"type": "terms", "values": ["x"], "scope": {"entity": "response"}}]}},
            "invalid search body: filters.and[0].terms.scope.response: Value error, "
            "a response scope needs a question or property 'status'",
        ),
        (
            {
                "query": {
                    "vector": {
                        "name": "emb",
                        "value": [1.0],
                        "record_id": "6a2bca2e-54e4-4a55-bb49-0b6bbc0ab36a",
                    }
                }
            },
            "invalid search body: query.vector: Value error, either 'record_id' or 'value' must be provided",
        ),
        ({"sort": []}, "invalid search body: sort: List should have at least 1 item after validation, not 0"),
        (
            {"query": {"query_string": "a AND"}},
            "invalid query at column 6: unexpected end of query "
            "(an operator without an operand, or an unclosed parenthesis or bracket?)",
        ),
    ],
)
def test_invalid_bodies(body: dict[str, Any], message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_search_body(body)
    assert info.value.message == message


def test_range_bounds_compare_as_numbers_not_strings() -> None:
    body = {
        "filters": {
            "and": [
                {
                    "type": "range",
                    "ge": "5",
                    "le": "10",
                    "scope": {"entity": "metadata", "metadata_property": "n"},
                }
            ]
        }
    }
    assert parse_search_body(body).filter == Range(MetadataScope("n"), ge="5", le="10")


def test_empty_body_is_everything() -> None:
    assert parse_search_body({}) == SearchQuery()
    assert parse_search_body(None) == SearchQuery()
