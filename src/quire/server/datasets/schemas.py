from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, Field, StringConstraints

from quire.server.json_depth import bounded_depth
from quire.server.models import DatasetStatus
from quire.server.wire import RequestModel, WireDatetime, WireModel

DatasetName = Annotated[str, StringConstraints(min_length=1, max_length=200)]
Guidelines = Annotated[str, StringConstraints(min_length=1, max_length=10000)]


class Distribution(RequestModel):
    strategy: Literal["overlap"] = "overlap"
    # bounded by the 32-bit integers the stores compare it with (a larger value was a 500)
    min_submitted: int = Field(default=1, ge=1, le=2**31 - 1)


class Dataset(WireModel):
    id: uuid.UUID
    name: str
    guidelines: str | None = None
    allow_extra_metadata: bool
    status: DatasetStatus
    distribution: dict[str, Any]
    metadata: dict[str, Any] | None = Field(default=None, validation_alias="metadata_")
    workspace_id: uuid.UUID
    last_activity_at: WireDatetime
    inserted_at: WireDatetime
    updated_at: WireDatetime


DatasetMetadata = Annotated[dict[str, Any], AfterValidator(bounded_depth)]


class DatasetCreate(RequestModel):
    name: DatasetName
    guidelines: Guidelines | None = None
    allow_extra_metadata: bool = True
    distribution: Distribution = Field(default_factory=Distribution)
    metadata: DatasetMetadata | None = None
    workspace_id: uuid.UUID


class DatasetUpdate(RequestModel):
    """Absent keys are left alone; `name`, `allow_extra_metadata` and `distribution` cannot be null."""

    name: DatasetName | None = None
    guidelines: Guidelines | None = None
    allow_extra_metadata: bool | None = None
    distribution: Distribution | None = None
    metadata: DatasetMetadata | None = None


class ResponseCounts(WireModel):
    submitted: int = 0
    discarded: int = 0
    draft: int = 0


class UserProgress(WireModel):
    username: str
    completed: ResponseCounts = Field(default_factory=ResponseCounts)
    pending: ResponseCounts = Field(default_factory=ResponseCounts)


class DatasetProgress(WireModel):
    total: int
    completed: int
    pending: int
    users: list[UserProgress] = Field(default_factory=list)


class UsersProgress(WireModel):
    users: list[UserProgress]
