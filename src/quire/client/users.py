"""Users: `rg.User(username=..., password=..., role=...).create()`, `client.users("name")`, `client.me`."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from quire.client.client import Quire
from quire.client.resource import Resource, parse_uuid

if TYPE_CHECKING:
    from quire.client.workspaces import Workspace

__all__ = ["Role", "User", "Users"]

Role = Literal["owner", "admin", "annotator"]


class User(Resource):
    """A user. `api_key` is known right after `create()` (quire stores keys hashed and returns a
    new user's key once) and on `client.me`; elsewhere it is None."""

    def __init__(
        self,
        username: str | None = None,
        first_name: str | None = None,
        last_name: str | None = None,
        role: Role | None = None,
        password: str | None = None,
        id: uuid.UUID | str | None = None,
        client: Quire | None = None,
        *,
        api_key: str | None = None,
    ) -> None:
        super().__init__(client)
        self.username = username
        self.first_name = first_name or username
        self.last_name = last_name
        self.role: Role = role or "annotator"
        self.password = password
        self.api_key = api_key
        self._id = parse_uuid(id)

    def __repr__(self) -> str:
        return f"User(id={self._id}, username={self.username!r}, role={self.role!r})"

    @classmethod
    def _from_wire(cls, client: Quire, wire: dict[str, Any]) -> User:
        user = cls(
            username=wire["username"],
            first_name=wire.get("first_name"),
            last_name=wire.get("last_name"),
            role=wire.get("role"),
            client=client,
            api_key=wire.get("api_key"),
        )
        user._set_common(wire)
        return user

    def create(self) -> User:
        """Create the user (owners only). Sets `id` and `api_key`."""
        if not self.username or not self.password:
            raise ValueError("a new user needs a username and a password (8 characters or more)")
        body: dict[str, Any] = {
            "username": self.username,
            "first_name": self.first_name or self.username,
            "last_name": self.last_name,
            "role": self.role,
            "password": self.password,
        }
        if self._id is not None:
            body["id"] = str(self._id)
        if self.api_key is not None:
            body["api_key"] = self.api_key
        wire = self._client.http.post("/api/v1/users", json=body)
        self._set_common(wire)
        self.api_key = wire.get("api_key") or self.api_key
        return self

    def get(self) -> User:
        wire = self._client.http.get(f"/api/v1/users/{self._require_id()}")
        self.username, self.first_name = wire["username"], wire.get("first_name")
        self.last_name, self.role = wire.get("last_name"), wire["role"]
        self._set_common(wire)
        return self

    def update(self) -> User:
        """Send the changed username, names, role and password (if set)."""
        body: dict[str, Any] = {
            "username": self.username,
            "first_name": self.first_name,
            "last_name": self.last_name,
            "role": self.role,
        }
        if self.password:
            body["password"] = self.password
        self._set_common(self._client.http.patch(f"/api/v1/users/{self._require_id()}", json=body))
        return self

    def delete(self) -> None:
        self._client.http.delete(f"/api/v1/users/{self._require_id()}")

    def add_to_workspace(self, workspace: Workspace) -> User:
        self._client.http.post(
            f"/api/v1/workspaces/{workspace._require_id()}/users", json={"user_id": str(self._require_id())}
        )
        return self

    def remove_from_workspace(self, workspace: Workspace) -> User:
        self._client.http.delete(f"/api/v1/workspaces/{workspace._require_id()}/users/{self._require_id()}")
        return self

    @property
    def workspaces(self) -> list[Workspace]:
        from quire.client.workspaces import Workspace

        items = self._client.http.get(f"/api/v1/users/{self._require_id()}/workspaces")["items"]
        return [Workspace._from_wire(self._client, item) for item in items]


class Users:
    """`client.users` (owners only)."""

    def __init__(self, client: Quire) -> None:
        self._client = client

    def __call__(self, username: str | None = None, id: uuid.UUID | str | None = None) -> User | None:
        """A user by username or id, or None."""
        if username is None and id is None:
            raise ValueError("give a username or an id")
        wanted = parse_uuid(id)
        for user in self.list():
            if (wanted is not None and user.id == wanted) or (wanted is None and user.username == username):
                return user
        return None

    def list(self, workspace: Workspace | None = None) -> list[User]:
        if workspace is not None:
            return workspace.users
        items = self._client.http.get("/api/v1/users")["items"]
        return [User._from_wire(self._client, item) for item in items]

    def __iter__(self) -> Iterator[User]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def __getitem__(self, index: int) -> User:
        return self.list()[index]

    def add(self, user: User) -> User:
        user._client = self._client
        return user.create()
