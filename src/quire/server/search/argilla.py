"""Argilla 2.8's `POST /datasets/{id}/records/search` body, and its translation into a `SearchQuery`.

    {"query": {"text": {"q", "field"}, "vector": {"name", "record_id" | "value", "order"},
               "query_string": "<lucene-style>"},          # query_string: a quire extension
     "filters": {"and": [{"type": "terms", "scope", "values"} | {"type": "range", "scope", "ge", "le"}]},
     "sort": [{"scope", "order": "asc" | "desc"}]}

Unknown keys are ignored (the SDK sends `"type": "and"` beside `"and"`); terms values may be numbers
and become strings, as in Argilla. Everything present is ANDed. Use `SearchRecordsBody` as a FastAPI
body (schema errors then get the usual 422), or `parse_search_body` on a plain dict.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from quire.server.search.engine import SearchQuery
from quire.server.search.errors import QueryError
from quire.server.search.filters import And, Node, Range, Terms, Text
from quire.server.search.lucene import parse_query_string
from quire.server.search.scopes import MetadataScope, RecordScope, ResponseScope, Scope, SuggestionScope
from quire.server.search.sorting import SortBy
from quire.server.search.values import as_number
from quire.server.search.vectors import VectorQuery

TERMS_MAX_VALUES = 250
FILTERS_MAX = 50
SORT_MAX = 10


class RecordScopeBody(BaseModel):
    entity: Literal["record"]
    property: Literal["id", "external_id", "inserted_at", "updated_at", "status"]

    def to_scope(self) -> Scope:
        return RecordScope(self.property)


class ResponseScopeBody(BaseModel):
    """A question's response values, or (no question, property `status`) the response status."""

    entity: Literal["response"]
    question: str | None = None
    property: Literal["status"] | None = None

    @model_validator(mode="after")
    def _question_or_status(self) -> ResponseScopeBody:
        if self.question is None and self.property is None:
            raise ValueError("a response scope needs a question or property 'status'")
        return self

    def to_scope(self) -> Scope:
        if self.question is not None:
            return ResponseScope(self.question, "value")
        return ResponseScope(None, "status")


class SuggestionScopeBody(BaseModel):
    entity: Literal["suggestion"]
    question: str
    property: Literal["value", "score", "agent", "type"] | None = "value"

    def to_scope(self) -> Scope:
        return SuggestionScope(self.question, self.property or "value")


class MetadataScopeBody(BaseModel):
    entity: Literal["metadata"]
    metadata_property: str

    def to_scope(self) -> Scope:
        return MetadataScope(self.metadata_property)


ScopeBody = Annotated[
    RecordScopeBody | ResponseScopeBody | SuggestionScopeBody | MetadataScopeBody,
    Field(discriminator="entity"),
]


class TermsFilterBody(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    type: Literal["terms"]
    scope: ScopeBody
    values: list[str] = Field(min_length=1, max_length=TERMS_MAX_VALUES)

    def to_node(self) -> Node:
        return Terms(self.scope.to_scope(), tuple(self.values))


def _comparable(value: float | str) -> float | datetime | None:
    number = as_number(value)
    if number is not None:
        return number
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


class RangeFilterBody(BaseModel):
    type: Literal["range"]
    scope: ScopeBody
    ge: float | str | None = None
    le: float | str | None = None

    @model_validator(mode="after")
    def _bounds(self) -> RangeFilterBody:
        if self.ge is None and self.le is None:
            raise ValueError("at least one of 'ge' or 'le' must be provided")
        if self.ge is not None and self.le is not None:
            low, high = _comparable(self.ge), _comparable(self.le)
            if type(low) is type(high) and low is not None and low > high:  # type: ignore[operator]
                raise ValueError("'ge' must be less than or equal to 'le'")
        return self

    def to_node(self) -> Node:
        return Range(self.scope.to_scope(), ge=self.ge, le=self.le)


FilterBody = Annotated[TermsFilterBody | RangeFilterBody, Field(discriminator="type")]


class FiltersBody(BaseModel):
    and_: list[FilterBody] | None = Field(default=None, alias="and", min_length=1, max_length=FILTERS_MAX)


class TextQueryBody(BaseModel):
    model_config = ConfigDict(coerce_numbers_to_str=True)

    q: str
    field: str | None = None


class VectorQueryBody(BaseModel):
    name: str
    record_id: uuid.UUID | None = None
    value: list[float] | None = None
    order: Literal["most_similar", "least_similar"] = "most_similar"

    @model_validator(mode="after")
    def _one_source(self) -> VectorQueryBody:
        if bool(self.record_id) == bool(self.value):
            raise ValueError("either 'record_id' or 'value' must be provided")
        return self


class QueryBody(BaseModel):
    text: TextQueryBody | None = None
    vector: VectorQueryBody | None = None
    query_string: str | None = None


class OrderBody(BaseModel):
    scope: ScopeBody
    order: Literal["asc", "desc"]


class SearchRecordsBody(BaseModel):
    query: QueryBody | None = None
    filters: FiltersBody | None = None
    sort: list[OrderBody] | None = Field(default=None, min_length=1, max_length=SORT_MAX)

    def to_search_query(self) -> SearchQuery:
        """The engine's query; raises `QueryError` for a malformed `query_string`."""
        nodes: list[Node] = [f.to_node() for f in (self.filters.and_ or [])] if self.filters else []
        text = vector = None
        if self.query is not None:
            if self.query.query_string is not None:
                nodes.append(parse_query_string(self.query.query_string))
            if self.query.text is not None:
                text = Text(self.query.text.q, field=self.query.text.field)
            if self.query.vector is not None:
                v = self.query.vector
                vector = VectorQuery(name=v.name, value=v.value, record_id=v.record_id, order=v.order)
        return SearchQuery(
            filter=None if not nodes else nodes[0] if len(nodes) == 1 else And(tuple(nodes)),
            text=text,
            vector=vector,
            sort=[SortBy(o.scope.to_scope(), o.order) for o in self.sort or []],
        )


def _location(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "body"


def parse_search_body(body: Mapping[str, Any] | None) -> SearchQuery:
    """Validate a raw body and translate it; schema errors become one `QueryError` that lists
    each problem as `location: message`."""
    try:
        parsed = SearchRecordsBody.model_validate(body or {})
    except ValidationError as exc:
        problems = "; ".join(f"{_location(e['loc'])}: {e['msg']}" for e in exc.errors())
        raise QueryError(f"invalid search body: {problems}") from None
    return parsed.to_search_query()
