"""Workspaces: `rg.Workspace(name=...).create()`, `client.workspaces("name")`, membership."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from quire.client.client import Quire
from quire.client.errors import QuireError
from quire.client.resource import Resource, parse_uuid

if TYPE_CHECKING:
    from quire.client.datasets import Dataset
    from quire.client.users import User

__all__ = ["Workspace", "Workspaces"]


class Workspace(Resource):
    """A workspace: datasets live in one, and users see the datasets of the workspaces they belong to."""

    def __init__(
        self, name: str | None = None, id: uuid.UUID | str | None = None, client: Quire | None = None
    ):
        super().__init__(client)
        self.name = name
        self._id = parse_uuid(id)

    def __repr__(self) -> str:
        return f"Workspace(id={self._id}, name={self.name!r})"

    @classmethod
    def _from_wire(cls, client: Quire, wire: dict[str, Any]) -> Workspace:
        workspace = cls(name=wire["name"], client=client)
        workspace._set_common(wire)
        return workspace

    def create(self) -> Workspace:
        """Create it on the server (owners only); an `id` given beforehand is kept."""
        if not self.name:
            raise ValueError("a workspace needs a name")
        body: dict[str, Any] = {"name": self.name}
        if self._id is not None:
            body["id"] = str(self._id)
        self._set_common(self._client.http.post("/api/v1/workspaces", json=body))
        return self

    def get(self) -> Workspace:
        wire = self._client.http.get(f"/api/v1/workspaces/{self._require_id()}")
        self.name = wire["name"]
        self._set_common(wire)
        return self

    def delete(self) -> None:
        """Delete it (409 `ConflictError` while it still holds datasets)."""
        self._client.http.delete(f"/api/v1/workspaces/{self._require_id()}")

    def exists(self) -> bool:
        return self._id is not None and any(w.id == self._id for w in self._client.workspaces)

    # ------------------------------------------------------------ members and datasets

    @property
    def users(self) -> list[User]:
        from quire.client.users import User

        items = self._client.http.get(f"/api/v1/workspaces/{self._require_id()}/users")["items"]
        return [User._from_wire(self._client, item) for item in items]

    def add_user(self, user: User | str) -> User:
        """Add a user (a `User` or a username) to the workspace."""
        member = self._resolve_user(user)
        return member.add_to_workspace(self)

    def remove_user(self, user: User | str) -> User:
        member = self._resolve_user(user)
        return member.remove_from_workspace(self)

    @property
    def datasets(self) -> list[Dataset]:
        """The datasets of this workspace (settings not loaded; call `.get()` on one for them)."""
        from quire.client.datasets import Dataset

        items = self._client.http.get("/api/v1/me/datasets", params={"workspace_id": str(self._require_id())})
        return [Dataset._from_wire(self._client, item, workspace=self) for item in items["items"]]

    def list_datasets(self) -> list[Dataset]:
        return self.datasets

    def _resolve_user(self, user: User | str) -> User:
        if not isinstance(user, str):
            return user
        found = self._client.users(user)
        if found is None:
            raise QuireError(f"user {user!r} not found")
        return found


class Workspaces:
    """`client.workspaces`: the workspaces the client's user belongs to (all of them for owners)."""

    def __init__(self, client: Quire) -> None:
        self._client = client

    def __call__(self, name: str | None = None, id: uuid.UUID | str | None = None) -> Workspace | None:
        """A workspace by name or by id, or None if there is none."""
        if name is None and id is None:
            raise ValueError("give a workspace name or id")
        wanted = parse_uuid(id)
        for workspace in self.list():
            if (wanted is not None and workspace.id == wanted) or (wanted is None and workspace.name == name):
                return workspace
        return None

    def list(self) -> list[Workspace]:
        items = self._client.http.get("/api/v1/me/workspaces")["items"]
        return [Workspace._from_wire(self._client, item) for item in items]

    def __iter__(self) -> Iterator[Workspace]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def __getitem__(self, index: int) -> Workspace:
        return self.list()[index]

    def add(self, workspace: Workspace) -> Workspace:
        workspace._client = self._client
        return workspace.create()

    @property
    def default(self) -> Workspace:
        """The first workspace the user belongs to (the server creates one called `default`)."""
        workspaces = self.list()
        if not workspaces:
            raise QuireError("this user belongs to no workspace: create one (or ask an owner to add you)")
        return workspaces[0]
