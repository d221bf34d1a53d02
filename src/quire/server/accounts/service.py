"""Users, workspaces and who belongs where. Never commits."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.errors import Conflict, Invalid, NotFound
from quire.server.lookup import get_or_404
from quire.server.models import (
    Dataset,
    Record,
    Response,
    ResponseStatus,
    User,
    UserRole,
    Workspace,
    WorkspaceUser,
)
from quire.server.records.status import refresh_record_statuses
from quire.server.security import generate_api_key, hash_api_key, hash_password


async def create_user(
    session: AsyncSession,
    *,
    username: str,
    role: UserRole,
    first_name: str | None = None,
    last_name: str | None = None,
    password: str | None = None,
    api_key: str | None = None,
    user_id: uuid.UUID | None = None,
) -> tuple[User, str]:
    """Create a user; returns it with its API key in clear (the only time it is known)."""
    if await session.scalar(select(exists().where(User.username == username))):
        raise Conflict(f"User username `{username}` is not unique")
    if user_id is not None and await session.get(User, user_id) is not None:
        raise Conflict(f"User with id `{user_id}` is not unique")
    key = api_key or generate_api_key()
    if await session.scalar(select(exists().where(User.api_key_hash == hash_api_key(key)))):
        raise Conflict("That API key is already in use by another user")
    user = User(
        id=user_id or uuid.uuid4(),
        username=username,
        role=role,
        first_name=first_name if first_name is not None else username,
        last_name=last_name,
        password_hash=hash_password(password) if password else None,
        api_key_hash=hash_api_key(key),
    )
    session.add(user)
    await session.flush()
    return user, key


async def list_users(session: AsyncSession) -> list[User]:
    return list(await session.scalars(select(User).order_by(User.inserted_at, User.username)))


async def get_user_by_username(session: AsyncSession, username: str) -> User | None:
    user: User | None = await session.scalar(select(User).where(User.username == username))
    return user


async def update_user(
    session: AsyncSession,
    user: User,
    *,
    first_name: str | None = None,
    last_name: str | None = None,
    username: str | None = None,
    role: UserRole | None = None,
    password: str | None = None,
    clear_last_name: bool = False,
) -> User:
    if username is not None and username != user.username:
        if await get_user_by_username(session, username) is not None:
            raise Conflict(f"User username `{username}` is not unique")
        user.username = username
    if first_name is not None:
        user.first_name = first_name
    if last_name is not None or clear_last_name:
        user.last_name = last_name
    if role is not None:
        user.role = role
    if password is not None:
        user.password_hash = hash_password(password)
    await session.flush()
    return user


async def delete_user(session: AsyncSession, user: User, *, actor_id: uuid.UUID) -> User:
    """Delete the user and, with it, its responses; the records it had submitted are recomputed
    (one may fall back to `pending`). Argilla leaves those records `completed`."""
    if user.id == actor_id:
        raise Invalid("You cannot delete your own user")
    submitted = await session.execute(
        select(Record.dataset_id, Record.id)
        .join(Response, Response.record_id == Record.id)
        .where(Response.user_id == user.id, Response.status == ResponseStatus.submitted)
    )
    by_dataset: dict[uuid.UUID, list[uuid.UUID]] = {}
    for dataset_id, record_id in submitted:
        by_dataset.setdefault(dataset_id, []).append(record_id)
    await session.delete(user)
    await session.flush()
    for dataset_id, record_ids in by_dataset.items():
        dataset = await get_or_404(session, Dataset, dataset_id)
        await refresh_record_statuses(session, dataset=dataset, record_ids=record_ids)
    return user


async def create_workspace(
    session: AsyncSession, *, name: str, workspace_id: uuid.UUID | None = None
) -> Workspace:
    if await session.scalar(select(exists().where(Workspace.name == name))):
        raise Conflict(f"Workspace name `{name}` is not unique")
    if workspace_id is not None and await session.get(Workspace, workspace_id) is not None:
        raise Conflict(f"Workspace with id `{workspace_id}` is not unique")
    workspace = Workspace(id=workspace_id or uuid.uuid4(), name=name)
    session.add(workspace)
    await session.flush()
    return workspace


async def get_workspace_by_name(session: AsyncSession, name: str) -> Workspace | None:
    workspace: Workspace | None = await session.scalar(select(Workspace).where(Workspace.name == name))
    return workspace


async def list_workspaces(session: AsyncSession, *, user_id: uuid.UUID | None = None) -> list[Workspace]:
    query = select(Workspace).order_by(Workspace.inserted_at, Workspace.name)
    if user_id is not None:
        query = query.join(WorkspaceUser, WorkspaceUser.workspace_id == Workspace.id).where(
            WorkspaceUser.user_id == user_id
        )
    return list(await session.scalars(query))


async def delete_workspace(session: AsyncSession, workspace: Workspace) -> Workspace:
    if await session.scalar(select(exists().where(Dataset.workspace_id == workspace.id))):
        raise Conflict(f"Cannot delete the workspace {workspace.id}. This workspace has some datasets linked")
    await session.delete(workspace)
    await session.flush()
    return workspace


async def list_workspace_users(session: AsyncSession, workspace_id: uuid.UUID) -> list[User]:
    query = (
        select(User)
        .join(WorkspaceUser, WorkspaceUser.user_id == User.id)
        .where(WorkspaceUser.workspace_id == workspace_id)
        .order_by(WorkspaceUser.inserted_at)
    )
    return list(await session.scalars(query))


async def add_workspace_user(session: AsyncSession, *, workspace: Workspace, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None:
        raise Invalid(f"User with id `{user_id}` not found")
    member = await session.scalar(
        select(exists().where(WorkspaceUser.workspace_id == workspace.id, WorkspaceUser.user_id == user_id))
    )
    if member:
        raise Conflict(
            f"Workspace user with workspace_id `{workspace.id}` and user_id `{user_id}` is not unique"
        )
    session.add(WorkspaceUser(workspace_id=workspace.id, user_id=user_id))
    await session.flush()
    return user


async def remove_workspace_user(session: AsyncSession, *, workspace: Workspace, user_id: uuid.UUID) -> User:
    user = await get_or_404(session, User, user_id)
    result = await session.execute(
        delete(WorkspaceUser).where(
            WorkspaceUser.workspace_id == workspace.id, WorkspaceUser.user_id == user_id
        )
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"User with id `{user_id}` is not a member of workspace `{workspace.id}`")
    return user
