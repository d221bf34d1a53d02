"""`WebhookEvent`: a verified delivery, typed."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from quire.client.errors import QuireError

__all__ = ["WebhookEvent", "WebhookVerificationError", "parse_event"]


class WebhookVerificationError(QuireError):
    """A webhook delivery that must not be trusted. `reason` says why: `missing_header`,
    `invalid_timestamp`, `timestamp_too_old`, `timestamp_in_future`, `invalid_secret`,
    `no_matching_signature`, or `invalid_payload` (signed, but not a webhook event body)."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.message = message
        self.reason = reason


@dataclass(frozen=True)
class WebhookEvent:
    """One event as quire delivers it: `{"type", "version", "timestamp", "data"}` plus the
    message id of the delivery (`webhook-id`, the same on every retry: use it to skip duplicates).

    `data` is the event's object: for `record.*` the record (with its `dataset`), for `response.*`
    the response (with its `record` and `user`), for `dataset.*` the dataset."""

    type: str
    version: int
    timestamp: datetime
    data: dict[str, Any]
    id: str | None = None
    signed_at: datetime | None = None
    """When this attempt was signed (`webhook-timestamp`)."""
    raw: bytes = field(default=b"", repr=False)

    @property
    def resource(self) -> str:
        """`record`, `response`, `dataset` or `ping`."""
        return self.type.split(".", 1)[0]

    @property
    def action(self) -> str:
        """`created`, `updated`, `deleted`, `completed`, `published` ('' for a ping)."""
        return self.type.partition(".")[2]

    @property
    def record(self) -> dict[str, Any] | None:
        """The record of a `record.*` or `response.*` event."""
        if self.resource == "record":
            return self.data
        record = self.data.get("record")
        return record if isinstance(record, dict) else None

    @property
    def dataset(self) -> dict[str, Any] | None:
        """The dataset the event is about (`dataset.*`), or its record's dataset."""
        if self.resource == "dataset":
            return self.data
        record = self.record
        dataset = (record or {}).get("dataset")
        return dataset if isinstance(dataset, dict) else None

    @property
    def dataset_id(self) -> uuid.UUID | None:
        dataset = self.dataset
        return uuid.UUID(str(dataset["id"])) if dataset and dataset.get("id") else None

    @property
    def record_id(self) -> uuid.UUID | None:
        record = self.record
        return uuid.UUID(str(record["id"])) if record and record.get("id") else None


def _timestamp(value: Any) -> datetime:
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value, UTC)
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_event(
    body: bytes | str | Mapping[str, Any], *, msg_id: str | None = None, signed_at: int | None = None
) -> WebhookEvent:
    """A `WebhookEvent` from an event body (bytes, text, or already decoded)."""
    raw = body.encode() if isinstance(body, str) else body if isinstance(body, bytes) else b""
    try:
        payload = body if isinstance(body, Mapping) else json.loads(raw)
        if not isinstance(payload, Mapping):
            raise TypeError("the body is not a JSON object")
        data = payload.get("data")
        event = WebhookEvent(
            type=str(payload["type"]),
            version=int(payload.get("version", 1)),
            timestamp=_timestamp(payload["timestamp"]),
            data=dict(data) if isinstance(data, Mapping) else {},
            id=msg_id,
            signed_at=datetime.fromtimestamp(signed_at, UTC) if signed_at is not None else None,
            raw=raw,
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise WebhookVerificationError(
            f"the body is not a webhook event ({{type, version, timestamp, data}}): {exc}",
            reason="invalid_payload",
        ) from None
    return event
