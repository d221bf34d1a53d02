"""Loading one row by id, or failing with the 404 Argilla sends."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from quire.server.errors import NotFound
from quire.server.models import Base

M = TypeVar("M", bound=Base)


async def get_or_404(
    session: AsyncSession,
    model: type[M],
    id_: uuid.UUID,
    *,
    label: str | None = None,
    options: tuple[Any, ...] = (),
    for_update: bool = False,
) -> M:
    row = await session.get(model, id_, options=list(options), with_for_update=for_update or None)
    if row is None:
        raise NotFound(f"{label or model.__name__} with id `{id_}` not found")
    return row


def column_names(*columns: InstrumentedAttribute[Any]) -> list[str]:
    return [c.key for c in columns]
