"""Dialect-aware views of a JSON value as a set of elements.

Suggestion and response values are scalars (`"pos"`, `3`), lists of scalars (`["a", "b"]`) or lists
of objects (`[{"value": "r1", "rank": 1}]`, `[{"label": "PER", "start": 0, "end": 4}]`). Filters
treat every shape as a set of elements, so "any member matches" is one rule: a scalar is a set of one,
and `key` picks one member of each object.

SQLite: `json_each(source[, path])` (a scalar yields one row), members through `json_extract` on
the element's full path. PostgreSQL: `jsonb_array_elements` over the value, wrapped in an array when
it is not one, members with `->`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Float, SQLColumnExpression, String, Text, case, cast, func, literal, literal_column
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.selectable import TableValuedAlias

from quire.server.search.context import Dialect


@dataclass(frozen=True)
class Elements:
    """A table-valued FROM item yielding one row per element, and each element's value as text
    (NULL unless it is a JSON string) and as a number (NULL unless it is a JSON number)."""

    source: TableValuedAlias
    text: ColumnElement[Any]
    num: ColumnElement[Any]


def _sqlite_path(path: tuple[str, ...]) -> str:
    return "$" + "".join('."' + part.replace('"', "") + '"' for part in path)


def json_elements(
    dialect: Dialect, column: SQLColumnExpression[Any], *, path: tuple[str, ...] = (), key: str | None = None
) -> Elements:
    """Elements of the JSON at `path` inside `column` (e.g. `("label", "value")` inside
    `responses.values`); with `key`, the `key` member of each object element."""
    if dialect == "sqlite":
        return _sqlite_elements(column, path, key)
    return _postgres_elements(column, path, key)


def _sqlite_elements(column: SQLColumnExpression[Any], path: tuple[str, ...], key: str | None) -> Elements:
    args: list[Any] = [column]
    if path:
        args.append(literal(_sqlite_path(path), String))
    each = func.json_each(*args).table_valued("value", "type", "fullkey")
    if key is None:
        text = case((each.c.type == "text", each.c.value))
        num = case((each.c.type.in_(("integer", "real")), each.c.value))
        return Elements(each, text, num)
    member = each.c.fullkey + literal(_sqlite_path((key,))[1:], String)
    member_type = func.json_type(column, member)
    text = case((member_type == "text", func.json_extract(column, member)))
    num = case((member_type.in_(("integer", "real")), func.json_extract(column, member)))
    return Elements(each, text, num)


def jsonb_get(value: SQLColumnExpression[Any], key: str) -> ColumnElement[Any]:
    return value.op("->", return_type=JSONB)(cast(literal(key), Text))


def _postgres_elements(column: SQLColumnExpression[Any], path: tuple[str, ...], key: str | None) -> Elements:
    value: SQLColumnExpression[Any] = column
    for part in path:
        value = jsonb_get(value, part)
    as_array = case((func.jsonb_typeof(value) == "array", value), else_=func.jsonb_build_array(value))
    each = func.jsonb_array_elements(as_array).table_valued("value")
    element: ColumnElement[Any] = each.c.value
    if key is not None:
        element = jsonb_get(element, key)
    scalar = element.op("#>>", return_type=Text)(literal_column("'{}'"))
    text = case((func.jsonb_typeof(element) == "string", scalar))
    num = case((func.jsonb_typeof(element) == "number", cast(scalar, Float)))
    return Elements(each, text, num)
