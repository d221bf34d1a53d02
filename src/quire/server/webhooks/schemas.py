"""Wire schemas of webhooks and their deliveries.

`Webhook` is Argilla's object (`id, url, secret, events, enabled, description, inserted_at,
updated_at`) plus quire's keys. Request bodies ignore unknown keys: the argilla SDK PATCHes its whole
model back, `id`, `secret` and timestamps included, and those are not changes.
"""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field, StringConstraints, field_validator

from quire.server.delivery.policies import DeliveryPolicy
from quire.server.events.catalog import EVENT_TYPES
from quire.server.models import DeliveryStatus
from quire.server.wire import RequestModel, WireDatetime, WireModel

MAX_URL_LENGTH = 2048
MAX_HEADERS = 20
MAX_HEADER_VALUE_LENGTH = 4096
MASK = "***"
"""What header values look like on the way out, and what a PATCH sends to keep a stored value."""

# header names a receiver must get from quire itself, never from a webhook's configuration
RESERVED_HEADERS = frozenset(
    {
        "content-type", "content-length", "content-encoding", "host", "connection", "keep-alive",
        "transfer-encoding", "te", "trailer", "upgrade", "expect", "proxy-connection",
    }
)  # fmt: skip
_TOKEN = re.compile(r"^[!#$%&'*+\-.^_`|~0-9A-Za-z]{1,100}$")


def _allowed_list() -> str:
    return ", ".join(EVENT_TYPES)


def check_url(url: str) -> str:
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"the URL must start with http:// or https://, got {url!r}")
    if not parts.hostname:
        raise ValueError(f"the URL has no host: {url!r}")
    if any(c.isspace() for c in url):
        raise ValueError("the URL must not contain whitespace")
    if len(url) > MAX_URL_LENGTH:
        raise ValueError(f"the URL is longer than {MAX_URL_LENGTH} characters")
    try:
        _ = parts.port
    except ValueError:
        raise ValueError(f"the URL has an invalid port: {url!r}") from None
    return url


