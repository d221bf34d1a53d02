"""A rule's filter over the records of one window.

The filter is the search endpoint's query string, compiled by the search package as for a search
(`compile_where`). A search condition on related rows is `records.id IN (SELECT record_id FROM …)`
over the whole dataset; evaluated as is for a few hundred records it would still build that whole
list. So the compiled conditions are narrowed to the window's records first: every
`records.id [NOT] IN (subquery)` gets `AND <its record_id column> IN (:candidates)` inside the
subquery. For records among the candidates the answer is the same (a subquery row about another
record can never make `records.id IN …` true for a candidate), and each subquery now starts from an
index on record_id (responses, suggestions, metadata, texts) — the cost follows the window, not the
dataset. On SQLite, which plans without statistics, the dataset tests are also kept off their
indexes (`unindexed_dataset_test`) and the tables filters read by record_id are shadowed by copies
of the candidates' rows (`_window_only`), so no plan can prefer reading the whole dataset.
Full-text terms are the exception: SQLite searches the full-text index for the term first.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import BindParameter, Column, ColumnElement, Select, Uuid, bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import BinaryExpression, UnaryExpression
from sqlalchemy.sql.operators import custom_op
from sqlalchemy.sql.selectable import ScalarSelect

from quire.server.db import Dialect
from quire.server.errors import Invalid
from quire.server.models import Dataset, Record
from quire.server.rules.sampling import in_sample
from quire.server.search import (
    CompileContext,
    Node,
    QueryError,
    SearchQuery,
    compile_where,
    parse_query_string,
)
from quire.server.sql import chunks

CHUNK = 500
SHADOWED = ("record_metadata", "responses", "suggestions")
"""The tables a filter reads by record_id (besides `records` itself, read by primary key, and the
full-text tables)."""
_RECORD_ID = Record.__table__.c.id


def parse_filter(text: str) -> Node:
    try:
        return parse_query_string(text)
    except QueryError as exc:
        raise Invalid(f"filter: {exc.message}") from None


def compiled_filter(dataset: Dataset, text: str, dialect: Dialect) -> list[ColumnElement[bool]]:
    """The filter's WHERE clauses over `records` (dataset loaded with its settings); a 422 naming
    the problem when the filter is malformed or names what the dataset does not have."""
    node = parse_filter(text)
    try:
        return compile_where(CompileContext.for_dataset(dataset, dialect=dialect), SearchQuery(filter=node))
    except QueryError as exc:
        raise Invalid(f"filter: {exc.message}") from None


def narrowed(
    condition: ColumnElement[bool], candidates: BindParameter[Any], *, sqlite: bool = False
) -> ColumnElement[bool]:
    """`condition` with every `records.id [NOT] IN (subquery)` restricted to `candidates` inside.
    With `sqlite`, the subqueries' dataset tests are also kept off their indexes (see
    `unindexed_dataset_test`), so that the candidates' `record_id` drives them."""

    def replace(element: Any, **_kw: Any) -> Any:
        if (
            isinstance(element, BinaryExpression)
            and element.operator in (operators.in_op, operators.not_in_op)
            and isinstance(element.right, ScalarSelect)
            and element.left.compare(_RECORD_ID)
        ):
            inner: Any = element.right.element
            if not hasattr(inner, "selected_columns") or not hasattr(inner, "where"):
                return None
            if sqlite:
                inner = visitors.replacement_traverse(inner, {}, unindexed_dataset_test)
            restricted = inner.where(inner.selected_columns[0].in_(candidates))
            if element.operator is operators.in_op:
                return element.left.in_(restricted)
            return element.left.not_in(restricted)
        return None

    result: ColumnElement[bool] = visitors.replacement_traverse(condition, {}, replace)
    return result


