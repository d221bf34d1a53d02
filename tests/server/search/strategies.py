"""Hypothesis strategies: small random datasets and random filter trees and sorts over them.

Values come from small pools so that filters hit often. Record ids are not known before seeding, so
id filters carry placeholders (`#k` = the k-th record) that `resolve_ids` fills in afterwards."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from hypothesis import strategies as st

from quire.server.search import (
    And,
    MetadataScope,
    Node,
    Not,
    Or,
    Range,
    RecordScope,
    ResponseScope,
    SortBy,
    SuggestionScope,
    Terms,
    Text,
)
from tests.server.search.data import T0, Rec, Seeded, Spec

WORDS = ["alpha", "beta", "gamma", "hello", "help", "world", "word"]
PREFIXES = ["al", "hel", "wor", "g", "he"]
SCORES = [0.0, 0.25, 0.5, 0.75, 1.5]
LANGS = ["en", "es", "fr"]
LABELS = ["pos", "neg", "neu"]
TOPICS = ["a", "b", "c"]
RANKS = ["r1", "r2", "r3"]
STATUSES = ["submitted", "draft", "discarded"]
AGENTS = [None, "a1", "a2"]

body_words = st.sampled_from([*WORDS, "Hello", "WORLD"])
score = st.sampled_from(SCORES)


@st.composite
def _field_text(draw: st.DrawFn) -> str:
    words = draw(st.lists(body_words, max_size=5))
    return draw(st.sampled_from([" ", ", ", "  "])).join(words)


def _subset(pool: list[str], min_size: int = 1) -> st.SearchStrategy[list[str]]:
    return st.lists(st.sampled_from(pool), min_size=min_size, max_size=len(pool), unique=True)


@st.composite
def _ranking(draw: st.DrawFn) -> list[dict[str, Any]]:
    order = draw(_subset(RANKS))
    return [{"value": v, "rank": k + 1} for k, v in enumerate(order)]


field_text = _field_text()
QUESTION_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "label": st.sampled_from(LABELS),
    "topics": _subset(TOPICS),
    "rating": st.integers(1, 5),
    "rank": _ranking(),
    "spans": st.lists(
        st.sampled_from([{"label": "PER", "start": 0, "end": 1}, {"label": "ORG", "start": 1, "end": 2}]),
        max_size=2,
    ),
    "comment": st.sampled_from(WORDS),
}


@st.composite
def _suggestion(draw: st.DrawFn, question: str) -> dict[str, Any]:
    value = draw(QUESTION_VALUES[question])
    if question == "topics":
        scores: Any = draw(st.none() | st.lists(score, min_size=len(value), max_size=len(value)))
    else:
        scores = draw(st.none() | score)
    return {
        "value": value,
        "score": scores,
        "agent": draw(st.sampled_from(AGENTS)),
        "type": draw(st.sampled_from([None, "model", "human"])),
    }


SUGGESTIONS = {q: _suggestion(q) for q in QUESTION_VALUES}
RESPONSE_QUESTIONS = _subset(["label", "topics", "rating", "rank", "comment"], min_size=0)


@st.composite
def _response(draw: st.DrawFn) -> dict[str, Any]:
    questions = draw(RESPONSE_QUESTIONS)
    return {
        "status": draw(st.sampled_from(STATUSES)),
        "values": {q: draw(QUESTION_VALUES[q]) for q in questions},
    }


RESPONSE = _response()
SUGGESTED = _subset(list(QUESTION_VALUES), min_size=0) | st.just(list(QUESTION_VALUES))
RESPONDERS = st.sampled_from([(), ("u1",), ("u2",), ("u1", "u2")])
LANG = st.none() | st.sampled_from(LANGS) | _subset(LANGS)


@st.composite
def _record(draw: st.DrawFn, i: int, two_fields: bool, number_lists: bool = False) -> Rec:
    inserted = T0 + timedelta(minutes=draw(st.integers(0, 6)))
    metadata: dict[str, Any] = {}
    if lang := draw(LANG):
        metadata["lang"] = lang
    n_values = st.integers(0, 5)
    if number_lists:  # what an integer property holds when it was declared after list values
        n_values = n_values | st.lists(st.integers(0, 5), min_size=1, max_size=3)  # type: ignore[operator]
    if (n := draw(st.none() | n_values)) is not None:
        metadata["n"] = n
    if (s := draw(st.none() | score)) is not None:
        metadata["score"] = s
    fields = {"text": draw(field_text)}
    if two_fields and draw(st.booleans()):
        fields["extra"] = draw(field_text)
    questions = draw(SUGGESTED)
    users = draw(RESPONDERS)
    return Rec(
        external_id=draw(st.none() | st.just(f"x{i}")),
        status=draw(st.sampled_from(["pending", "completed"])),
        fields=fields,
        metadata=metadata,
        suggestions={q: draw(SUGGESTIONS[q]) for q in questions},
        responses={u: draw(RESPONSE) for u in users},
        inserted_at=inserted,
        updated_at=inserted + timedelta(minutes=draw(st.integers(0, 3))),
    )


@st.composite
def specs(
    draw: st.DrawFn,
    min_records: int = 0,
    max_records: int = 10,
    one_field: bool | None = False,
    number_lists: bool = False,
) -> Spec:
    """Datasets with fields `text` and `extra`, or (`one_field`; None: either) only `text`.
    `number_lists`: in some datasets, `n` holds lists of numbers in some records."""
    n = draw(st.integers(min_records, max_records))
    single = draw(st.booleans()) if one_field is None else one_field
    fields = {"text": "text"} if single else {"text": "text", "extra": "text"}
    lists = number_lists and draw(st.booleans())
    return Spec(records=[draw(_record(i, not single, lists)) for i in range(n)], fields=fields)


# ---- filters -----------------------------------------------------------------------------------


@st.composite
def _range(draw: st.DrawFn, scope: Any, pool: st.SearchStrategy[Any]) -> Range:
    low, high = sorted([draw(pool), draw(pool)])
    bounds: dict[str, Any] = {}
    if draw(st.booleans()):
        bounds["ge" if draw(st.booleans()) else "gt"] = low
    if not bounds or draw(st.booleans()):
        bounds["le" if draw(st.booleans()) else "lt"] = high
    return Range(scope, **bounds)


def _terms(scope: Any, pool: list[Any]) -> st.SearchStrategy[Terms]:
    return st.lists(st.sampled_from(pool), min_size=1, max_size=3, unique=True).map(
        lambda values: Terms(scope, tuple(values))
    )


minutes = st.integers(0, 10).map(lambda m: T0 + timedelta(minutes=m))
timestamps = (
    minutes
    | minutes.map(lambda t: t.strftime("%Y-%m-%dT%H:%M:%S"))
    | st.sampled_from(["2023-12-31", "2024-01-01"])
)


@st.composite
def _stamp_range(draw: st.DrawFn, prop: str) -> Range:
    if draw(st.booleans()):
        return draw(_range(RecordScope(prop), minutes))  # type: ignore[arg-type]
    key = draw(st.sampled_from(["ge", "gt", "le", "lt"]))
    return Range(RecordScope(prop), **{key: draw(timestamps)})  # type: ignore[arg-type]


@st.composite
def _text(draw: st.DrawFn) -> Text:
    count = draw(st.sampled_from([1, 2, 2, 3]))
    words = [draw(st.sampled_from([*WORDS, *PREFIXES, "HELLO"])) for _ in range(count)]
    return Text(
        " ".join(words),
        field=draw(st.sampled_from([None, None, "text", "extra"])),
        phrase=draw(st.booleans()),
        prefix=draw(st.booleans()),
    )


numbers = st.integers(-1, 6)
RECORD_LEAVES: list[st.SearchStrategy[Node]] = [
    _terms(RecordScope("status"), ["pending", "completed"]),
    _terms(RecordScope("external_id"), ["x0", "x1", "x2", "x5", "nope"]),
    _terms(RecordScope("id"), ["#0", "#1", "#3", "#99"]),
    _stamp_range("inserted_at"),
    _stamp_range("updated_at"),
]
METADATA_LEAVES: list[st.SearchStrategy[Node]] = [
    _terms(MetadataScope("lang"), [*LANGS, "de"]),
    _terms(MetadataScope("n"), ["0", "1", "3", "5", "7"]),
    _range(MetadataScope("n"), numbers),
    _range(MetadataScope("score"), st.sampled_from([*SCORES, -1.0, 2.0])),
]
SUGGESTION_LEAVES: list[st.SearchStrategy[Node]] = [
    _terms(SuggestionScope("label"), LABELS),
    _terms(SuggestionScope("topics"), TOPICS),
    _terms(SuggestionScope("rating"), ["1", "3", "5"]),
    _range(SuggestionScope("rating"), numbers),
    _terms(SuggestionScope("rank"), RANKS),
    _terms(SuggestionScope("spans"), ["PER", "ORG"]),
    _terms(SuggestionScope("comment"), WORDS[:3]),
    st.sampled_from(["label", "topics", "rating"]).flatmap(
        lambda q: _range(SuggestionScope(q, "score"), st.sampled_from(SCORES))
    ),
    _terms(SuggestionScope("label", "score"), ["0.25", "0.5"]),
    _terms(SuggestionScope("label", "agent"), ["a1", "a2", "zz"]),
    _terms(SuggestionScope("topics", "type"), ["model", "human"]),
]
RESPONSE_LEAVES: list[st.SearchStrategy[Node]] = [
    _terms(ResponseScope("label"), LABELS),
    _terms(ResponseScope("topics"), TOPICS),
    _terms(ResponseScope("rank"), RANKS),
    _terms(ResponseScope("comment"), WORDS[:3]),
    _terms(ResponseScope("rating"), ["2", "4"]),
    _range(ResponseScope("rating"), numbers),
    _terms(ResponseScope(None, "status"), [*STATUSES, "pending"]),
    st.just(Terms(ResponseScope(None, "status"), ("pending",))),
]
TEXT_LEAVES: list[st.SearchStrategy[Node]] = [_text()]


def trees(*families: list[st.SearchStrategy[Node]], max_leaves: int = 6) -> st.SearchStrategy[Node]:
    """Random And/Or/Not trees over leaves of the given families (each family equally likely)."""
    leaves = st.one_of(*(st.one_of(*family) for family in families))
    return st.recursive(
        leaves,
        lambda children: st.one_of(
            st.lists(children, max_size=3).map(lambda c: And(tuple(c))),
            st.lists(children, max_size=3).map(lambda c: Or(tuple(c))),
            children.map(Not),
        ),
        max_leaves=max_leaves,
    )


filters = trees(RECORD_LEAVES, METADATA_LEAVES, SUGGESTION_LEAVES, RESPONSE_LEAVES, TEXT_LEAVES)

RESPONSE_SORTS = [
    *(ResponseScope(q) for q in ("label", "topics", "rating", "rank", "comment")),
    ResponseScope(None, "status"),
]
sort_scopes = st.sampled_from(
    [
        RecordScope("id"),
        RecordScope("external_id"),
        RecordScope("status"),
        RecordScope("inserted_at"),
        RecordScope("updated_at"),
        MetadataScope("lang"),
        MetadataScope("n"),
        MetadataScope("score"),
        *(SuggestionScope(q) for q in ("label", "topics", "rating", "rank", "spans", "comment")),
        SuggestionScope("label", "score"),
        SuggestionScope("topics", "score"),
        SuggestionScope("label", "agent"),
        SuggestionScope("rating", "type"),
        *RESPONSE_SORTS,
    ]
)


def sorts_of(scopes: st.SearchStrategy[Any]) -> st.SearchStrategy[list[SortBy]]:
    return st.lists(st.builds(SortBy, scopes, st.sampled_from(["asc", "desc"])), max_size=2)


sorts = sorts_of(sort_scopes)
users = st.sampled_from([None, "u1", "u2"])


def resolve_ids(node: Node, seeded: Seeded) -> Node:
    """Replace `#k` placeholders in id filters with the k-th record's id (or an unknown id)."""
    if isinstance(node, Terms) and node.scope == RecordScope("id"):
        ids = [
            seeded.record_ids[k] if (k := int(str(v)[1:])) < len(seeded.record_ids) else uuid.uuid4()
            for v in node.values
        ]
        return Terms(node.scope, tuple(str(i) for i in ids))
    if isinstance(node, And | Or):
        return type(node)(tuple(resolve_ids(c, seeded) for c in node.children))
    if isinstance(node, Not):
        return Not(resolve_ids(node.child, seeded))
    return node
