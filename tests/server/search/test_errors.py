"""Compile-time validation: unknown names and values of the wrong kind raise `QueryError` (422)
with a message that says what is wrong and what is allowed. No database needed."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite

from quire.server.errors import Invalid
from quire.server.models import Record
from quire.server.search import (
    CompileContext,
    MetadataScope,
    Node,
    QueryError,
    Range,
    RecordScope,
    ResponseScope,
    SortBy,
    SuggestionScope,
    Terms,
    Text,
)
from quire.server.search.context import QuestionInfo
from quire.server.search.sorting import sort_key


def context(dialect: str = "sqlite") -> CompileContext:
    return CompileContext(
        dataset_id=uuid.uuid4(),
        dialect=dialect,  # type: ignore[arg-type]
        questions={
            "label": QuestionInfo(uuid.uuid4(), "label", "label_selection"),
            "rating": QuestionInfo(uuid.uuid4(), "rating", "rating"),
        },
        metadata={"lang": "terms", "n": "integer"},
        fields={"text": "text"},
    )


ERRORS: list[tuple[Node, str]] = [
    (
        Terms(MetadataScope("lang2"), ("x",)),
        "unknown metadata property 'lang2'; this dataset has: ['lang', 'n']",
    ),
    (Range(MetadataScope("nn"), ge=1), "unknown metadata property 'nn'; this dataset has: ['lang', 'n']"),
    (
        Terms(SuggestionScope("labels"), ("x",)),
        "unknown question 'labels'; this dataset has: ['label', 'rating']",
    ),
    (Terms(ResponseScope("x"), ("x",)), "unknown question 'x'; this dataset has: ['label', 'rating']"),
    (Text("hello", field="body"), "unknown field 'body'; this dataset has: ['text']"),
    (Terms(MetadataScope("n"), ("abc",)), "integer metadata property 'n' takes numbers; got 'abc'"),
    (Range(MetadataScope("lang"), ge="a"), "metadata property 'lang' takes numbers; got 'a'"),
    (
        Terms(RecordScope("status"), ("done",)),
        "unknown record status 'done'; allowed: ['pending', 'completed']",
    ),
    (Terms(RecordScope("id"), ("nope",)), "record id must be a UUID; got 'nope'"),
    (Terms(RecordScope("inserted_at"), ("2024-01-01",)), "inserted_at takes a range filter, not terms"),
    (
        Range(RecordScope("status"), ge=1),
        "range filters on records apply to inserted_at and updated_at, not status",
    ),
    (
        Range(RecordScope("inserted_at"), ge="yesterday"),
        "inserted_at bounds must be ISO 8601 dates or date-times; got 'yesterday'",
    ),
    (
        Range(SuggestionScope("label"), ge=1),
        "range filters on suggestion values need a rating question; 'label' is label_selection",
    ),
    (
        Terms(SuggestionScope("rating"), ("five",)),
        "suggestion value of rating question 'rating' takes numbers; got 'five'",
    ),
    (
        Terms(SuggestionScope("label", "type"), ("robot",)),
        "unknown suggestion type 'robot'; allowed: ['model', 'human']",
    ),
    (Range(SuggestionScope("label", "agent"), ge=1), "suggestion agent takes terms, not a range"),
    (
        Terms(ResponseScope(None, "status"), ("done",)),
        "unknown response status 'done'; allowed: ['draft', 'submitted', 'discarded', 'pending']",
    ),
    (Range(ResponseScope(None, "status"), ge=1), "response status takes terms, not a range"),
    (Terms(ResponseScope(None, "value"), ("x",)), "response values need a question"),
    (
        Terms(ResponseScope("label", "status"), ("x",)),
        "response status belongs to the whole response; leave the question out",
    ),
    (
        Range(ResponseScope("label"), le=3),
        "range filters on response values need a rating question; 'label' is label_selection",
    ),
    (
        Range(MetadataScope("n"), ge="5", le="1"),
        "metadata property 'n': lower bound 5.0 exceeds upper bound 1.0",
    ),
]


@pytest.mark.parametrize(("node", "message"), ERRORS, ids=[m for _, m in ERRORS])
def test_compile_errors(node: Node, message: str) -> None:
    with pytest.raises(QueryError) as info:
        node.compile(context())
    assert info.value.message == message
    assert isinstance(info.value, Invalid)
    assert info.value.body() == {"detail": message}


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda: Range(MetadataScope("n")),
            "a range filter needs at least one bound ('ge', 'gt', 'le' or 'lt')",
        ),
        (
            lambda: Range(MetadataScope("n"), ge=1, gt=2),
            "a range takes one lower bound: 'ge' or 'gt', not both",
        ),
        (
            lambda: Range(MetadataScope("n"), ge=3, le=1),
            "a range's lower bound (3) must not exceed its upper bound (1)",
        ),
        (lambda: Terms(MetadataScope("n"), ()), "a terms filter needs at least one value"),
        (
            lambda: RecordScope("seq"),
            "unknown record property 'seq'; allowed: ['id', 'external_id', 'status', 'inserted_at', 'updated_at']",
        ),  # type: ignore[arg-type]
        (
            lambda: SuggestionScope("label", "rank"),
            "unknown suggestion property 'rank'; allowed: ['value', 'score', 'agent', 'type']",
        ),  # type: ignore[arg-type]
        (lambda: SortBy(MetadataScope("n"), "up"), "unknown sort order 'up'; allowed: ['asc', 'desc']"),  # type: ignore[arg-type]
        (lambda: Text("word " * 65), "text query has 65 words; at most 64 are allowed"),
        (
            lambda: Terms(RecordScope("external_id"), ("a\x00b",)),
            "filter values must not contain NUL characters; got 'a\\x00b'",
        ),
        (
            lambda: Terms(MetadataScope("lang"), ("\ud800",)),
            "filter values must be valid Unicode; got '\\ud800'",
        ),
    ],
)
def test_construction_errors(build: object, message: str) -> None:
    with pytest.raises(QueryError) as info:
        node = build()  # type: ignore[operator]
        node.compile(context())
    assert info.value.message == message


def test_sort_keys_are_checked() -> None:
    with pytest.raises(QueryError, match="unknown metadata property 'x'"):
        sort_key(context(), SortBy(MetadataScope("x")))
    with pytest.raises(QueryError, match="unknown question 'x'"):
        sort_key(context(), SortBy(SuggestionScope("x", "score")))


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_filters_compile_to_subqueries_not_python(dialect: str) -> None:
    node = Terms(MetadataScope("lang"), ("en", "3"))
    statement = select(Record.id).where(node.compile(context(dialect)))
    sql = str(statement.compile(dialect=sqlite.dialect() if dialect == "sqlite" else postgresql.dialect()))
    assert "records.id IN (SELECT record_metadata.record_id" in sql
    assert "record_metadata.value_text IN" in sql and "record_metadata.value_num IN" in sql
