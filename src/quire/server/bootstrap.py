"""First start: an owner and a `default` workspace the owner belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exists, select, text

from quire.server.accounts import service as accounts
from quire.server.db import Database
from quire.server.models import User, UserRole, WorkspaceUser
from quire.server.settings import Settings

DEFAULT_WORKSPACE = "default"
_BOOTSTRAP_LOCK_KEY = 0x71756973


@dataclass(frozen=True)
class Bootstrapped:
    username: str
    api_key: str
    generated: bool


async def ensure_owner(database: Database, settings: Settings) -> Bootstrapped | None:
    """Create the owner on an empty store; returns what was created (None if users exist)."""
    async with database.session(write=True) as session:
        if database.dialect == "postgresql":
            await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _BOOTSTRAP_LOCK_KEY})
        if await session.scalar(select(exists().where(User.id.isnot(None)))):
            return None
        owner, api_key = await accounts.create_user(
            session,
            username=settings.owner_username,
            role=UserRole.owner,
            password=settings.owner_password,
            api_key=settings.owner_api_key,
        )
        workspace = await accounts.get_workspace_by_name(session, DEFAULT_WORKSPACE)
        if workspace is None:
            workspace = await accounts.create_workspace(session, name=DEFAULT_WORKSPACE)
        session.add(WorkspaceUser(workspace_id=workspace.id, user_id=owner.id))
        await session.commit()
    return Bootstrapped(username=owner.username, api_key=api_key, generated=settings.owner_api_key is None)
