"""`Quire`: the connection to a quire server, and the process-wide default client.

Like argilla's `Argilla`, the last client created becomes the default: resources built without
`client=` (`rg.Dataset(...)`, `rg.Workspace(...)`, `rg.log(...)`) use it, and one is created from
`QUIRE_API_URL` / `QUIRE_API_KEY` when none exists yet.
"""

from __future__ import annotations

import os
import threading
from functools import cached_property
from typing import TYPE_CHECKING, Any

import httpx

from quire.client.http import DEFAULT_RETRIES, DEFAULT_TIMEOUT, DEFAULT_URL, HTTPClient

if TYPE_CHECKING:
    from quire.client.datasets import Datasets
    from quire.client.users import User, Users
    from quire.client.webhooks import Webhooks
    from quire.client.workspaces import Workspaces

__all__ = ["Quire", "default_client"]

_default_lock = threading.Lock()


class Quire:
    """A client for one quire server.

        client = rg.Quire(api_url="http://127.0.0.1:6900", api_key="qk_…")
        client.workspaces, client.users, client.datasets, client.webhooks, client.me

    `api_url` and `api_key` default to `QUIRE_API_URL` (else `http://localhost:6900`) and
    `QUIRE_API_KEY`. `timeout` is in seconds per request (or an `httpx.Timeout`); `retries` is how
    many more attempts a failed request gets when retrying is safe (see `quire.client.http`).
    Nothing is sent until the first call that needs the server.
    """

    _default: Quire | None = None

    def __init__(
        self,
        api_url: str | None = None,
        api_key: str | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        *,
        headers: dict[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = api_url or os.environ.get("QUIRE_API_URL") or DEFAULT_URL
        key = api_key if api_key is not None else os.environ.get("QUIRE_API_KEY")
        self.api_url = url.rstrip("/")
        self.http = HTTPClient(
            self.api_url, key, timeout=timeout, retries=retries, headers=headers, transport=transport
        )
        with _default_lock:
            Quire._default = self

    def __repr__(self) -> str:
        return f"Quire(api_url={self.api_url!r})"

    def __enter__(self) -> Quire:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool (the client cannot be used afterwards)."""
        self.http.close()

    @property
    def workspaces(self) -> Workspaces:
        from quire.client.workspaces import Workspaces

        return Workspaces(self)

    @property
    def users(self) -> Users:
        from quire.client.users import Users

        return Users(self)

    @property
    def datasets(self) -> Datasets:
        from quire.client.datasets import Datasets

        return Datasets(self)

    @property
    def webhooks(self) -> Webhooks:
        from quire.client.webhooks import Webhooks

        return Webhooks(self)

    @cached_property
    def me(self) -> User:
        """The user this client's API key belongs to (fetched once)."""
        from quire.client.users import User

        return User._from_wire(self, self.http.get("/api/v1/me"))

    def server_info(self) -> dict[str, Any]:
        """`GET /api/v1/version` (the server's name and version)."""
        info: dict[str, Any] = self.http.get("/api/v1/version")
        return info


def default_client() -> Quire:
    """The last `Quire` created, or a new one from the environment if there is none."""
    with _default_lock:
        client = Quire._default
    return client if client is not None else Quire()
