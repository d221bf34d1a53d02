"""The Lucene-style front end: what each construct parses to, what it refuses and how it says so,
and a few queries run end to end."""

from __future__ import annotations

import uuid

import pytest

from quire.server.search import (
    And,
    MetadataScope,
    Node,
    Not,
    Or,
    QueryError,
    Range,
    RecordScope,
    ResponseScope,
    SearchQuery,
    SuggestionScope,
    Terms,
    Text,
    parse_query_string,
)
from quire.server.search.lucene import MAX_CONDITIONS, MAX_VALUES
from tests.server.search.conftest import Store
from tests.server.search.fixtures import sample_spec

UUID = "6a2bca2e-54e4-4a55-bb49-0b6bbc0ab36a"

PARSES: list[tuple[str, Node]] = [
    (
        "metadata.batch_id:3 AND status:pending",
        And((Terms(MetadataScope("batch_id"), ("3",)), Terms(RecordScope("status"), ("pending",)))),
    ),
    ('fields.text:"exact phrase"', Text("exact phrase", field="text", phrase=True)),
    ("hello world", And((Text("hello"), Text("world")))),
    ('"hello world"', Text("hello world", phrase=True)),
    ("fields.text:hel*", Text("hel", field="text", prefix=True)),
    ("hel*", Text("hel", prefix=True)),
    ("metadata.n:[1 TO 5]", Range(MetadataScope("n"), ge=1, le=5)),
    ("metadata.n:{1 TO 5}", Range(MetadataScope("n"), gt=1, lt=5)),
    ("metadata.score:{0.5 TO *]", Range(MetadataScope("score"), gt=0.5)),
    ("metadata.n:[-5 TO -1]", Range(MetadataScope("n"), ge=-5, le=-1)),
    ("metadata.n:>=3", Range(MetadataScope("n"), ge=3)),
    ("metadata.n:<3", Range(MetadataScope("n"), lt=3)),
    ("suggestions.label.score:[0.8 TO *]", Range(SuggestionScope("label", "score"), ge=0.8)),
    ("suggestions.label:pos", Terms(SuggestionScope("label"), ("pos",))),
    ("suggestions.label.value:pos", Terms(SuggestionScope("label"), ("pos",))),
    ("suggestions.label.agent:gpt-4", Terms(SuggestionScope("label", "agent"), ("gpt-4",))),
    ("suggestions.label.type:model", Terms(SuggestionScope("label", "type"), ("model",))),
    ("responses.rating.value:[1 TO 2]", Range(ResponseScope("rating"), ge=1, le=2)),
    ("responses.label:neg", Terms(ResponseScope("label"), ("neg",))),
    ("responses.status:submitted", Terms(ResponseScope(None, "status"), ("submitted",))),
    ("responses.status.value:x", Terms(ResponseScope("status"), ("x",))),  # a question named "status"
    ("status:completed", Terms(RecordScope("status"), ("completed",))),
    (f"id:{UUID}", Terms(RecordScope("id"), (UUID,))),
    ("external_id:abc", Terms(RecordScope("external_id"), ("abc",))),
    ('external_id:"a b"', Terms(RecordScope("external_id"), ("a b",))),
    (r"external_id:a\:b", Terms(RecordScope("external_id"), ("a:b",))),
    ("inserted_at:[2024-01-01 TO *]", Range(RecordScope("inserted_at"), ge="2024-01-01")),
    (
        "updated_at:[2024-01-01T10:00:00 TO 2024-02-01}",
        Range(RecordScope("updated_at"), ge="2024-01-01T10:00:00", lt="2024-02-01"),
    ),
    ("NOT status:pending", Not(Terms(RecordScope("status"), ("pending",)))),
    ("-hello", Not(Text("hello"))),
    ("+hello", Text("hello")),
    # ORed values of one scope are one condition
    ("status:pending OR status:completed", Terms(RecordScope("status"), ("pending", "completed"))),
    (
        "metadata.lang:(en OR es) -(a b)",
        And((Terms(MetadataScope("lang"), ("en", "es")), Not(And((Text("a"), Text("b")))))),
    ),
    (
        "metadata.lang:en OR hello OR metadata.lang:fr OR metadata.lang:en OR status:pending",
        Or(
            (
                Terms(MetadataScope("lang"), ("en", "fr")),
                Text("hello"),
                Terms(RecordScope("status"), ("pending",)),
            )
        ),
    ),
    (
        "a AND b OR c",
        Or((And((Text("a"), Text("b"))), Text("c"))),
    ),
    ("", And(())),
    ("   ", And(())),
    ("*", And(())),
    ("*:*", And(())),
]


@pytest.mark.parametrize(("query", "node"), PARSES, ids=[q or "<empty>" for q, _ in PARSES])
def test_parses(query: str, node: Node) -> None:
    assert parse_query_string(query) == node


