"""What a filter or a sort looks at: a record property, a metadata property, a question's
suggestion or its responses. Names are checked against a dataset at compile time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

from quire.server.search.errors import QueryError

RecordProperty = Literal["id", "external_id", "status", "inserted_at", "updated_at"]
SuggestionProperty = Literal["value", "score", "agent", "type"]
ResponseProperty = Literal["value", "status"]


def _check(value: str, allowed: object, what: str) -> None:
    options = get_args(allowed)
    if value not in options:
        raise QueryError(f"unknown {what} {value!r}; allowed: {list(options)}")


@dataclass(frozen=True)
class RecordScope:
    property: RecordProperty

    def __post_init__(self) -> None:
        _check(self.property, RecordProperty, "record property")


@dataclass(frozen=True)
class MetadataScope:
    name: str


@dataclass(frozen=True)
class SuggestionScope:
    question: str
    property: SuggestionProperty = "value"

    def __post_init__(self) -> None:
        _check(self.property, SuggestionProperty, "suggestion property")


@dataclass(frozen=True)
class ResponseScope:
    """Responses to `question` (property `value`), or responses as a whole (`question=None`,
    property `status`, where `pending` means "no response")."""

    question: str | None = None
    property: ResponseProperty = "value"

    def __post_init__(self) -> None:
        _check(self.property, ResponseProperty, "response property")


Scope: TypeAlias = RecordScope | MetadataScope | SuggestionScope | ResponseScope
