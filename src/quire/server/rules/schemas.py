"""Wire schemas of rules, their actions and their run logs.

Request bodies ignore unknown keys (as every quire request does). Webhook actions never show their
custom header values after creation (`"***"`), and a PATCH that sends `"***"` keeps a stored value.
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    field_validator,
    model_serializer,
)

from quire.server.delivery.policies import DeliveryPolicy
from quire.server.webhooks.schemas import Headers, PolicyIn, Url, UtcDatetime
from quire.server.wire import RequestModel, WireDatetime, WireModel

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
Filter = Annotated[
    str, Field(max_length=10_000, description="The search endpoint's query string; empty: all")
]
SamplingRate = Annotated[float, Field(ge=0.0, le=1.0)]
Interval = Annotated[int, Field(ge=1, le=7 * 24 * 3600, description="Seconds between runs")]
MAX_ACTIONS = 10


class WebhookActionIn(RequestModel):
    type: Literal["webhook"]
    id: uuid.UUID | None = Field(default=None, description="PATCH: the action to keep (its secret too)")
    url: Url = Field(description="Where batches are POSTed; a `?secret=` query parameter is kept as given")
    headers: Headers = Field(default=None, description="Custom headers; values are never shown again")
    policy: PolicyIn = Field(default="langsmith", description='"langsmith" (default), "argilla" or custom')


class AddToDatasetActionIn(RequestModel):
    type: Literal["add_to_dataset"]
    id: uuid.UUID | None = None
    dataset_id: uuid.UUID = Field(description="A dataset of the same workspace with compatible settings")
    include_suggestions: bool = False


ActionIn = Annotated[WebhookActionIn | AddToDatasetActionIn, Field(discriminator="type")]
Actions = Annotated[list[ActionIn], Field(min_length=1, max_length=MAX_ACTIONS)]


class RuleCreate(RequestModel):
    name: Name
    dataset_id: uuid.UUID
    filter: Filter = ""
    sampling_rate: SamplingRate = 1.0
    interval_seconds: Interval = 60
    enabled: bool = True
    backfill_from: UtcDatetime | None = Field(
        default=None, description="A past moment: the first window starts there instead of now"
    )
    actions: Actions


class RuleUpdate(RequestModel):
    """Every key optional, none nullable. `actions` replaces the list: an action sent with the `id`
    of an existing one keeps it (a webhook keeps its secret, and its headers unless given)."""

    name: Name | None = None
    filter: Filter | None = None
    sampling_rate: SamplingRate | None = None
    interval_seconds: Interval | None = None
    enabled: bool | None = None
    actions: Actions | None = None

    @field_validator("name", "filter", "sampling_rate", "interval_seconds", "enabled", "actions")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null")
        return value


class WebhookAction(WireModel):
    id: uuid.UUID
    type: Literal["webhook"] = "webhook"
    url: str
    headers: dict[str, str] = Field(description="Custom header names; values are always masked")
    policy: DeliveryPolicy
    secret: str = Field(description="Standard Webhooks signing secret of the batches (`whsec_…`)")
    enabled: bool
    disabled_reason: str | None = None


class AddToDatasetAction(WireModel):
    id: uuid.UUID
    type: Literal["add_to_dataset"] = "add_to_dataset"
    dataset_id: uuid.UUID | None
    include_suggestions: bool


class Rule(WireModel):
    id: uuid.UUID
    name: str
    dataset_id: uuid.UUID
    filter: str
    sampling_rate: float
    interval_seconds: int
    enabled: bool
    backfill_from: WireDatetime | None
    next_window_start: WireDatetime = Field(description="Where the next window starts")
    next_run_at: WireDatetime
    last_run_at: WireDatetime | None
    actions: list[WebhookAction | AddToDatasetAction]
    inserted_at: WireDatetime
    updated_at: WireDatetime


class ActionLog(WireModel):
    id: uuid.UUID
    type: str
    batches: int | None = Field(default=None, description="webhook: POSTs queued")
    runs: int | None = Field(default=None, description="webhook: runs in those POSTs")
    delivered: int | None = Field(default=None, description="webhook: POSTs delivered so far")
    failed: int | None = Field(default=None, description="webhook: POSTs that failed for good")
    pending: int | None = Field(default=None, description="webhook: POSTs not settled yet")
    dataset_id: uuid.UUID | None = Field(default=None, description="add_to_dataset: the target")
    copied: int | None = Field(default=None, description="add_to_dataset: records written")

    @model_serializer(mode="wrap")
    def _only_its_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        """A webhook's entry has no `copied`, a copy's no `batches`: keys that do not apply are left out."""
        data: dict[str, Any] = handler(self)
        return {key: value for key, value in data.items() if value is not None}


class RuleRun(WireModel):
    id: int
    rule_id: uuid.UUID
    trigger: Literal["schedule", "manual"]
    start_time: WireDatetime
    end_time: WireDatetime | None = Field(description="null for a failed run (its window did not move)")
    changed: int = Field(description="Records created, updated or answered in the window")
    matched: int = Field(description="Of those, how many the filter matched")
    sampled: int = Field(description="Of those, how many the sample kept: what the actions got")
    duration_ms: float
    error: str | None
    actions: list[ActionLog]
    inserted_at: WireDatetime


class RuleRuns(WireModel):
    items: list[RuleRun]
    total: int
