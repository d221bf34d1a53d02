"""Webhooks (owners only): `rg.Webhook(url=..., events=[...]).create()`, `client.webhooks`.

quire signs deliveries with Standard Webhooks; `webhook.secret` is the key to verify them with.
Besides argilla's attributes, quire's webhooks take custom `headers` (values are write-only: they
read back as `"***"`), a delivery `policy` and a `dataset` / `workspace` scope.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from quire.client.client import Quire
from quire.client.errors import NotFoundError
from quire.client.resource import Resource, parse_datetime, parse_uuid

if TYPE_CHECKING:
    from quire.client.datasets import Dataset
    from quire.client.workspaces import Workspace

__all__ = ["EVENT_TYPES", "Webhook", "Webhooks"]

EVENT_TYPES = (
    "dataset.created",
    "dataset.updated",
    "dataset.deleted",
    "dataset.published",
    "record.created",
    "record.updated",
    "record.deleted",
    "record.completed",
    "response.created",
    "response.updated",
    "response.deleted",
)


class Webhook(Resource):
    """A subscription of `url` to `events` (see `EVENT_TYPES`)."""

    def __init__(
        self,
        url: str,
        events: list[str],
        description: str | None = None,
        client: Quire | None = None,
        *,
        enabled: bool = True,
        headers: Mapping[str, str] | None = None,
        policy: str | dict[str, Any] | None = None,
        dataset: Dataset | uuid.UUID | str | None = None,
        workspace: Workspace | uuid.UUID | str | None = None,
    ) -> None:
        super().__init__(client)
        self.url = url
        self.events = list(events)
        self.description = description
        self.enabled = enabled
        self.headers: dict[str, str] | None = dict(headers) if headers is not None else None
        self.policy = policy
        self._server_policy: Any = None
        self.dataset_id = _id_of(dataset)
        self.workspace_id = _id_of(workspace)
        self.secret: str | None = None
        self.disabled_reason: str | None = None
        self.previous_secret_expires_at: datetime | None = None

    def __repr__(self) -> str:
        return f"Webhook(id={self._id}, url={self.url!r}, events={self.events!r}, enabled={self.enabled})"

    @classmethod
    def _from_wire(cls, client: Quire, wire: dict[str, Any]) -> Webhook:
        webhook = cls(url=wire["url"], events=wire["events"], client=client)
        webhook._apply(wire)
        return webhook

    def _apply(self, wire: dict[str, Any]) -> None:
        self._set_common(wire)
        self.url = wire["url"]
        self.events = list(wire["events"])
        self.description = wire.get("description")
        self.enabled = bool(wire.get("enabled", True))
        self.secret = wire.get("secret")
        self.headers = dict(wire.get("headers") or {})
        self.policy = wire.get("policy")
        self._server_policy = self.policy
        self.dataset_id = parse_uuid(wire.get("dataset_id"))
        self.workspace_id = parse_uuid(wire.get("workspace_id"))
        self.disabled_reason = wire.get("disabled_reason")
        self.previous_secret_expires_at = parse_datetime(wire.get("previous_secret_expires_at"))

    def _body(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "url": self.url,
            "events": self.events,
            "description": self.description,
            "enabled": self.enabled,
            "dataset_id": str(self.dataset_id) if self.dataset_id else None,
            "workspace_id": str(self.workspace_id) if self.workspace_id else None,
        }
        if self.headers is not None:
            body["headers"] = self.headers
        if self.policy is not None and self.policy != self._server_policy:
            body["policy"] = self.policy  # the resolved policy read back is not sent again
        return body

    def create(self) -> Webhook:
        self._apply(self._client.http.post("/api/v1/webhooks", json=self._body()))
        return self

    def get(self) -> Webhook:
        self._apply(self._client.http.get(f"/api/v1/webhooks/{self._require_id()}"))
        return self

    def update(self) -> Webhook:
        """Send every attribute (masked header values `"***"` keep the stored ones)."""
        self._apply(self._client.http.patch(f"/api/v1/webhooks/{self._require_id()}", json=self._body()))
        return self

    def delete(self) -> None:
        self._client.http.delete(f"/api/v1/webhooks/{self._require_id()}")

    def enable(self) -> Webhook:
        """Re-enable a webhook that quire (or someone) disabled."""
        self._apply(self._client.http.post(f"/api/v1/webhooks/{self._require_id()}/enable"))
        return self

    def ping(self) -> None:
        """Send a signed `ping` event to the URL now."""
        self._client.http.request("POST", f"/api/v1/webhooks/{self._require_id()}/ping")

    def rotate_secret(self, grace_period_seconds: int = 24 * 3600) -> Webhook:
        """A new secret; the old one keeps signing too for `grace_period_seconds`."""
        body = {"grace_period_seconds": grace_period_seconds}
        self._apply(self._client.http.post(f"/api/v1/webhooks/{self._require_id()}/rotate-secret", json=body))
        return self

    def deliveries(
        self, *, status: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[dict[str, Any]]:
        """Recent deliveries, newest first (`status`: pending, delivering, succeeded, failed)."""
        params = {"status": status, "limit": limit, "offset": offset}
        page = self._client.http.get(f"/api/v1/webhooks/{self._require_id()}/deliveries", params=params)
        return list(page["items"])


class Webhooks:
    """`client.webhooks`."""

    def __init__(self, client: Quire) -> None:
        self._client = client

    def __call__(self, id: uuid.UUID | str) -> Webhook | None:
        """A webhook by id, or None (argilla's SDK cannot do this; quire serves the route)."""
        try:
            wire = self._client.http.get(f"/api/v1/webhooks/{parse_uuid(id)}")
        except NotFoundError:
            return None
        return Webhook._from_wire(self._client, wire)

    def list(self) -> list[Webhook]:
        return [
            Webhook._from_wire(self._client, w) for w in self._client.http.get("/api/v1/webhooks")["items"]
        ]

    def __iter__(self) -> Iterator[Webhook]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def __getitem__(self, index: int) -> Webhook:
        return self.list()[index]

    def add(self, webhook: Webhook) -> Webhook:
        webhook._client = self._client
        return webhook.create()


def _id_of(value: Any) -> uuid.UUID | None:
    if value is None:
        return None
    if isinstance(value, uuid.UUID):
        return value
    if hasattr(value, "id"):
        return parse_uuid(value.id)
    return parse_uuid(value)
