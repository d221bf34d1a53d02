"""Request-scoped dependencies: the unit of work and the authenticated actor.

The session is the request's unit of work. It commits once, after the endpoint returns and before
the response is sent (`scope="function"`); any exception rolls everything back. Requests with a
safe method, and endpoints marked `@read_only`, get a read-only session (on SQLite this keeps
searches from queueing behind writers).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from sqlalchemy import bindparam, select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.db import Database
from quire.server.errors import Unauthorized
from quire.server.models import User, UserRole, WorkspaceUser
from quire.server.security import hash_api_key
from quire.server.settings import Settings

API_KEY_HEADER = "X-Argilla-Api-Key"
_SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

F = TypeVar("F", bound=Callable[..., Any])


def read_only(endpoint: F) -> F:
    """Mark a non-GET endpoint (e.g. a search) as not writing."""
    endpoint.__quire_read_only__ = True  # type: ignore[attr-defined]
    return endpoint


def get_database(request: Request) -> Database:
    db: Database = request.app.state.database
    return db


def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    database = get_database(request)
    endpoint = request.scope.get("endpoint")
    write = request.method not in _SAFE_METHODS and not getattr(endpoint, "__quire_read_only__", False)
    async with database.session(write=write) as session:
        yield session
        if write:
            await database.commit(session)


DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]


@dataclass
class Actor:
    """The authenticated user of a request, with their workspace memberships loaded on demand."""

    user: User
    api_key: str
    _workspace_ids: set[uuid.UUID] | None = field(default=None, repr=False)

    @property
    def id(self) -> uuid.UUID:
        return self.user.id

    @property
    def role(self) -> UserRole:
        return UserRole(self.user.role)

    @property
    def is_owner(self) -> bool:
        return self.role == UserRole.owner

    async def workspace_ids(self, session: AsyncSession) -> set[uuid.UUID]:
        if self._workspace_ids is None:
            rows = await session.scalars(
                select(WorkspaceUser.workspace_id).where(WorkspaceUser.user_id == self.user.id)
            )
            self._workspace_ids = set(rows)
        return self._workspace_ids


def _presented_keys(request: Request) -> list[str]:
    keys = []
    if header := request.headers.get(API_KEY_HEADER):
        keys.append(header)
    auth = request.headers.get("Authorization", "")
    if auth[:7].lower() == "bearer " and auth[7:].strip():
        keys.append(auth[7:].strip())
    return keys


# Built once: every request runs it, and building a statement costs more than running it.
_USER_BY_KEY_HASH = select(User).where(User.api_key_hash == bindparam("key_hash"))


async def get_actor(request: Request, session: SessionDep) -> Actor:
    """`X-Argilla-Api-Key` first; `Authorization: Bearer <api key>` as a fallback. A bearer token that
    is not one of our keys is ignored when the API-key header is valid (distilabel sends one to
    hf.space URLs)."""
    keys = _presented_keys(request)
    if not keys:
        raise Unauthorized(f"Missing API key: send it in the {API_KEY_HEADER} header")
    for key in keys:
        user = await session.scalar(_USER_BY_KEY_HASH, {"key_hash": hash_api_key(key)})
        if user is not None:
            return Actor(user=user, api_key=key)
    raise Unauthorized("Could not validate credentials: unknown API key")


ActorDep = Annotated[Actor, Depends(get_actor)]
