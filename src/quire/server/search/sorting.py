"""Sort keys: one SQL expression per `SortBy`, missing values last in both directions.

A record can hold several values for one key (a metadata list, a multi-label suggestion, several
users' responses). Ascending sorts use the smallest, descending the largest, as Elasticsearch does
for arrays; numeric response values use the average of the responses (Argilla's `mode: avg`).
Text sorts compare code points on both databases (`COLLATE "C"` on PostgreSQL).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, cast

from sqlalchemy import SQLColumnExpression, func, select, true
from sqlalchemy.sql.elements import ColumnElement

from quire.server.models import Record, RecordMetadataValue, Response, Suggestion
from quire.server.search.context import CompileContext
from quire.server.search.errors import QueryError
from quire.server.search.predicates import (
    NUMERIC_QUESTIONS,
    metadata_key,
    response_elements,
    response_question,
    suggestion_elements,
)
from quire.server.search.scopes import MetadataScope, RecordScope, Scope, SuggestionScope

SortOrder = Literal["asc", "desc"]


@dataclass(frozen=True)
class SortBy:
    scope: Scope
    order: SortOrder = "asc"

    def __post_init__(self) -> None:
        if self.order not in ("asc", "desc"):
            raise QueryError(f"unknown sort order {self.order!r}; allowed: ['asc', 'desc']")


def _text(ctx: CompileContext, expr: SQLColumnExpression[Any]) -> SQLColumnExpression[Any]:
    return expr.collate("C") if ctx.dialect == "postgresql" else expr


def sort_key(
    ctx: CompileContext, sort: SortBy, *, record_id: ColumnElement[Any] | None = None
) -> ColumnElement[Any]:
    """`record_id`: the column the key's subqueries correlate with (default `records.id`)."""
    value = cast(ColumnElement[Any], sort_value(ctx, sort.scope, sort.order, record_id=record_id))
    return (value.asc() if sort.order == "asc" else value.desc()).nulls_last()


def sort_value(
    ctx: CompileContext, scope: Scope, order: SortOrder, *, record_id: ColumnElement[Any] | None = None
) -> SQLColumnExpression[Any]:
    """The value a record sorts by (NULL when it has none)."""
    pick = func.min if order == "asc" else func.max
    rid: SQLColumnExpression[Any] = Record.id if record_id is None else record_id
    if isinstance(scope, RecordScope):
        if record_id is not None:
            raise AssertionError("record columns sort over `records` only")
        columns: dict[str, SQLColumnExpression[Any]] = {
            "id": Record.id,
            "external_id": _text(ctx, Record.external_id),
            "status": _text(ctx, Record.status),
            "inserted_at": Record.inserted_at,
            "updated_at": Record.updated_at,
        }
        return columns[scope.property]
    if isinstance(scope, MetadataScope):
        numeric = ctx.metadata_type(scope.name) in ("integer", "float")
        column = RecordMetadataValue.value_num if numeric else RecordMetadataValue.value_text
        # min/max skip NULLs by themselves. A `value_text IS NOT NULL` test here would let SQLite
        # read the key's partial value index, where the record is the last column: a walk through
        # half the key's rows per record sorted (seconds on 50k records) instead of one probe of
        # the per-record index.
        query = select(pick(column)).where(
            RecordMetadataValue.record_id == rid,
            RecordMetadataValue.key_id == metadata_key(ctx, scope.name),
        )
        value = query.scalar_subquery()
        return value if numeric else _text(ctx, value)
    if isinstance(scope, SuggestionScope):
        question = ctx.question(scope.question)
        base = select().where(Suggestion.record_id == rid, Suggestion.question_id == question.id)
        if scope.property in ("agent", "type"):
            column = Suggestion.agent if scope.property == "agent" else Suggestion.type
            return _text(ctx, base.add_columns(column).scalar_subquery())
        elements = suggestion_elements(ctx, question, scope.property)
        numeric = scope.property == "score" or question.type in NUMERIC_QUESTIONS
        picked: SQLColumnExpression[Any] = pick(elements.num if numeric else elements.text)
        value = (
            base.add_columns(picked).select_from(Suggestion).join(elements.source, true()).scalar_subquery()
        )
        return value if numeric else _text(ctx, value)
    responses = select().select_from(Response).where(Response.record_id == rid)
    if ctx.user_id is not None:
        responses = responses.where(Response.user_id == ctx.user_id)
    if scope.question is None and scope.property == "status":
        return _text(ctx, responses.add_columns(pick(Response.status)).scalar_subquery())
    question = response_question(ctx, scope)
    elements = response_elements(ctx, question)
    numeric = question.type in NUMERIC_QUESTIONS
    picked2: SQLColumnExpression[Any] = func.avg(elements.num) if numeric else pick(elements.text)
    value = responses.add_columns(picked2).join(elements.source, true()).scalar_subquery()
    return value if numeric else _text(ctx, value)
