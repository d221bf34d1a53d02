"""`Query`, `Filter` and `Similar`: what `dataset.records(query=...)` searches for.

    rg.Query(query="hello")                                     # full text over every field
    rg.Query(query="metadata.batch_id:3 AND status:pending")    # quire's query language
    rg.Query(filter=rg.Filter([("label.suggestion", "==", "positive"), ("metadata.n", ">=", 3)]))
    rg.Query(similar=rg.Similar("embedding", [0.1, 0.2, 0.3]))  # yields (record, score) pairs

`query` is sent as the server's `query.query_string` (docs/search.md): bare words search the text
of all fields, as argilla's text query does, and `field:value` terms, ranges and boolean operators
work too. `text=` sends a literal full-text query instead (no query syntax; `text_field=` limits
it to one field). Everything given is combined with AND.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from quire.client.records.record import Record

__all__ = ["Condition", "Filter", "Query", "Similar"]

OPERATORS = ("==", "in", ">=", "<=")
_RECORD_PROPERTIES = {
    "status": "status",
    "id": "external_id",
    "_server_id": "id",
    "inserted_at": "inserted_at",
    "updated_at": "updated_at",
}
_SUGGESTION_PROPERTIES = ("score", "agent", "type")


def _scope(field: str) -> dict[str, Any]:
    """A condition's field as a search scope (the argilla SDK's names)."""
    if field in _RECORD_PROPERTIES:
        return {"entity": "record", "property": _RECORD_PROPERTIES[field]}
    if field in ("response.status", "responses.status"):
        return {"entity": "response", "property": "status"}
    if field.startswith("metadata."):
        return {"entity": "metadata", "metadata_property": field.removeprefix("metadata.")}
    question, _, last = field.rpartition(".")
    if question:
        if last == "suggestion":
            return {"entity": "suggestion", "question": question, "property": "value"}
        if last in _SUGGESTION_PROPERTIES:
            base, _, middle = question.rpartition(".")
            if middle == "suggestion" and base:  # label.suggestion.score
                question = base
            return {"entity": "suggestion", "question": question, "property": last}
        if last == "response":
            return {"entity": "response", "question": question}
        if last == "value":
            base, _, middle = question.rpartition(".")
            if middle == "suggestion" and base:
                return {"entity": "suggestion", "question": base, "property": "value"}
            if middle == "response" and base:
                return {"entity": "response", "question": base}
    return {"entity": "suggestion", "question": field, "property": "value"}


def _bound(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


class Condition(tuple[str, str, Any]):
    """`(field, operator, value)`; operators `==`, `in`, `>=`, `<=`. Fields: `status`, `id`,
    `_server_id`, `inserted_at`, `updated_at`, `response.status`, `metadata.<name>`,
    `<question>` / `<question>.suggestion`, `<question>.score` / `.agent` / `.type`, `<question>.response`."""

    def to_wire(self) -> dict[str, Any]:
        field, operator, value = self
        scope = _scope(str(field).strip())
        operator = str(operator).strip()
        if operator == "==":
            return {"type": "terms", "scope": scope, "values": [value]}
        if operator == "in":
            values = [value] if isinstance(value, str) or not isinstance(value, Iterable) else list(value)
            return {"type": "terms", "scope": scope, "values": values}
        if operator == ">=":
            return {"type": "range", "scope": scope, "ge": _bound(value), "le": None}
        if operator == "<=":
            return {"type": "range", "scope": scope, "ge": None, "le": _bound(value)}
        raise ValueError(
            f"unknown operator {operator!r} in condition {tuple(self)!r}: use one of {OPERATORS}"
        )


class Filter:
    """Conditions that must all hold: `rg.Filter([("status", "==", "completed"), ...])` or one tuple."""

    def __init__(self, conditions: Sequence[tuple[str, str, Any]] | tuple[str, str, Any]) -> None:
        if isinstance(conditions, tuple) and len(conditions) == 3 and isinstance(conditions[0], str):
            conditions = [conditions]
        self.conditions = [Condition(tuple(c)) for c in conditions]
        if not self.conditions:
            raise ValueError("a Filter needs at least one condition")
        for condition in self.conditions:
            if len(condition) != 3:
                raise ValueError(f"a condition is (field, operator, value), got {tuple(condition)!r}")
            condition.to_wire()  # operators are checked now, not at the first request

    def __repr__(self) -> str:
        return f"Filter({[tuple(c) for c in self.conditions]!r})"

    def __and__(self, other: Filter) -> Filter:
        return Filter([*self.conditions, *other.conditions])

    def to_wire(self) -> dict[str, Any]:
        return {"and": [c.to_wire() for c in self.conditions]}


class Similar:
    """Records whose vector `name` is most (or least) similar to `value`: a vector, or a record of
    the dataset."""

    def __init__(self, name: str, value: Sequence[float] | Record | Any, most_similar: bool = True) -> None:
        self.name = name
        self.value = value
        self.most_similar = most_similar

    def __repr__(self) -> str:
        return f"Similar({self.name!r}, most_similar={self.most_similar})"

    def to_wire(self) -> dict[str, Any]:
        from quire.client.records.record import Record

        body: dict[str, Any] = {
            "name": self.name,
            "order": "most_similar" if self.most_similar else "least_similar",
        }
        if isinstance(self.value, Record):
            if self.value._server_id is None:
                raise ValueError(
                    "Similar(record): the record has no server id (fetch it from the dataset first)"
                )
            body["record_id"] = str(self.value._server_id)
        else:
            values = self.value.tolist() if hasattr(self.value, "tolist") else self.value
            body["value"] = [float(v) for v in values]
        return body


class Query:
    """A search: `query` (query language, see module docstring), `text` (literal full text),
    `similar`, `filter` (a `Filter`, a condition tuple or a list of them)."""

    def __init__(
        self,
        *,
        query: str | None = None,
        similar: Similar | None = None,
        filter: Filter | tuple[str, str, Any] | Sequence[tuple[str, str, Any]] | None = None,
        text: str | None = None,
        text_field: str | None = None,
    ) -> None:
        if filter is not None and not isinstance(filter, Filter):
            filter = Filter(filter)
        self.query = query
        self.similar = similar
        self.filter = filter
        self.text = text
        self.text_field = text_field

    def __repr__(self) -> str:
        parts = [f"{k}={v!r}" for k, v in vars(self).items() if v is not None]
        return f"Query({', '.join(parts)})"

    def has_search(self) -> bool:
        return bool(self.query or self.text or self.similar or self.filter)

    def has_similar(self) -> bool:
        return self.similar is not None

    def to_wire(self) -> dict[str, Any]:
        """The body of `POST /datasets/{id}/records/search`."""
        body: dict[str, Any] = {}
        query: dict[str, Any] = {}
        if self.query:
            query["query_string"] = self.query
        if self.text:
            query["text"] = {"q": self.text, "field": self.text_field}
        if self.similar is not None:
            query["vector"] = self.similar.to_wire()
        if query:
            body["query"] = query
        if self.filter is not None:
            body["filters"] = self.filter.to_wire()
        return body
