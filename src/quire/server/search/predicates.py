"""SQL for `Terms` and `Range` on each scope: boolean expressions over `records`.

Everything but plain record columns is `records.id IN (SELECT record_id FROM …)`, so the database
drives each test from its own index (metadata: `ix_record_metadata_text/num`; suggestions:
`ix_suggestions_question`) and `NOT` needs no special NULL handling.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, SQLColumnExpression, and_, or_, select, true
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import ScalarSelect

from quire.server.models import (
    MetadataKey,
    Record,
    RecordMetadataValue,
    RecordStatus,
    Response,
    ResponseStatus,
    Suggestion,
    SuggestionType,
)
from quire.server.search.context import CompileContext, QuestionInfo
from quire.server.search.errors import QueryError
from quire.server.search.jsonsql import Elements, json_elements
from quire.server.search.scopes import MetadataScope, RecordScope, ResponseScope, Scope, SuggestionScope
from quire.server.search.values import (
    Bound,
    Scalar,
    as_number,
    as_text,
    as_timestamp,
    as_uuid,
    require_number,
)

BoundSpec = tuple[Bound, bool] | None

# The member of each list element a filter looks at, per question type.
ELEMENT_KEY: dict[str, str] = {"ranking": "value", "span": "label"}
NUMERIC_QUESTIONS = frozenset({"rating"})
RESPONSE_STATUSES = (*(s.value for s in ResponseStatus), "pending")  # pending: no response


def _allowed(values: Sequence[str], allowed: Sequence[str], what: str) -> list[str]:
    for value in values:
        if value not in allowed:
            raise QueryError(f"unknown {what} {value!r}; allowed: {list(allowed)}")
    return list(dict.fromkeys(values))


def bounded(
    expr: SQLColumnExpression[Any], lower: tuple[Any, bool] | None, upper: tuple[Any, bool] | None
) -> ColumnElement[bool]:
    conditions: list[ColumnElement[bool]] = []
    if lower is not None:
        conditions.append(expr >= lower[0] if lower[1] else expr > lower[0])
    if upper is not None:
        conditions.append(expr <= upper[0] if upper[1] else expr < upper[0])
    return and_(*conditions) if conditions else true()


def _numeric_bounds(
    lower: BoundSpec, upper: BoundSpec, what: str
) -> tuple[tuple[float, bool] | None, tuple[float, bool] | None]:
    low = (require_number(lower[0], what), lower[1]) if lower else None
    high = (require_number(upper[0], what), upper[1]) if upper else None
    if low and high and low[0] > high[0]:
        raise QueryError(f"{what}: lower bound {low[0]} exceeds upper bound {high[0]}")
    return low, high


def terms(ctx: CompileContext, scope: Scope, values: Sequence[Scalar]) -> ColumnElement[bool]:
    if isinstance(scope, RecordScope):
        return _record_terms(scope, values)
    if isinstance(scope, ResponseScope) and scope.question is None and scope.property == "status":
        return _response_status(ctx, values)
    rows = terms_rows(ctx, scope, values)
    assert rows is not None
    return Record.id.in_(rows)


def range_(ctx: CompileContext, scope: Scope, lower: BoundSpec, upper: BoundSpec) -> ColumnElement[bool]:
    if isinstance(scope, RecordScope):
        return _record_range(scope, lower, upper)
    return Record.id.in_(range_rows(ctx, scope, lower, upper))


def terms_rows(ctx: CompileContext, scope: Scope, values: Sequence[Scalar]) -> Select[Any] | None:
    """The rows (first column: record_id) that make a `Terms` true, or None when it is not a set of
    rows (record columns; response status with `pending`)."""
    if isinstance(scope, RecordScope):
        return None
    if isinstance(scope, MetadataScope):
        return _metadata_terms(ctx, scope, values)
    if isinstance(scope, SuggestionScope):
        return _suggestion_terms(ctx, scope, values)
    if scope.question is None and scope.property == "status":
        statuses = _allowed([as_text(v) for v in values], RESPONSE_STATUSES, "response status")
        if "pending" in statuses:
            return None
        return _responses(ctx).where(Response.status.in_(statuses))
    return _response_terms(ctx, scope, values)


def range_rows(ctx: CompileContext, scope: Scope, lower: BoundSpec, upper: BoundSpec) -> Select[Any]:
    """The rows (first column: record_id) that make a `Range` true (not for record scopes)."""
    if isinstance(scope, RecordScope):
        raise AssertionError("record ranges are not row sets")
    if isinstance(scope, MetadataScope):
        ctx.metadata_type(scope.name)
        low, high = _numeric_bounds(lower, upper, f"metadata property {scope.name!r}")
        return _metadata_rows(ctx, scope.name).where(bounded(RecordMetadataValue.value_num, low, high))
    if isinstance(scope, SuggestionScope):
        return _suggestion_range(ctx, scope, lower, upper)
    return _response_range(ctx, scope, lower, upper)


# records ---------------------------------------------------------------------------------------


def _record_terms(scope: RecordScope, values: Sequence[Scalar]) -> ColumnElement[bool]:
    prop = scope.property
    if prop == "id":
        ids: list[uuid.UUID] = [as_uuid(v) for v in values]
        return Record.id.in_(ids)
    if prop == "external_id":
        # IS NOT NULL keeps NOT(...) true for records without an external id.
        return and_(Record.external_id.is_not(None), Record.external_id.in_([as_text(v) for v in values]))
    if prop == "status":
        statuses = _allowed([as_text(v) for v in values], [s.value for s in RecordStatus], "record status")
        return Record.status.in_(statuses)
    raise QueryError(f"{prop} takes a range filter, not terms")


def _record_range(scope: RecordScope, lower: BoundSpec, upper: BoundSpec) -> ColumnElement[bool]:
    prop = scope.property
    if prop not in ("inserted_at", "updated_at"):
        raise QueryError(f"range filters on records apply to inserted_at and updated_at, not {prop}")
    column = Record.inserted_at if prop == "inserted_at" else Record.updated_at
    low = as_timestamp(lower[0], what=prop, lower=True, inclusive=lower[1]) if lower else None
    high = as_timestamp(upper[0], what=prop, lower=False, inclusive=upper[1]) if upper else None
    return bounded(column, low, high)


# metadata --------------------------------------------------------------------------------------


def metadata_key(ctx: CompileContext, name: str) -> ScalarSelect[Any]:
    """The number of metadata `name` in the dataset (`metadata_keys`): NULL, so matching nothing,
    when no record ever held it."""
    return (
        select(MetadataKey.id)
        .where(MetadataKey.dataset_id == ctx.dataset_id, MetadataKey.name == name)
        .scalar_subquery()
    )


def _metadata_rows(ctx: CompileContext, name: str) -> Select[Any]:
    """The dataset's rows of metadata `name`. The key fixes the dataset: as a probe (correlated on
    record_id) it is served by the per-record index, as a driver by the value indexes."""
    return select(RecordMetadataValue.record_id).where(RecordMetadataValue.key_id == metadata_key(ctx, name))


def _metadata_terms(ctx: CompileContext, scope: MetadataScope, values: Sequence[Scalar]) -> Select[Any]:
    kind = ctx.metadata_type(scope.name)
    if kind in ("integer", "float"):
        numbers = [require_number(v, f"{kind} metadata property {scope.name!r}") for v in values]
        condition: ColumnElement[bool] = RecordMetadataValue.value_num.in_(numbers)
    else:
        texts = [as_text(v) for v in values]
        numbers = [n for n in (as_number(v) for v in values) if n is not None]
        condition = RecordMetadataValue.value_text.in_(texts)
        if numbers:
            condition = or_(condition, RecordMetadataValue.value_num.in_(numbers))
    return _metadata_rows(ctx, scope.name).where(condition)


# suggestions -----------------------------------------------------------------------------------


def suggestion_elements(ctx: CompileContext, question: QuestionInfo, prop: str) -> Elements:
    if prop == "score":
        return json_elements(ctx.dialect, Suggestion.score)
    return json_elements(ctx.dialect, Suggestion.value, key=ELEMENT_KEY.get(question.type))


def _suggestions(question: QuestionInfo, elements: Elements | None = None) -> Select[Any]:
    query = select(Suggestion.record_id).where(Suggestion.question_id == question.id)
    if elements is not None:
        query = query.join(elements.source, true())
    return query


def _value_condition(
    question: QuestionInfo, elements: Elements, values: Sequence[Scalar], what: str
) -> ColumnElement[bool]:
    if question.type in NUMERIC_QUESTIONS:
        return elements.num.in_([require_number(v, what) for v in values])
    return elements.text.in_([as_text(v) for v in values])


def _suggestion_terms(ctx: CompileContext, scope: SuggestionScope, values: Sequence[Scalar]) -> Select[Any]:
    question = ctx.question(scope.question)
    what = f"suggestion {scope.property} of {question.type} question {question.name!r}"
    if scope.property == "agent":
        return _suggestions(question).where(Suggestion.agent.in_([as_text(v) for v in values]))
    if scope.property == "type":
        types = _allowed([as_text(v) for v in values], [t.value for t in SuggestionType], "suggestion type")
        return _suggestions(question).where(Suggestion.type.in_(types))
    elements = suggestion_elements(ctx, question, scope.property)
    condition: ColumnElement[bool]
    if scope.property == "score":
        condition = elements.num.in_([require_number(v, what) for v in values])
    else:
        condition = _value_condition(question, elements, values, what)
    return _suggestions(question, elements).where(condition)


def _suggestion_range(
    ctx: CompileContext, scope: SuggestionScope, lower: BoundSpec, upper: BoundSpec
) -> Select[Any]:
    question = ctx.question(scope.question)
    if scope.property in ("agent", "type"):
        raise QueryError(f"suggestion {scope.property} takes terms, not a range")
    if scope.property == "value" and question.type not in NUMERIC_QUESTIONS:
        raise QueryError(
            f"range filters on suggestion values need a rating question; {question.name!r} is {question.type}"
        )
    low, high = _numeric_bounds(lower, upper, f"suggestion {scope.property} of {question.name!r}")
    elements = suggestion_elements(ctx, question, scope.property)
    return _suggestions(question, elements).where(bounded(elements.num, low, high))


# responses -------------------------------------------------------------------------------------


def _responses(ctx: CompileContext) -> Select[Any]:
    query = select(Response.record_id)
    if ctx.user_id is not None:
        query = query.where(Response.user_id == ctx.user_id)
    return query


def response_question(ctx: CompileContext, scope: ResponseScope) -> QuestionInfo:
    if scope.question is None:
        raise QueryError("response values need a question")
    if scope.property == "status":
        raise QueryError("response status belongs to the whole response; leave the question out")
    return ctx.question(scope.question)


def response_elements(ctx: CompileContext, question: QuestionInfo) -> Elements:
    return json_elements(
        ctx.dialect, Response.values, path=(question.name, "value"), key=ELEMENT_KEY.get(question.type)
    )


def _response_status(ctx: CompileContext, values: Sequence[Scalar]) -> ColumnElement[bool]:
    statuses = _allowed([as_text(v) for v in values], RESPONSE_STATUSES, "response status")
    answered = [s for s in statuses if s != "pending"]
    conditions: list[ColumnElement[bool]] = []
    if answered:
        conditions.append(Record.id.in_(_responses(ctx).where(Response.status.in_(answered))))
    if "pending" in statuses:
        conditions.append(Record.id.not_in(_responses(ctx)))
    return or_(*conditions)


def _response_terms(ctx: CompileContext, scope: ResponseScope, values: Sequence[Scalar]) -> Select[Any]:
    question = response_question(ctx, scope)
    elements = response_elements(ctx, question)
    condition = _value_condition(
        question, elements, values, f"response value of {question.type} question {question.name!r}"
    )
    return _responses(ctx).join(elements.source, true()).where(condition)


def _response_range(
    ctx: CompileContext, scope: ResponseScope, lower: BoundSpec, upper: BoundSpec
) -> Select[Any]:
    if scope.property == "status" and scope.question is None:
        raise QueryError("response status takes terms, not a range")
    question = response_question(ctx, scope)
    if question.type not in NUMERIC_QUESTIONS:
        raise QueryError(
            f"range filters on response values need a rating question; {question.name!r} is {question.type}"
        )
    low, high = _numeric_bounds(lower, upper, f"response value of {question.name!r}")
    elements = response_elements(ctx, question)
    return _responses(ctx).join(elements.source, true()).where(bounded(elements.num, low, high))
