"""/api/v1: me, users, workspaces and workspace membership."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, status

from quire.server.accounts import service
from quire.server.accounts.schemas import (
    User,
    UserCreate,
    UserUpdate,
    Workspace,
    WorkspaceCreate,
    WorkspaceUserCreate,
)
from quire.server.deps import ActorDep, SessionDep
from quire.server.lookup import get_or_404
from quire.server.models import User as UserRow
from quire.server.models import Workspace as WorkspaceRow
from quire.server.policies import require_admin_member, require_member, require_owner
from quire.server.wire import Items

router = APIRouter(tags=["users and workspaces"])


@router.get("/me", response_model=User)
async def get_me(actor: ActorDep) -> User:
    user = User.model_validate(actor.user)
    user.api_key = actor.api_key
    return user


@router.get("/users", response_model=Items[User])
async def list_users(session: SessionDep, actor: ActorDep) -> Items[User]:
    require_owner(actor)
    return Items[User](items=[User.model_validate(u) for u in await service.list_users(session)])


@router.post("/users", status_code=status.HTTP_201_CREATED, response_model=User)
async def create_user(body: UserCreate, session: SessionDep, actor: ActorDep) -> User:
    require_owner(actor)
    row, api_key = await service.create_user(
        session,
        username=body.username,
        role=body.role,
        first_name=body.first_name,
        last_name=body.last_name,
        password=body.password,
        api_key=body.api_key,
        user_id=body.id,
    )
    user = User.model_validate(row)
    user.api_key = api_key
    return user


@router.get("/users/{user_id}", response_model=User)
async def get_user(user_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> UserRow:
    require_owner(actor)
    return await get_or_404(session, UserRow, user_id)


@router.patch("/users/{user_id}", response_model=User)
async def update_user(user_id: uuid.UUID, body: UserUpdate, session: SessionDep, actor: ActorDep) -> UserRow:
    require_owner(actor)
    user = await get_or_404(session, UserRow, user_id)
    return await service.update_user(
        session,
        user,
        first_name=body.first_name,
        last_name=body.last_name,
        username=body.username,
        role=body.role,
        password=body.password,
        clear_last_name="last_name" in body.model_fields_set and body.last_name is None,
    )


@router.delete("/users/{user_id}", response_model=User)
async def delete_user(user_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> UserRow:
    require_owner(actor)
    user = await get_or_404(session, UserRow, user_id)
    return await service.delete_user(session, user, actor_id=actor.id)


@router.get("/users/{user_id}/workspaces", response_model=Items[Workspace])
async def list_user_workspaces(user_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Items[Workspace]:
    require_owner(actor)
    user = await get_or_404(session, UserRow, user_id)
    rows = await service.list_workspaces(session, user_id=None if user.role == "owner" else user.id)
    return Items[Workspace](items=[Workspace.model_validate(w) for w in rows])


@router.get("/me/workspaces", response_model=Items[Workspace])
async def list_my_workspaces(session: SessionDep, actor: ActorDep) -> Items[Workspace]:
    rows = await service.list_workspaces(session, user_id=None if actor.is_owner else actor.id)
    return Items[Workspace](items=[Workspace.model_validate(w) for w in rows])


@router.post("/workspaces", status_code=status.HTTP_201_CREATED, response_model=Workspace)
async def create_workspace(body: WorkspaceCreate, session: SessionDep, actor: ActorDep) -> WorkspaceRow:
    require_owner(actor)
    return await service.create_workspace(session, name=body.name, workspace_id=body.id)


@router.get("/workspaces/{workspace_id}", response_model=Workspace)
async def get_workspace(workspace_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> WorkspaceRow:
    await require_member(session, actor, workspace_id)
    return await get_or_404(session, WorkspaceRow, workspace_id)


@router.delete("/workspaces/{workspace_id}", response_model=Workspace)
async def delete_workspace(workspace_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> WorkspaceRow:
    require_owner(actor)
    workspace = await get_or_404(session, WorkspaceRow, workspace_id)
    return await service.delete_workspace(session, workspace)


@router.get("/workspaces/{workspace_id}/users", response_model=Items[User])
async def list_workspace_users(workspace_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> Items[User]:
    await require_admin_member(session, actor, workspace_id)
    await get_or_404(session, WorkspaceRow, workspace_id)
    rows = await service.list_workspace_users(session, workspace_id)
    return Items[User](items=[User.model_validate(u) for u in rows])


@router.post("/workspaces/{workspace_id}/users", status_code=status.HTTP_201_CREATED, response_model=User)
async def add_workspace_user(
    workspace_id: uuid.UUID, body: WorkspaceUserCreate, session: SessionDep, actor: ActorDep
) -> UserRow:
    require_owner(actor)
    workspace = await get_or_404(session, WorkspaceRow, workspace_id)
    return await service.add_workspace_user(session, workspace=workspace, user_id=body.user_id)


@router.post(
    "/workspaces/{workspace_id}/users/{user_id}",
    status_code=status.HTTP_201_CREATED,
    response_model=User,
    summary="Add a user to a workspace (path form, called by the argilla SDK's WorkspacesAPI.add_user)",
)
async def add_workspace_user_by_path(
    workspace_id: uuid.UUID, user_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> UserRow:
    require_owner(actor)
    workspace = await get_or_404(session, WorkspaceRow, workspace_id)
    return await service.add_workspace_user(session, workspace=workspace, user_id=user_id)


@router.delete("/workspaces/{workspace_id}/users/{user_id}", response_model=User)
async def remove_workspace_user(
    workspace_id: uuid.UUID, user_id: uuid.UUID, session: SessionDep, actor: ActorDep
) -> UserRow:
    await require_admin_member(session, actor, workspace_id)
    workspace = await get_or_404(session, WorkspaceRow, workspace_id)
    return await service.remove_workspace_user(session, workspace=workspace, user_id=user_id)
