"""`Record`: one item of a dataset, with its fields, metadata, vectors, suggestions and responses.

`record.id` is the caller's id (the server's `external_id`); logging a record with the same `id`
again updates it. A record without an id gets a random one the first time it is logged, kept on the
object, so logging the same object twice updates instead of duplicating. `record._server_id` is the
server's UUID.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from quire.client.records.responses import RecordResponses, Response
from quire.client.records.suggestions import RecordSuggestions, Suggestion

if TYPE_CHECKING:
    from quire.client.datasets import Dataset

__all__ = ["Record"]


class Record:
    """A record. At least one of `fields`, `metadata`, `vectors`, `responses`, `suggestions` is
    needed, and an `id` when there are no fields (an update of an existing record)."""

    def __init__(
        self,
        id: str | uuid.UUID | None = None,
        fields: Mapping[str, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        vectors: Mapping[str, Any] | None = None,
        responses: Iterable[Response] | None = None,
        suggestions: Iterable[Suggestion] | None = None,
        _server_id: uuid.UUID | str | None = None,
        _dataset: Dataset | None = None,
    ) -> None:
        if (
            fields is None
            and metadata is None
            and vectors is None
            and responses is None
            and suggestions is None
        ):
            raise ValueError("a Record needs fields, metadata, vectors, responses or suggestions")
        if not fields and id is None and _server_id is None:
            raise ValueError("a Record without fields needs an id (it can only update an existing record)")
        self._external_id: str | None = None if id is None else str(id)
        # the server's id as given (a UUID, or its text straight from a response: parsed on first use)
        self._server_ref: uuid.UUID | str | None = _server_id
        self._dataset = _dataset
        self.fields: dict[str, Any] = dict(fields or {})
        self._metadata: dict[str, Any] = dict(metadata or {})
        self._vectors: dict[str, Any] = dict(vectors or {})
        self._suggestions = RecordSuggestions(suggestions, self)
        self._responses = RecordResponses(responses, self)
        self.status: str | None = None
        self.inserted_at: datetime | None = None
        self.updated_at: datetime | None = None

    def __repr__(self) -> str:
        return (
            f"Record(id={self.id!r}, status={self.status!r}, fields={self.fields!r}, metadata={self._metadata!r}, "
            f"suggestions={self._suggestions!r}, responses={self._responses!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Record):
            return NotImplemented
        return self.to_dict() == other.to_dict()

    __hash__ = None  # type: ignore[assignment]

    # ------------------------------------------------------------ attributes

    @property
    def id(self) -> str | None:
        return self._external_id

    @id.setter
    def id(self, value: str | uuid.UUID | None) -> None:
        self._external_id = None if value is None else str(value)

    @property
    def _server_id(self) -> uuid.UUID | None:
        """The server's UUID of the record (None until it was logged or read from a dataset)."""
        ref = self._server_ref
        if ref is None or isinstance(ref, uuid.UUID):
            return ref
        parsed = uuid.UUID(ref)
        self._server_ref = parsed
        return parsed

    @_server_id.setter
    def _server_id(self, value: uuid.UUID | str | None) -> None:
        self._server_ref = value

    @property
    def dataset(self) -> Dataset | None:
        return self._dataset

    @dataset.setter
    def dataset(self, value: Dataset | None) -> None:
        self._dataset = value

    @property
    def metadata(self) -> dict[str, Any]:
        return self._metadata

    @metadata.setter
    def metadata(self, value: Mapping[str, Any] | None) -> None:
        self._metadata = dict(value or {})

    @property
    def vectors(self) -> dict[str, Any]:
        return self._vectors

    @vectors.setter
    def vectors(self, value: Mapping[str, Any] | None) -> None:
        self._vectors = dict(value or {})

    @property
    def suggestions(self) -> RecordSuggestions:
        return self._suggestions

    @property
    def responses(self) -> RecordResponses:
        return self._responses

    # ------------------------------------------------------------ plain dicts

    def to_dict(self) -> dict[str, Any]:
        """`{"id", "fields", "metadata", "suggestions", "responses", "vectors", "status", "_server_id"}`
        with suggestions as `{question: {value, score, agent}}` and responses as
        `{question: [{value, user_id, status}]}`. `records.log` accepts this shape back."""
        return {
            "id": self.id,
            "fields": dict(self.fields),
            "metadata": dict(self._metadata),
            "suggestions": self._suggestions.to_dict(),
            "responses": self._responses.to_dict(),
            "vectors": {k: list(v) for k, v in self._vectors.items()},
            "status": self.status,
            "_server_id": str(self._server_ref) if self._server_ref is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], dataset: Dataset | None = None) -> Record:
        """The inverse of `to_dict`."""
        suggestions = [
            Suggestion(
                question,
                value["value"],
                score=value.get("score"),
                agent=value.get("agent"),
                type=value.get("type"),
            )
            for question, value in (data.get("suggestions") or {}).items()
            if isinstance(value, Mapping) and value.get("value") is not None
        ]
        responses = [
            Response(question, item.get("value"), user_id=item["user_id"], status=item.get("status"))
            for question, items in (data.get("responses") or {}).items()
            for item in items
        ]
        record = cls(
            id=data.get("id"),
            fields=data.get("fields") or {},
            metadata=data.get("metadata") or {},
            vectors=data.get("vectors") or {},
            suggestions=suggestions,
            responses=responses,
            _server_id=data.get("_server_id"),
            _dataset=dataset,
        )
        record.status = data.get("status")
        return record
