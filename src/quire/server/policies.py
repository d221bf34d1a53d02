"""Who may do what. Small functions called by endpoints before they call a service.

owner: everything. admin: manage datasets of the workspaces it belongs to. annotator: read datasets
of its workspaces and write its own responses.
"""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.deps import Actor
from quire.server.errors import Forbidden
from quire.server.models import UserRole


def require_owner(actor: Actor) -> None:
    if not actor.is_owner:
        raise Forbidden(f"Only owners can do this (you are {actor.user.username!r}, role {actor.role})")


def require_owner_or_admin(actor: Actor) -> None:
    if actor.role == UserRole.annotator:
        raise Forbidden(f"Annotators cannot do this (you are {actor.user.username!r})")


async def require_member(session: AsyncSession, actor: Actor, workspace_id: uuid.UUID) -> None:
    """Any role, provided the user belongs to the workspace (owners always pass)."""
    if actor.is_owner:
        return
    if workspace_id not in await actor.workspace_ids(session):
        raise Forbidden(f"User {actor.user.username!r} is not a member of workspace {workspace_id}")


async def require_admin_member(session: AsyncSession, actor: Actor, workspace_id: uuid.UUID) -> None:
    """Owners, or admins that belong to the workspace."""
    if actor.is_owner:
        return
    require_owner_or_admin(actor)
    await require_member(session, actor, workspace_id)
