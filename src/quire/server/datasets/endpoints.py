"""/api/v1 datasets: create, read, update, delete, publish, progress."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from quire.server.datasets import service
from quire.server.datasets.schemas import (
    Dataset,
    DatasetCreate,
    DatasetProgress,
    DatasetUpdate,
    UsersProgress,
)
from quire.server.deps import Actor, ActorDep, SessionDep
from quire.server.models import Dataset as DatasetRow
from quire.server.models import DatasetStatus
from quire.server.policies import require_admin_member, require_member
from quire.server.wire import Items

router = APIRouter(tags=["datasets"])


async def readable_dataset(
    session: SessionDep, actor: Actor, dataset_id: uuid.UUID, **kw: bool
) -> DatasetRow:
    """Load a dataset the actor may read (any member of its workspace)."""
    dataset = await service.get_dataset(session, dataset_id, **kw)
    await require_member(session, actor, dataset.workspace_id)
    return dataset


async def managed_dataset(session: SessionDep, actor: Actor, dataset_id: uuid.UUID, **kw: bool) -> DatasetRow:
    """Load a dataset the actor may change (owner, or admin of its workspace)."""
    dataset = await service.get_dataset(session, dataset_id, **kw)
    await require_admin_member(session, actor, dataset.workspace_id)
    return dataset


@router.get("/me/datasets", response_model=Items[Dataset])
async def list_my_datasets(
    session: SessionDep,
    actor: ActorDep,
    workspace_id: uuid.UUID | None = None,
    name: str | None = None,
    status: DatasetStatus | None = None,
) -> Items[Dataset]:
    rows = await service.list_datasets(
        session,
        member_of=None if actor.is_owner else actor.id,
        workspace_id=workspace_id,
        name=name,
        status=status,
    )
    return Items[Dataset](items=[Dataset.model_validate(d) for d in rows])


@router.post("/datasets", status_code=status.HTTP_201_CREATED, response_model=Dataset)
async def create_dataset(body: DatasetCreate, session: SessionDep, actor: ActorDep) -> DatasetRow:
    await require_admin_member(session, actor, body.workspace_id)
    return await service.create_dataset(
        session,
        name=body.name,
        workspace_id=body.workspace_id,
        guidelines=body.guidelines,
        allow_extra_metadata=body.allow_extra_metadata,
        distribution=body.distribution.model_dump(),
        metadata=body.metadata,
    )


@router.get("/datasets/{dataset_id}", response_model=Dataset)
async def get_dataset(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> DatasetRow:
    return await readable_dataset(session, actor, dataset_id)


@router.patch("/datasets/{dataset_id}", response_model=Dataset)
async def update_dataset(
    dataset_id: uuid.UUID, body: DatasetUpdate, session: SessionDep, actor: ActorDep
) -> DatasetRow:
    dataset = await managed_dataset(session, actor, dataset_id)
    changes = body.model_dump(include=body.model_fields_set)
    if body.distribution is not None:
        changes["distribution"] = body.distribution.model_dump()
    return await service.update_dataset(session, dataset, changes)


@router.delete("/datasets/{dataset_id}", response_model=Dataset)
async def delete_dataset(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> DatasetRow:
    dataset = await managed_dataset(session, actor, dataset_id)
    return await service.delete_dataset(session, dataset)


@router.put("/datasets/{dataset_id}/publish", response_model=Dataset)
async def publish_dataset(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> DatasetRow:
    dataset = await managed_dataset(session, actor, dataset_id, with_settings=True)
    return await service.publish_dataset(session, dataset)


@router.get("/datasets/{dataset_id}/progress", response_model=DatasetProgress)
async def get_dataset_progress(
    dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> DatasetProgress:
    dataset = await readable_dataset(session, actor, dataset_id)
    return await service.dataset_progress(session, dataset)


@router.get("/datasets/{dataset_id}/users/progress", response_model=UsersProgress)
async def get_users_progress(dataset_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> UsersProgress:
    dataset = await readable_dataset(session, actor, dataset_id)
    return UsersProgress(users=await service.users_progress(session, dataset))