def check_events(events: list[str]) -> list[str]:
    if not events:
        raise ValueError(f"subscribe to at least one event; allowed: {_allowed_list()}")
    unknown = [e for e in events if e not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event type(s) {', '.join(map(repr, unknown))}; allowed: {_allowed_list()}")
    duplicated = sorted({e for e in events if events.count(e) > 1})
    if duplicated:
        raise ValueError(f"event types must be unique, repeated: {', '.join(duplicated)}")
    return events


def check_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    if headers is None:
        return None
    if len(headers) > MAX_HEADERS:
        raise ValueError(f"at most {MAX_HEADERS} custom headers, got {len(headers)}")
    seen: set[str] = set()
    for name, value in headers.items():
        lowered = name.lower()
        if not _TOKEN.match(name):
            raise ValueError(f"invalid header name {name!r}: use letters, digits and !#$%&'*+-.^_`|~")
        if lowered in RESERVED_HEADERS or lowered.startswith("webhook-"):
            raise ValueError(f"header {name!r} is set by quire and cannot be configured")
        if lowered in seen:
            raise ValueError(f"header {name!r} is given twice (names are case-insensitive)")
        seen.add(lowered)
        if any(c in value for c in "\r\n\0"):
            raise ValueError(f"the value of header {name!r} contains a line break or NUL")
        if len(value) > MAX_HEADER_VALUE_LENGTH:
            raise ValueError(f"the value of header {name!r} is longer than {MAX_HEADER_VALUE_LENGTH}")
    return headers


def aware(moment: datetime) -> datetime:
    """Naive datetimes in requests are UTC (Argilla's wire format has no offset)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+01:00 is in year 0 in UTC
        raise ValueError(f"{moment.isoformat()} is out of range in UTC (years 1 to 9999)") from None


Url = Annotated[str, AfterValidator(check_url)]
Events = Annotated[list[str], AfterValidator(check_events)]
Headers = Annotated[dict[str, str] | None, AfterValidator(check_headers)]
Description = Annotated[str, StringConstraints(min_length=1, max_length=1000)]
PolicyIn = Annotated[
    str | dict[str, Any],
    Field(description='"argilla" (default), "langsmith", or a custom policy object (see delivery policies)'),
]
UtcDatetime = Annotated[datetime, AfterValidator(aware)]


class WebhookCreate(RequestModel):
    url: Url
    events: Events
    description: Description | None = None
    enabled: bool = True
    headers: Headers = Field(default=None, description="Custom HTTP headers sent with every delivery")
    policy: PolicyIn = "argilla"
    workspace_id: uuid.UUID | None = Field(default=None, description="Only events of this workspace")
    dataset_id: uuid.UUID | None = Field(default=None, description="Only events of this dataset")


class WebhookUpdate(RequestModel):
    """Every key is optional. `url`, `events`, `enabled` and `policy` cannot be null; `description`,
    `headers`, `workspace_id` and `dataset_id` can (null clears them). A header value of `"***"`
    keeps that header's stored value, so a read-modify-write round trip does not erase it."""

    url: Url | None = None
    events: Events | None = None
    enabled: bool | None = None
    description: Description | None = None
    headers: Headers = None
    policy: PolicyIn | None = None
    workspace_id: uuid.UUID | None = None
    dataset_id: uuid.UUID | None = None

    @field_validator("url", "events", "enabled", "policy")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        if value is None:
            raise ValueError("cannot be null")
        return value

    def given(self, name: str) -> bool:
        return name in self.model_fields_set


class Webhook(WireModel):
    """Argilla's webhook plus quire's keys. `headers` shows names only (values are `"***"`)."""

    id: uuid.UUID
    url: str
    secret: str
    events: list[str]
    enabled: bool
    description: str | None = None
    inserted_at: WireDatetime
    updated_at: WireDatetime
    headers: dict[str, str] = Field(description="Custom header names; values are always masked")
    policy: DeliveryPolicy
    workspace_id: uuid.UUID | None = None
    dataset_id: uuid.UUID | None = None
    disabled_reason: str | None = None
    consecutive_failures: int = 0
    previous_secret_expires_at: WireDatetime | None = Field(
        default=None, description="While set, the previous secret still signs deliveries too"
    )


class RotateSecret(RequestModel):
    grace_period_seconds: int = Field(
        default=24 * 3600, ge=0, le=30 * 24 * 3600, description="How long the old secret keeps signing"
    )


class Replay(RequestModel):
    since: UtcDatetime
    until: UtcDatetime | None = None
    event_types: list[str] | None = None

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else check_events(list(dict.fromkeys(value)))


class ReplayResult(WireModel):
    queued: int = Field(description="Deliveries queued in all (created + reset)")
    created: int = Field(description="Deliveries created for stored events this webhook had not received")
    reset: int = Field(description="Existing deliveries put back to pending")


class Delivery(WireModel):
    id: uuid.UUID
    webhook_id: uuid.UUID
    event_id: int | None
    event_type: str
    msg_id: str = Field(description="The `webhook-id` header: the same on every attempt and redelivery")
    status: DeliveryStatus
    attempts: int
    next_attempt_at: WireDatetime
    last_status_code: int | None
    last_error: str | None
    delivered_at: WireDatetime | None
    inserted_at: WireDatetime
    updated_at: WireDatetime


class DeliveryAttempt(WireModel):
    number: int
    started_at: WireDatetime
    duration_ms: float
    status_code: int | None
    outcome: str
    error: str | None
    response_snippet: str | None
    worker: str | None


class DeliveryDetail(Delivery):
    attempt_history: list[DeliveryAttempt] = Field(description="Every attempt, oldest first")
    body: dict[str, Any] | None = Field(description="The JSON body the receiver gets")


class DeliveriesPage(WireModel):
    items: list[Delivery]
    total: int
