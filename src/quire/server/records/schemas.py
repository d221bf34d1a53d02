"""Wire schemas of records, suggestions, responses and vectors (request side).

Responses are built as plain dicts by `records.serialize` on the hot paths (bulk writes, pages of
records); the pydantic models here describe them for the OpenAPI document.
"""

from __future__ import annotations

import math
import uuid
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, StringConstraints, field_validator

from quire.server.models import RecordStatus, ResponseStatus, SuggestionType
from quire.server.wire import RequestModel, WireDatetime, WireModel

MAX_CHAT_MESSAGES = 500
AGENT_PATTERN = r"^[a-zA-Z0-9\-_:\.\/\s]*[a-zA-Z0-9][a-zA-Z0-9\-_:\.\/\s]*$"
Agent = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=AGENT_PATTERN)]
ExternalId = Annotated[str, StringConstraints(min_length=1, max_length=255)]


def _finite(value: float, what: str) -> float:
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value}")
    return value


class SuggestionIn(RequestModel):
    """A suggestion for one question. The SDK also sends `question_name` and a client-side `id`
    (the same for every suggestion of a run): the id is ignored, the name is a fallback when
    `question_id` is missing. That one of them is given, and a value, is checked with the question
    (`RecordRules.suggestions`), so the error names the record's position."""

    question_id: uuid.UUID | None = None
    question_name: str | None = None
    value: Any
    score: float | list[float] | None = None
    agent: Agent | None = None
    type: SuggestionType | None = None

    @field_validator("score")
    @classmethod
    def _score_in_unit_interval(cls, score: float | list[float] | None) -> float | list[float] | None:
        if score is None or (score.__class__ is float and 0.0 <= score <= 1.0):  # NaN fails this
            return score  # the usual case, decided without building a list (bulk writes run this a lot)
        for item in score if isinstance(score, list) else ([] if score is None else [score]):
            _finite(item, "score")
            if not 0 <= item <= 1:
                raise ValueError(f"score must be between 0 and 1, got {item}")
        return score


class ResponseIn(RequestModel):
    """A user's response inside a record upsert: `values` is `{question_name: {"value": V}}`."""

    user_id: uuid.UUID
    status: ResponseStatus
    values: dict[str, dict[str, Any]] | None = None


class RecordUpsertIn(RequestModel):
    """One item of `PUT /datasets/{id}/records/bulk`. Matched to an existing record of the dataset by
    `id`, then `external_id`; otherwise created (with `id` if given). Absent or null `fields` and
    `metadata` keep the stored ones; suggestions and vectors are upserted per question / name (the
    others are kept); responses are upserted per user."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    id: uuid.UUID | None = None
    external_id: ExternalId | None = None
    fields: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    suggestions: list[SuggestionIn] | None = None
    responses: list[ResponseIn] | None = None
    vectors: dict[str, list[float]] | None = None

    @field_validator("vectors")
    @classmethod
    def _finite_vectors(cls, vectors: dict[str, list[float]] | None) -> dict[str, list[float]] | None:
        if not vectors:  # the SDK sends `{}` with every record
            return vectors
        for name, values in vectors.items():
            for value in values:
                _finite(value, f"vector {name!r} values")
        return vectors


class RecordCreateIn(RecordUpsertIn):
    """One item of `POST /datasets/{id}/records/bulk` (create only)."""


class RecordsBulkUpsert(RequestModel):
    items: list[RecordUpsertIn] = Field(min_length=1)


class RecordsBulkCreate(RequestModel):
    items: list[RecordCreateIn] = Field(min_length=1)


class RecordUpdate(RequestModel):
    """`PATCH /records/{id}`: given keys replace the stored ones; `suggestions` replaces them all."""

    model_config = ConfigDict(extra="ignore", coerce_numbers_to_str=True)

    fields: dict[str, Any] | None = None
    metadata: dict[str, Any] | None = None
    suggestions: list[SuggestionIn] | None = None
    vectors: dict[str, list[float]] | None = None


class ResponseCreate(RequestModel):
    status: ResponseStatus
    values: dict[str, dict[str, Any]] | None = None


class ResponseUpdate(ResponseCreate):
    pass


class ResponseBulkItem(ResponseCreate):
    record_id: uuid.UUID


class ResponsesBulkCreate(RequestModel):
    items: list[ResponseBulkItem] = Field(min_length=1, max_length=100)


# ---------------------------------------------------------------- output (documentation)


class SuggestionOut(WireModel):
    id: uuid.UUID
    question_id: uuid.UUID
    type: SuggestionType | None = None
    value: Any
    agent: str | None = None
    score: float | list[float] | None = None
    inserted_at: WireDatetime
    updated_at: WireDatetime


class ResponseOut(WireModel):
    id: uuid.UUID
    values: dict[str, Any] | None = None
    status: ResponseStatus
    record_id: uuid.UUID
    user_id: uuid.UUID
    inserted_at: WireDatetime
    updated_at: WireDatetime


class RecordOut(WireModel):
    id: uuid.UUID
    status: RecordStatus
    fields: dict[str, Any]
    metadata: dict[str, Any] | None = None
    external_id: str | None = None
    responses: list[ResponseOut] | None = None
    suggestions: list[SuggestionOut] | None = None
    vectors: dict[str, list[float]] | None = None
    dataset_id: uuid.UUID
    inserted_at: WireDatetime
    updated_at: WireDatetime


class RecordsPage(WireModel):
    items: list[RecordOut]
    total: int | None = None


class SearchHit(WireModel):
    record: RecordOut
    query_score: float | None = None


class SearchResults(WireModel):
    items: list[SearchHit]
    total: int


class ResponseBulkResult(WireModel):
    item: ResponseOut | None = None
    error: dict[str, Any] | None = None


class ResponsesBulk(WireModel):
    items: list[ResponseBulkResult]


ResponseStatusLiteral = Literal["draft", "submitted", "discarded"]
