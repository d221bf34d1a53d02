"""Datasets: lifecycle (draft → ready), listing and progress. Never commits."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import case, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from quire.server.datasets import settings_cache
from quire.server.datasets.schemas import DatasetProgress, ResponseCounts, UserProgress
from quire.server.errors import Conflict, Invalid, NotFound
from quire.server.events.emit import dataset_event_data, emit_dataset_event, wants_dataset_deleted
from quire.server.models import (
    Dataset,
    DatasetStatus,
    Record,
    RecordStatus,
    Response,
    User,
    Workspace,
    WorkspaceUser,
    utcnow,
)
from quire.server.records.events import emit_status_events
from quire.server.records.status import refresh_record_statuses


async def get_dataset(
    session: AsyncSession, dataset_id: uuid.UUID, *, with_settings: bool = False, with_workspace: bool = False
) -> Dataset:
    """The dataset; `with_settings`: its fields, questions, metadata properties and vector settings
    too (from `settings_cache` when current)."""
    options: list[Any] = [selectinload(Dataset.workspace)] if with_workspace else []
    dataset = await session.get(
        Dataset, dataset_id, options=options, populate_existing=with_settings or with_workspace
    )
    if dataset is None:
        raise NotFound(f"Dataset with id `{dataset_id}` not found")
    if with_settings:
        await settings_cache.attach(session, dataset)
    return dataset


async def list_datasets(
    session: AsyncSession,
    *,
    member_of: uuid.UUID | None,
    workspace_id: uuid.UUID | None = None,
    name: str | None = None,
    status: DatasetStatus | None = None,
) -> list[Dataset]:
    """Datasets visible to a user: all of them (`member_of=None`, owners) or those of the user's
    workspaces."""
    query = select(Dataset).order_by(Dataset.inserted_at, Dataset.name)
    if member_of is not None:
        query = query.where(
            exists().where(
                WorkspaceUser.workspace_id == Dataset.workspace_id, WorkspaceUser.user_id == member_of
            )
        )
    if workspace_id is not None:
        query = query.where(Dataset.workspace_id == workspace_id)
    if name is not None:
        query = query.where(Dataset.name == name)
    if status is not None:
        query = query.where(Dataset.status == status)
    return list(await session.scalars(query))


async def create_dataset(
    session: AsyncSession,
    *,
    name: str,
    workspace_id: uuid.UUID,
    guidelines: str | None,
    allow_extra_metadata: bool,
    distribution: dict[str, Any],
    metadata: dict[str, Any] | None,
) -> Dataset:
    if await session.get(Workspace, workspace_id) is None:
        raise Invalid(f"Workspace with id `{workspace_id}` not found")
    taken = await session.scalar(
        select(exists().where(Dataset.name == name, Dataset.workspace_id == workspace_id))
    )
    if taken:
        raise Conflict(f"Dataset with name `{name}` already exists for workspace with id `{workspace_id}`")
    dataset = Dataset(
        name=name,
        workspace_id=workspace_id,
        guidelines=guidelines,
        allow_extra_metadata=allow_extra_metadata,
        distribution=distribution,
        metadata_=metadata,
        status=DatasetStatus.draft,
    )
    session.add(dataset)
    await session.flush()
    await emit_dataset_event(session, "dataset.created", dataset)
    return dataset


async def update_dataset(session: AsyncSession, dataset: Dataset, changes: dict[str, Any]) -> Dataset:
    """Apply the keys present in `changes`. A changed distribution recomputes every record's status."""
    for key in ("name", "allow_extra_metadata", "distribution"):
        if key in changes and changes[key] is None:
            raise Invalid(f"`{key}` cannot be null")
    if "name" in changes and changes["name"] != dataset.name:
        taken = await session.scalar(
            select(
                exists().where(
                    Dataset.name == changes["name"],
                    Dataset.workspace_id == dataset.workspace_id,
                    Dataset.id != dataset.id,
                )
            )
        )
        if taken:
            raise Conflict(
                f"Dataset with name `{changes['name']}` already exists for workspace with id "
                f"`{dataset.workspace_id}`"
            )
    distribution_changed = "distribution" in changes and changes["distribution"] != dataset.distribution
    for key, value in changes.items():
        setattr(dataset, "metadata_" if key == "metadata" else key, value)
    dataset.last_activity_at = utcnow()
    await session.flush()
    await emit_dataset_event(session, "dataset.updated", dataset)
    if distribution_changed:
        status_changes = await refresh_record_statuses(session, dataset=dataset)
        await emit_status_events(session, dataset, status_changes)
    return dataset


async def publish_dataset(session: AsyncSession, dataset: Dataset) -> Dataset:
    """draft → ready: needs at least one field and one required question."""
    if dataset.status == DatasetStatus.ready:
        raise Invalid("Dataset is already published")
    if not dataset.fields:
        raise Invalid("Dataset cannot be published without fields")
    if not any(q.required for q in dataset.questions):
        raise Invalid("Dataset cannot be published without required questions")
    dataset.status = DatasetStatus.ready
    dataset.last_activity_at = utcnow()
    await session.flush()
    await emit_dataset_event(session, "dataset.published", dataset)
    return dataset


async def delete_dataset(session: AsyncSession, dataset: Dataset) -> Dataset:
    """Deletes the dataset and everything in it; one `dataset.deleted` event carries it as it was
    (its records do not get `record.deleted` events each)."""
    before = (
        await dataset_event_data(session, dataset.id)
        if await wants_dataset_deleted(session, dataset)
        else None
    )
    await session.delete(dataset)
    await session.flush()
    if before is not None:
        await emit_dataset_event(session, "dataset.deleted", dataset, data=before)
    return dataset


async def dataset_progress(session: AsyncSession, dataset: Dataset) -> DatasetProgress:
    row = (
        await session.execute(
            select(
                func.count(Record.id),
                func.coalesce(func.sum(case((Record.status == RecordStatus.completed, 1), else_=0)), 0),
            ).where(Record.dataset_id == dataset.id)
        )
    ).one()
    total, completed = int(row[0]), int(row[1])
    return DatasetProgress(total=total, completed=completed, pending=total - completed)


async def users_progress(session: AsyncSession, dataset: Dataset) -> list[UserProgress]:
    """Per annotator: responses by status, split by whether their record is completed or pending."""
    rows = await session.execute(
        select(User.username, Record.status, Response.status, func.count())
        .join(Response, Response.user_id == User.id)
        .join(Record, Record.id == Response.record_id)
        .where(Record.dataset_id == dataset.id)
        .group_by(User.username, Record.status, Response.status)
        .order_by(User.username)
    )
    progress: dict[str, UserProgress] = {}
    for username, record_status, response_status, count in rows:
        entry = progress.setdefault(username, UserProgress(username=username))
        bucket: ResponseCounts = entry.completed if record_status == RecordStatus.completed else entry.pending
        setattr(bucket, str(response_status), int(count))
    return list(progress.values())