ERRORS: list[tuple[str, str]] = [
    ("metadata.batch_id:3 AND AND x", "invalid query at column 25 near 'AND': unexpected 'AND'"),
    (
        "(a OR b",
        "invalid query at column 8: unexpected end of query "
        "(an operator without an operand, or an unclosed parenthesis or bracket?)",
    ),
    ("status:pending)", "invalid query at column 15 near ')': unexpected ')'"),
    ('fields.text:"open', "invalid query at column 13 near '\"open': unclosed quote"),
    ("hello~2", "invalid query at column 1 near 'hello~2': fuzzy search ('~') is not supported"),
    ("a^1.2.3", "invalid query at column 2 near '^1.2.3': boosts ('^') are not supported"),
    (
        '"a b"~1.5',
        "invalid query at column 6 near '~1.5': fuzzy and proximity search ('~') are not supported",
    ),
    (
        'fields.text:"a b"~3',
        "invalid query at column 13 near '\"a b\"~3': proximity search ('~') is not supported",
    ),
    ("status:pending^2", "invalid query at column 8 near 'pending^2': boosts ('^') are not supported"),
    ("fields.text:/h.*o/", "invalid query at column 13 near '/h.*o/': regular expressions are not supported"),
    (
        "metadata.lang:e*",
        "invalid query at column 15 near 'e*': wildcards are only supported in text search (bare terms or fields.<field>)",
    ),
    (
        "h*llo",
        "invalid query at column 1 near 'h*llo': only a trailing '*' (prefix search) is supported in text",
    ),
    (
        "hel?",
        "invalid query at column 1 near 'hel?': only a trailing '*' (prefix search) is supported in text",
    ),
    (
        "fields.text:[a TO b]",
        "invalid query at column 13 near '[a TO b]': ranges apply to metadata, scores, ratings and timestamps, not to text",
    ),
    (
        "metadata.n:[* TO *]",
        "invalid query at column 12 near '[* TO *]': a range needs at least one bound other than '*'",
    ),
    (
        "metadata.n:[5 TO 1]",
        "invalid query at column 12 near '[5 TO 1]': a range's lower bound (5.0) must not exceed its upper bound (1.0)",
    ),
    (
        "x AND suggestions.label.foo:x",
        "invalid query at column 7 near 'suggestions.label.foo:x': unknown suggestion property 'foo'; "
        "allowed: ['value', 'score', 'agent', 'type']",
    ),
    (
        "metadata.lang:(en OR status:x)",
        "invalid query at column 22 near 'status:x': a field inside another field's group",
    ),
]


@pytest.mark.parametrize(("query", "message"), ERRORS, ids=[q for q, _ in ERRORS])
def test_refuses(query: str, message: str) -> None:
    with pytest.raises(QueryError) as info:
        parse_query_string(query)
    assert info.value.message == message


def test_unknown_field_lists_the_field_syntax() -> None:
    with pytest.raises(QueryError) as info:
        parse_query_string("foo:bar")
    assert info.value.message.startswith(
        "invalid query at column 1 near 'foo:bar': unknown field 'foo'; use fields.<field>"
    )


def test_deep_nesting_is_refused_not_a_crash() -> None:
    with pytest.raises(QueryError, match="nested more than 64 levels"):
        parse_query_string("(" * 100 + "a" + ")" * 100)


def test_long_chains_are_refused_beyond_the_limits_and_one_fields_values_count_once() -> None:
    ids = [str(uuid.UUID(int=n)) for n in range(MAX_VALUES)]
    node = parse_query_string(" OR ".join(f"id:{i}" for i in ids))
    assert node == Terms(RecordScope("id"), tuple(ids))
    with pytest.raises(QueryError, match=f"it lists {MAX_VALUES + 1} values; at most {MAX_VALUES}"):
        parse_query_string(" OR ".join(f"id:{i}" for i in [*ids, str(uuid.uuid4())]))
    for operator, kind in (("AND", And), ("OR", Or)):
        words = [f"w{n}" for n in range(MAX_CONDITIONS)]
        chain = parse_query_string(f" {operator} ".join(words))
        assert isinstance(chain, kind) and len(chain.children) == MAX_CONDITIONS
        with pytest.raises(
            QueryError, match=f"it has {MAX_CONDITIONS + 1} conditions; at most {MAX_CONDITIONS}"
        ):
            parse_query_string(f" {operator} ".join([*words, "more"]))


END_TO_END: list[tuple[str, list[int]]] = [
    ("metadata.lang:en AND status:completed", [0, 2]),
    ("metadata.n:[2 TO *] -metadata.lang:fr", [1]),
    ("hello world", [0, 4]),
    ('fields.text:"hello world"', [0]),
    ("fields.text:wor*", [0, 3, 4]),
    ("suggestions.label:pos OR suggestions.rank:r3", [0, 4]),
    ("suggestions.topics.score:[0.5 TO *]", [0]),
    ("responses.rating.value:[1 TO 2]", [0, 2]),
    ("responses.status:pending", [3, 4]),
    ("external_id:(a OR d)", [0, 3]),
    ("inserted_at:{2024-01-01T00:02:00 TO *]", [3, 4]),
]


async def test_end_to_end(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    failures = []
    for query, expected in END_TO_END:
        result = await store.search(seeded, SearchQuery(filter=parse_query_string(query)))
        got = sorted(seeded.index(i) for i, _ in result.hits)
        if got != expected:
            failures.append(f"{query}: got {got}, expected {expected}")
    assert not failures, "\n".join(failures)


async def test_names_are_checked_against_the_dataset_at_compile_time(store: Store) -> None:
    seeded = await store.seed(sample_spec())
    node = parse_query_string("metadata.lang2:en")  # parses: no dataset needed
    with pytest.raises(QueryError) as info:
        await store.search(seeded, SearchQuery(filter=node))
    assert info.value.message == "unknown metadata property 'lang2'; this dataset has: ['lang', 'n', 'score']"
