"""Datasets: `rg.Dataset(name=..., settings=..., workspace=...).create()`, `client.datasets("name")`,
and `rg.log(name, records)`."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from quire.client.client import Quire, default_client
from quire.client.errors import NotFoundError
from quire.client.records.collection import DatasetRecords
from quire.client.records.record import Record
from quire.client.resource import Resource, parse_datetime, parse_uuid
from quire.client.settings import Field, Property, Question, Settings, TaskDistribution
from quire.client.settings.remote import create_properties, dataset_patch, fetch_settings, update_properties
from quire.client.workspaces import Workspace

__all__ = ["Dataset", "Datasets", "log"]

WorkspaceSpec = Workspace | str | uuid.UUID | None


class Dataset(Resource):
    """A dataset: settings (fields, questions, …) plus records.

    `create()` creates it with its settings and publishes it (records can then be logged);
    `create(publish=False)` leaves it a draft to `publish()` later. A name that is taken in the
    workspace raises `ConflictError`.
    """

    def __init__(
        self,
        name: str | None = None,
        workspace: WorkspaceSpec = None,
        settings: Settings | None = None,
        client: Quire | None = None,
    ) -> None:
        super().__init__(client)
        self.name = name or f"dataset_{uuid.uuid4()}"
        self._workspace_spec = workspace
        self._workspace: Workspace | None = workspace if isinstance(workspace, Workspace) else None
        self._settings = self._own(settings) if settings is not None else Settings()
        self._settings_synced = False
        self._wire: dict[str, Any] = {}
        self._records = DatasetRecords(self)

    def __repr__(self) -> str:
        return f"Dataset(id={self._id}, name={self.name!r}, status={self.status!r})"

    @staticmethod
    def _own(settings: Settings) -> Settings:
        bound = any(p.id is not None for p in settings.schema.values())
        return settings.copy() if bound else settings

    @classmethod
    def _from_wire(cls, client: Quire, wire: dict[str, Any], workspace: Workspace | None = None) -> Dataset:
        dataset = cls(
            name=wire["name"], workspace=workspace or parse_uuid(wire["workspace_id"]), client=client
        )
        dataset._apply(wire)
        return dataset

    def _apply(self, wire: dict[str, Any]) -> None:
        self._wire = wire
        self._set_common(wire)
        self.name = wire["name"]
        self._settings.guidelines = wire.get("guidelines")
        self._settings.allow_extra_metadata = bool(wire.get("allow_extra_metadata", False))
        self._settings.distribution = TaskDistribution.from_wire(wire.get("distribution"))

    # ------------------------------------------------------------ attributes

    @property
    def records(self) -> DatasetRecords:
        return self._records

    @property
    def settings(self) -> Settings:
        return self._settings

    @settings.setter
    def settings(self, value: Settings) -> None:
        self._settings = self._own(value)

    @property
    def fields(self) -> list[Field]:
        return list(self._settings.fields)

    @property
    def questions(self) -> list[Question]:
        return list(self._settings.questions)

    @property
    def schema(self) -> dict[str, Property]:
        return self._settings.schema

    @property
    def guidelines(self) -> str | None:
        return self._settings.guidelines

    @guidelines.setter
    def guidelines(self, value: str | None) -> None:
        self._settings.guidelines = value

    @property
    def allow_extra_metadata(self) -> bool:
        return self._settings.allow_extra_metadata

    @allow_extra_metadata.setter
    def allow_extra_metadata(self, value: bool) -> None:
        self._settings.allow_extra_metadata = value

    @property
    def distribution(self) -> TaskDistribution:
        return self._settings.distribution

    @distribution.setter
    def distribution(self, value: TaskDistribution) -> None:
        self._settings.distribution = value

    @property
    def status(self) -> str | None:
        """`draft` or `ready` (published); None before `create()`."""
        status = self._wire.get("status")
        return str(status) if status is not None else None

    @property
    def is_published(self) -> bool:
        return self.status == "ready"

    @property
    def last_activity_at(self) -> Any:
        return parse_datetime(self._wire.get("last_activity_at"))

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = _resolve_workspace(self._client, self._workspace_spec)
        return self._workspace

    # ------------------------------------------------------------ lifecycle

    def create(self, publish: bool = True) -> Dataset:
        """Create the dataset, its fields, questions, metadata properties and vectors, and publish it.
        If a setting is refused, the half-created dataset is deleted again before the error is raised."""
        if publish:
            self._settings.validate()
        workspace = self.workspace
        body = {
            "name": self.name,
            "workspace_id": str(workspace._require_id()),
            **dataset_patch(self._settings),
        }
        wire = self._client.http.post("/api/v1/datasets", json=body)
        self._apply(wire)
        try:
            create_properties(self._client.http, self._require_id(), self._settings)
            if publish:
                wire = self._client.http.put(f"/api/v1/datasets/{self._require_id()}/publish")
        except BaseException:
            self._client.http.delete(f"/api/v1/datasets/{self._require_id()}")
            self._id = None
            raise
        self._apply(wire)
        self._settings_synced = True
        return self

    def publish(self) -> Dataset:
        """Publish a draft (needs at least one field and one required question)."""
        self._apply(self._client.http.put(f"/api/v1/datasets/{self._require_id()}/publish"))
        return self

    def get(self) -> Dataset:
        """Fetch the dataset and its settings (by id, else by name in its workspace)."""
        if self._id is None:
            found = _find(self._client, self.name, self.workspace)
            if found is None:
                raise NotFoundError(
                    f"dataset {self.name!r} not found in workspace {self.workspace.name!r}", status_code=404
                )
            self._id = parse_uuid(found["id"])
        wire = self._client.http.get(f"/api/v1/datasets/{self._require_id()}")
        self._settings = fetch_settings(self._client.http, wire, mapping=self._settings.mapping)
        self._apply(wire)
        self._settings_synced = True
        return self

    def update(self) -> Dataset:
        """Send changed guidelines, distribution, extra-metadata flag and settings (new fields,
        questions, metadata properties and vectors are created; existing ones updated)."""
        body = {"name": self.name, **dataset_patch(self._settings)}
        wire = self._client.http.patch(f"/api/v1/datasets/{self._require_id()}", json=body)
        update_properties(self._client.http, self._require_id(), self._settings)
        self._apply(wire)
        return self

    def delete(self) -> None:
        self._client.http.delete(f"/api/v1/datasets/{self._require_id()}")

    def exists(self) -> bool:
        if self._id is None:
            return False
        try:
            self._client.http.get(f"/api/v1/datasets/{self._id}")
        except NotFoundError:
            return False
        return True

    def progress(self, with_users_distribution: bool = False) -> dict[str, Any]:
        """`{"total", "completed", "pending"}`; with `with_users_distribution`, also
        `"users": {username: {"completed": {submitted, draft, discarded}, "pending": {…}}}`."""
        base = f"/api/v1/datasets/{self._require_id()}"
        wire = self._client.http.get(f"{base}/progress")
        progress: dict[str, Any] = {key: wire.get(key) for key in ("total", "completed", "pending")}
        if with_users_distribution:
            users = self._client.http.get(f"{base}/users/progress")["users"]
            progress["users"] = {
                user["username"]: {"completed": user["completed"], "pending": user["pending"]}
                for user in users
            }
        return progress

    def _ensure_settings(self) -> Dataset:
        """This dataset with its settings loaded from the server (once)."""
        if not self._settings_synced or (self._settings.questions and self._settings.questions[0].id is None):
            self.get()
        return self


class Datasets:
    """`client.datasets`: the datasets the client's user can read."""

    def __init__(self, client: Quire) -> None:
        self._client = client

    def __call__(
        self, name: str | None = None, workspace: WorkspaceSpec = None, id: uuid.UUID | str | None = None
    ) -> Dataset | None:
        """A dataset (with its settings) by name in `workspace` (default: the default workspace)
        or by id; None if there is none."""
        if id is not None:
            try:
                wire = self._client.http.get(f"/api/v1/datasets/{parse_uuid(id)}")
            except NotFoundError:
                return None
            return Dataset._from_wire(self._client, wire).get()
        if name is None:
            raise ValueError("give a dataset name or id")
        resolved = _resolve_workspace(self._client, workspace)
        wire = _find(self._client, name, resolved)
        return Dataset._from_wire(self._client, wire, resolved).get() if wire else None

    def list(self) -> list[Dataset]:
        """Every dataset (settings not loaded: `.get()` one for them; `records` loads them itself)."""
        items = self._client.http.get("/api/v1/me/datasets")["items"]
        return [Dataset._from_wire(self._client, item) for item in items]

    def __iter__(self) -> Iterator[Dataset]:
        return iter(self.list())

    def __len__(self) -> int:
        return len(self.list())

    def __getitem__(self, index: int) -> Dataset:
        return self.list()[index].get()

    def add(self, dataset: Dataset) -> Dataset:
        dataset._client = self._client
        return dataset.create()


