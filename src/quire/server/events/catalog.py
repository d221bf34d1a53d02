"""The events quire emits (seed 000), and the envelope they travel in."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

DATASET_EVENTS: Final = ("dataset.created", "dataset.updated", "dataset.deleted", "dataset.published")
RECORD_EVENTS: Final = ("record.created", "record.updated", "record.deleted", "record.completed")
RESPONSE_EVENTS: Final = ("response.created", "response.updated", "response.deleted")
EVENT_TYPES: Final[tuple[str, ...]] = DATASET_EVENTS + RECORD_EVENTS + RESPONSE_EVENTS
PING: Final = "ping"
PAYLOAD_VERSION: Final = 1


def envelope_timestamp(moment: datetime) -> str:
    """`2024-09-26T14:17:20.488053Z`, as Argilla sends it."""
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


def envelope(event_type: str, occurred_at: datetime | str, data: Any) -> dict[str, Any]:
    """`occurred_at` as a moment, or as the envelope's timestamp text already."""
    return {
        "type": event_type,
        "version": PAYLOAD_VERSION,
        "timestamp": occurred_at if isinstance(occurred_at, str) else envelope_timestamp(occurred_at),
        "data": data,
    }
