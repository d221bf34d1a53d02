"""What a filter needs to know about its dataset to compile: the whitelist of public names.

Filters name questions, metadata properties, fields and vectors by their public names; the context
maps each name to what the SQL needs (ids, types) and refuses names the dataset does not have.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from quire.server.models import Dataset
from quire.server.search.errors import QueryError

Dialect = Literal["sqlite", "postgresql"]


@dataclass(frozen=True)
class QuestionInfo:
    id: uuid.UUID
    name: str
    type: str


@dataclass(frozen=True)
class VectorInfo:
    id: uuid.UUID
    name: str
    dimensions: int


def _unknown(kind: str, name: str, known: Mapping[str, object]) -> QueryError:
    return QueryError(f"unknown {kind} {name!r}; this dataset has: {sorted(known)}")


@dataclass(frozen=True)
class CompileContext:
    """A dataset's searchable names plus the SQL dialect and, for `/me` searches, the user whose
    responses count."""

    dataset_id: uuid.UUID
    dialect: Dialect
    user_id: uuid.UUID | None = None
    questions: Mapping[str, QuestionInfo] = field(default_factory=dict)
    metadata: Mapping[str, str] = field(default_factory=dict)  # name -> terms | integer | float
    fields: Mapping[str, str] = field(default_factory=dict)  # name -> field type
    vectors: Mapping[str, VectorInfo] = field(default_factory=dict)
    # rows per filter condition, where measured (see `conjunction.estimate_sizes`)
    estimates: Mapping[Any, int] = field(default_factory=dict)

    @classmethod
    def for_dataset(
        cls, dataset: Dataset, *, dialect: Dialect, user_id: uuid.UUID | None = None
    ) -> CompileContext:
        """Build from a dataset loaded with its settings (`get_dataset(..., with_settings=True)`)."""
        return cls(
            dataset_id=dataset.id,
            dialect=dialect,
            user_id=user_id,
            questions={
                q.name: QuestionInfo(q.id, q.name, str(q.settings.get("type", ""))) for q in dataset.questions
            },
            metadata={m.name: str(m.settings.get("type", "")) for m in dataset.metadata_properties},
            fields={f.name: str(f.settings.get("type", "text")) for f in dataset.fields},
            vectors={v.name: VectorInfo(v.id, v.name, v.dimensions) for v in dataset.vectors_settings},
        )

    def question(self, name: str) -> QuestionInfo:
        try:
            return self.questions[name]
        except KeyError:
            raise _unknown("question", name, self.questions) from None

    def metadata_type(self, name: str) -> str:
        try:
            return self.metadata[name]
        except KeyError:
            raise _unknown("metadata property", name, self.metadata) from None

    def field_type(self, name: str) -> str:
        try:
            return self.fields[name]
        except KeyError:
            raise _unknown("field", name, self.fields) from None

    def vector(self, name: str) -> VectorInfo:
        try:
            return self.vectors[name]
        except KeyError:
            raise _unknown("vector", name, self.vectors) from None
