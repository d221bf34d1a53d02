"""Every scope and condition on a small hand-made dataset (see `fixtures.sample_spec`), on SQLite
and PostgreSQL. Each expectation is also checked against the reference evaluator, which keeps the
oracle of the property tests honest."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from quire.server.search import (
    And,
    MetadataScope,
    Node,
    Not,
    Or,
    Range,
    RecordScope,
    ResponseScope,
    SearchQuery,
    SuggestionScope,
    Terms,
    Text,
)
from tests.server.search.conftest import Store
from tests.server.search.data import Seeded
from tests.server.search.fixtures import sample_spec
from tests.server.search.reference import Reference

Case = tuple[Node, list[int]]


async def check(store: Store, seeded: Seeded, cases: list[Case], *, user: str | None = None) -> None:
    failures = []
    for node, expected in cases:
        result = await store.search(seeded, SearchQuery(filter=node), user=user)
        got = sorted(seeded.index(record_id) for record_id, _ in result.hits)
        oracle = Reference(seeded, user).search(node, [])
        if got != expected or result.total != len(expected) or oracle != expected:
            failures.append(
                f"{node}: got {got} (total {result.total}), expected {expected}, reference {oracle}"
            )
    assert not failures, "\n".join(failures)


async def test_record_scopes(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    second = str(seeded.record_ids[1])
    await check(
        store,
        seeded,
        [
            (Terms(RecordScope("status"), ("completed",)), [0, 2]),
            (Terms(RecordScope("status"), ("pending",)), [1, 3, 4]),
            (Terms(RecordScope("external_id"), ("a", "b", "zz")), [0, 1]),
            # a record without an external id is "not a"
            (Not(Terms(RecordScope("external_id"), ("a",))), [1, 2, 3, 4]),
            (Terms(RecordScope("id"), (second,)), [1]),
            (Terms(RecordScope("id"), (second.upper(),)), [1]),
            (Range(RecordScope("inserted_at"), ge="2024-01-01T00:02:00"), [2, 3, 4]),
            (Range(RecordScope("inserted_at"), lt="2024-01-01T00:02:00Z"), [0, 1]),
            (Range(RecordScope("inserted_at"), gt="2024-01-01T01:02:00+01:00"), [3, 4]),
            (Range(RecordScope("inserted_at"), ge=datetime(2024, 1, 1, 0, 3, tzinfo=UTC)), [3, 4]),
            # a date without a time covers the whole day
            (Range(RecordScope("inserted_at"), le="2024-01-01"), [0, 1, 2, 3, 4]),
            (Range(RecordScope("inserted_at"), gt="2024-01-01"), []),
            (Range(RecordScope("updated_at"), ge="2024-01-01", lt="2024-01-01T00:01:00"), [0]),
        ],
    )


async def test_metadata(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    await check(
        store,
        seeded,
        [
            (Terms(MetadataScope("lang"), ("en",)), [0, 2]),  # record 2 has ["en", "fr"]
            (Terms(MetadataScope("lang"), ("en", "fr")), [0, 2, 4]),
            (Terms(MetadataScope("lang"), ("xx",)), []),
            (Not(Terms(MetadataScope("lang"), ("en",))), [1, 3, 4]),
            (Terms(MetadataScope("n"), ("3",)), [1]),
            (Terms(MetadataScope("n"), (10, "1.0")), [0, 4]),
            (Range(MetadataScope("n"), ge=3, le=5), [1, 2]),
            (Range(MetadataScope("n"), gt="3"), [2, 4]),
            (Range(MetadataScope("score"), gt=0.5), [1, 4]),
            (Range(MetadataScope("score"), le=0.5), [0]),
        ],
    )


async def test_suggestions(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    await check(
        store,
        seeded,
        [
            (Terms(SuggestionScope("label"), ("pos",)), [0]),  # label_selection: a string
            (Terms(SuggestionScope("label"), ("pos", "neg")), [0, 1]),
            (Terms(SuggestionScope("topics"), ("b",)), [0]),  # multi_label_selection: any member
            (Terms(SuggestionScope("topics"), ("c",)), [2]),
            (Terms(SuggestionScope("rating"), ("5",)), [0]),  # rating: a number
            (Range(SuggestionScope("rating"), ge=3), [0, 1]),
            (Terms(SuggestionScope("rank"), ("r2",)), [0]),  # ranking: [{"value", "rank"}]
            (Terms(SuggestionScope("rank"), ("r3",)), [4]),
            (Terms(SuggestionScope("spans"), ("ORG",)), [4]),  # span: [{"label", "start", "end"}]
            (Terms(SuggestionScope("spans"), ("PER",)), [0]),
            (Terms(SuggestionScope("comment"), ("nice",)), [0]),  # text
            (Range(SuggestionScope("label", "score"), ge=0.5), [0]),
            (Range(SuggestionScope("topics", "score"), ge=0.5), [0]),  # any score of the list
            (Range(SuggestionScope("topics", "score"), le=0.25), [0]),
            (Range(SuggestionScope("topics", "score"), ge=0.25, le=0.5), [2]),
            (Terms(SuggestionScope("label", "score"), ("0.9",)), [0]),
            (Terms(SuggestionScope("label", "agent"), ("gpt-4",)), [0]),
            (Terms(SuggestionScope("label", "type"), ("human",)), [1]),
            (Not(Terms(SuggestionScope("label", "type"), ("model",))), [1, 2, 3, 4]),
        ],
    )


async def test_responses(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    status = ResponseScope(None, "status")
    await check(
        store,
        seeded,
        [
            (Terms(ResponseScope("label"), ("neg",)), [0, 2]),
            (Terms(ResponseScope("label"), ("pos",)), [1]),
            (Terms(ResponseScope("topics"), ("c",)), [0]),
            (Range(ResponseScope("rating"), le=2), [0, 2]),
            (Range(ResponseScope("rating"), ge=4), [1]),
            (Terms(status, ("submitted",)), [0, 2]),
            (Terms(status, ("draft",)), [1]),
            (Terms(status, ("discarded",)), [2]),
            (Terms(status, ("pending",)), [3, 4]),  # pending: no response at all
            (Terms(status, ("submitted", "pending")), [0, 2, 3, 4]),
        ],
    )


async def test_responses_of_one_user(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    status = ResponseScope(None, "status")
    await check(
        store,
        seeded,
        [
            (Terms(status, ("pending",)), [1, 3, 4]),  # no response by u1
            (Terms(status, ("submitted",)), [0]),
            (Terms(status, ("discarded",)), [2]),
            (Terms(ResponseScope("label"), ("neg",)), [0]),
        ],
        user="u1",
    )
    await check(
        store,
        seeded,
        [
            (Terms(status, ("pending",)), [0, 3, 4]),
            (Terms(ResponseScope("label"), ("neg",)), [2]),
            (Range(ResponseScope("rating"), ge=4), [1]),
        ],
        user="u2",
    )


async def test_full_text(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    await check(
        store,
        seeded,
        [
            (Text("hello"), [0, 1, 4]),
            (Text("HELLO!!"), [0, 1, 4]),
            (Text("hello world"), [0, 4]),  # words may match in different fields
            (Text("hello world", phrase=True), [0]),
            (Text("world hello", phrase=True), []),
            (Text("hello wor", phrase=True, prefix=True), [0]),
            (Text("hello", field="extra"), [4]),
            (Text("hello", field="text"), [0, 1]),
            (Text("hello world", field="text"), [0]),  # all words in that one field
            (Text("hel", prefix=True), [0, 1, 4]),
            (Text("wor", field="text", prefix=True), [0, 3, 4]),
            (Text("world", field="extra"), []),
            (Text("!!! ..."), [0, 1, 2, 3, 4]),  # no words: no restriction
            (Not(Text("hello")), [2, 3]),
        ],
    )


async def test_full_text_as_the_query_text(store: Store) -> None:
    """The query's own text is filtered and scored by one joined full-text query when it can be."""
    for spec_fields in ({"text": "text", "extra": "text"}, {"text": "text"}):
        spec = sample_spec()
        spec.fields = spec_fields
        for rec in spec.records:
            rec.fields = {k: v for k, v in rec.fields.items() if k in spec_fields}
        seeded = await store.seed(spec)
        single = len(spec_fields) == 1
        cases = [
            (Text("hello"), [0, 1] if single else [0, 1, 4]),
            (Text("hello world"), [0] if single else [0, 4]),
            (Text("hello world", phrase=True), [0]),
            (Text("hello world", field="text"), [0]),
            (Text("hel there", prefix=False), []),
            (Text("there hel", prefix=True), [1]),
            (Text("!!!"), [0, 1, 2, 3, 4]),
        ]
        for node, expected in cases:
            result = await store.search(seeded, SearchQuery(text=node))
            got = sorted(seeded.index(i) for i, _ in result.hits)
            assert (got, result.total) == (expected, len(expected)), (spec_fields, node)
            assert Reference(seeded).search(node, []) == expected
            scores = [score for _, score in result.hits]
            if node.query != "!!!":
                assert all(s is not None and s > 0 for s in scores), (node, scores)
                assert scores == sorted(scores, reverse=True)  # type: ignore[type-var]


async def test_boolean_combinations(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    lang_en = Terms(MetadataScope("lang"), ("en",))
    await check(
        store,
        seeded,
        [
            (And((lang_en, Terms(RecordScope("status"), ("completed",)))), [0, 2]),
            (Or((Terms(MetadataScope("lang"), ("es",)), Terms(MetadataScope("n"), ("10",)))), [1, 4]),
            (Not(Or((lang_en, Text("peace")))), [1, 4]),
            (And((Text("hello"), Not(Terms(SuggestionScope("label"), ("pos",))))), [1, 4]),
            (And(()), [0, 1, 2, 3, 4]),
            (Or(()), []),
            (Not(And(())), []),
        ],
    )


@pytest.mark.parametrize("limit", [0, 2])
async def test_total_counts_all_matches(store: Store, limit: int) -> None:
    seeded = await store.seed(sample_spec())
    result = await store.search(
        seeded, SearchQuery(filter=Terms(RecordScope("status"), ("pending",))), limit=limit
    )
    assert result.total == 3
    assert len(result.hits) == limit
    assert all(score is None for _, score in result.hits)