def unindexed_dataset_test(element: Any, **_kw: Any) -> Any:
    """SQLite: `<table>.dataset_id = ?` becomes `+<table>.dataset_id = ?`, which no index serves
    (None for any other element: `replacement_traverse` keeps it).

    Without statistics SQLite guesses that an equality on an index finds a few rows, and prefers a
    dataset index to the candidates for `records.id IN (…500 candidates) AND dataset_id = ?` (and
    `record_texts.record_id IN (…) AND record_texts.dataset_id = ?` inside a full-text term): it
    would read every record of the dataset. The candidates are the dataset's records already; the
    test stays, as a check."""
    if (
        isinstance(element, BinaryExpression)
        and element.operator is operators.eq
        and isinstance(element.left, Column)
        and element.left.name == "dataset_id"
        and element.left.table is not None
        and element.left.table.name != "metadata_keys"  # a metadata name's number: one row, by index
    ):
        column = element.left
        return UnaryExpression(column, operator=custom_op("+"), type_=column.type) == element.right
    return None


def _top_level(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    replaced: ColumnElement[bool] | None = unindexed_dataset_test(condition)
    return condition if replaced is None else replaced  # (no `or`: SQL expressions have no truth)


@asynccontextmanager
async def _window_only(session: AsyncSession, record_ids: Sequence[uuid.UUID]) -> AsyncIterator[None]:
    """SQLite: TEMP copies of the candidates' rows of the tables filters read by record_id, which
    shadow the main tables (unqualified names resolve to `temp` first) while the filter runs.

    SQLite has no statistics, so for `record_id IN (…candidates) AND key_id = ? AND value_text = ?`
    it picks the value index and reads every record of the dataset with that value; over the
    copies any plan reads only the window. The copies are dropped before anything
    else runs in the transaction (and a rollback drops them too), so no other statement sees them.
    Full-text terms still go through the main full-text index."""
    connection = await session.connection()
    keys = tuple(record_id.hex for record_id in record_ids)  # how `Uuid` stores ids on SQLite
    marks = ", ".join("?" * len(keys))
    created: list[str] = []
    try:
        for table in SHADOWED:
            await connection.exec_driver_sql(
                f'CREATE TEMP TABLE "{table}" AS SELECT * FROM main."{table}" WHERE record_id IN ({marks})',
                keys,
            )
            created.append(table)
            await connection.exec_driver_sql(
                f'CREATE INDEX temp."ix_window_{table}" ON "{table}" (record_id)'
            )
        yield
    finally:
        for table in created:
            await connection.exec_driver_sql(f'DROP TABLE temp."{table}"')


def candidate_statement(
    where: Sequence[ColumnElement[bool]], record_ids: Sequence[uuid.UUID], *, sqlite: bool
) -> Select[Any]:
    """`SELECT records.id` of the `record_ids` the compiled filter selects."""
    candidates = bindparam("candidates", value=list(record_ids), expanding=True, type_=Uuid())
    conditions = [narrowed(w, candidates, sqlite=sqlite) for w in where]
    if sqlite:  # the top-level `records.dataset_id = ?` (inside subqueries: done by `narrowed`)
        conditions = [_top_level(c) for c in conditions]
    return select(Record.id).where(_RECORD_ID.in_(candidates), *conditions)


async def matching_records(
    session: AsyncSession, where: Sequence[ColumnElement[bool]], record_ids: Sequence[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of `record_ids` the compiled filter selects."""
    found: set[uuid.UUID] = set()
    sqlite = session.get_bind().dialect.name == "sqlite"
    for batch in chunks(list(record_ids), CHUNK):
        statement = candidate_statement(where, batch, sqlite=sqlite)
        if sqlite:
            async with _window_only(session, batch):
                found.update(await session.scalars(statement))
        else:
            found.update(await session.scalars(statement))
    return found


def sampled(rule_id: uuid.UUID, rate: float, record_ids: Sequence[uuid.UUID]) -> list[uuid.UUID]:
    return [record_id for record_id in record_ids if in_sample(rule_id, record_id, rate)]
