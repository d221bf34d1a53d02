"""What every server-side resource (workspace, user, dataset, webhook) has in common."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from quire.client.client import Quire, default_client


def parse_datetime(value: Any) -> datetime | None:
    """Argilla's wire timestamps (ISO 8601, UTC, usually without an offset) as aware datetimes."""
    if value is None or isinstance(value, datetime):
        return value
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def parse_uuid(value: Any) -> uuid.UUID | None:
    if value is None or isinstance(value, uuid.UUID):
        return value
    return uuid.UUID(str(value))


class Resource:
    """A resource bound to a client. `id`, `inserted_at` and `updated_at` come from the server and
    are None until the resource was created or fetched."""

    def __init__(self, client: Quire | None = None) -> None:
        self._client = client or default_client()
        self._id: uuid.UUID | None = None
        self._inserted_at: datetime | None = None
        self._updated_at: datetime | None = None

    @property
    def client(self) -> Quire:
        return self._client

    @property
    def id(self) -> uuid.UUID | None:
        return self._id

    @property
    def inserted_at(self) -> datetime | None:
        return self._inserted_at

    @property
    def updated_at(self) -> datetime | None:
        return self._updated_at

    def _set_common(self, wire: dict[str, Any]) -> None:
        self._id = parse_uuid(wire.get("id"))
        self._inserted_at = parse_datetime(wire.get("inserted_at"))
        self._updated_at = parse_datetime(wire.get("updated_at"))

    def _require_id(self) -> uuid.UUID:
        if self._id is None:
            raise ValueError(f"{type(self).__name__} has no id: create() it or fetch it first")
        return self._id

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self) or self._id is None:
            return self is other
        return isinstance(other, Resource) and self._id == other._id

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._id)) if self._id is not None else id(self)