def _find(client: Quire, name: str, workspace: Workspace) -> dict[str, Any] | None:
    params = {"workspace_id": str(workspace._require_id()), "name": name}
    for item in client.http.get("/api/v1/me/datasets", params=params)["items"]:
        if item["name"] == name:
            return dict(item)
    return None


def _resolve_workspace(client: Quire, spec: WorkspaceSpec) -> Workspace:
    if isinstance(spec, Workspace):
        return spec
    if spec is None:
        return client.workspaces.default
    wanted = spec if isinstance(spec, uuid.UUID) else None
    if wanted is None:
        try:
            wanted = uuid.UUID(str(spec))
        except ValueError:
            wanted = None
    workspaces = client.workspaces.list()
    for workspace in workspaces:
        if workspace.id == wanted or workspace.name == spec:
            return workspace
    raise NotFoundError(
        f"workspace {str(spec)!r} not found; this user's workspaces are {[w.name for w in workspaces]}",
        status_code=404,
    )


def log(
    name: str,
    records: Iterable[Record | Mapping[str, Any]] | Any,
    workspace: WorkspaceSpec = None,
    mapping: Mapping[str, str | Sequence[str]] | None = None,
    *,
    client: Quire | None = None,
    **log_options: Any,
) -> Dataset:
    """Log `records` to the dataset called `name` (in `workspace`, default the default workspace)
    with the default client: `rg.log("my_dataset", records)`. Takes `records.log`'s options."""
    client = client or default_client()
    dataset = client.datasets(name, workspace=workspace)
    if dataset is None:
        where = _resolve_workspace(client, workspace).name
        raise NotFoundError(f"dataset {name!r} not found in workspace {where!r}", status_code=404)
    dataset.records.log(records, mapping=mapping, **log_options)
    return dataset
