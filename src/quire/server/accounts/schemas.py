from __future__ import annotations

import uuid
from typing import Annotated

from pydantic import Field, StringConstraints

from quire.server.models import UserRole
from quire.server.wire import RequestModel, WireDatetime, WireModel

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Username = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Password = Annotated[str, StringConstraints(min_length=8, max_length=100)]
WorkspaceName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]


class User(WireModel):
    id: uuid.UUID
    first_name: str
    last_name: str | None = None
    username: str
    role: UserRole
    api_key: str | None = Field(
        default=None,
        description="Only returned when the server knows it: on creation and to its owner on /me "
        "(keys are stored hashed).",
    )
    inserted_at: WireDatetime
    updated_at: WireDatetime


class UserCreate(RequestModel):
    id: uuid.UUID | None = None
    first_name: Name
    last_name: Name | None = None
    username: Username
    role: UserRole = UserRole.annotator
    password: Password
    api_key: str | None = Field(default=None, min_length=8, max_length=200, description="quire extension")


class UserUpdate(RequestModel):
    first_name: Name | None = None
    last_name: Name | None = None
    username: Username | None = None
    role: UserRole | None = None
    password: Password | None = None


class Workspace(WireModel):
    id: uuid.UUID
    name: str
    inserted_at: WireDatetime
    updated_at: WireDatetime


class WorkspaceCreate(RequestModel):
    id: uuid.UUID | None = None
    name: WorkspaceName


class WorkspaceUserCreate(RequestModel):
    user_id: uuid.UUID
