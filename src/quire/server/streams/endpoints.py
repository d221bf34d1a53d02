"""`GET /api/v1/events/stream`: events as Server-Sent Events (quire extension).

Each message is `id: <cursor>`, `event: <type>` and `data: <the JSON body a webhook gets>`.
Reconnect with the last `id:` in `Last-Event-ID` (or `?last_event_id=`) and the stream goes on after
it, with nothing skipped and nothing repeated, as long as the events were stored: they are while a
stream is connected and for five minutes after it drops. Comments (`: keep-alive`) keep proxies
from closing an idle connection.

Who sees what: owners every event; admins and annotators the events of their workspaces' datasets,
and annotators only their own `response.*` events (other people's answers are not theirs to read).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import StreamingResponse

from quire.server.db import Database, Dialect
from quire.server.deps import ActorDep, DatabaseDep, SessionDep
from quire.server.errors import Forbidden, Invalid, NotFound
from quire.server.events.catalog import EVENT_TYPES
from quire.server.models import Dataset, UserRole
from quire.server.streams import service
from quire.server.streams.cursor import CursorError, parse
from quire.server.streams.wakeup import wait, wakeup_for

logger = logging.getLogger("quire.server.streams")
router = APIRouter(tags=["events"])

POLL_SECONDS = 0.2
"""Longest wait for events committed elsewhere (other processes, stream-only transactions)."""
HEARTBEAT_SECONDS = 15.0
KEEP_ALIVE_SECONDS = 30.0
BATCH = 500
RETRY_MS = 1000


def _types(raw: list[str] | None) -> frozenset[str] | None:
    names = [part.strip() for value in raw or [] for part in value.split(",") if part.strip()]
    unknown = [n for n in names if n not in EVENT_TYPES]
    if unknown:
        raise Invalid(
            f"unknown event type(s) {', '.join(map(repr, unknown))}; allowed: {', '.join(EVENT_TYPES)}"
        )
    return frozenset(names) or None


async def _start(
    database: Database, value: str | None, *, where: service.StreamFilter
) -> tuple[uuid.UUID, service.Start]:
    """Register the stream, then find where it starts: after `value`, or after what is committed."""
    try:
        position = None if value is None else parse(value, database.dialect)
    except CursorError as exc:
        raise Invalid(str(exc)) from None
    async with database.session(write=False) as session:
        if isinstance(position, int):
            position = await service.locate(session, position)
            if position is None:
                raise Invalid(f"Last-Event-ID {value!r} names no stored event")
    async with database.transaction() as session:
        stream_id = await service.register(
            session, types=sorted(where.types) if where.types else None, dataset_id=where.dataset_id
        )
    if position is None:
        async with database.session(write=False) as session:
            return stream_id, await service.head(session, database.dialect)
    return stream_id, service.Start(position)


def _message(event: service.StreamedEvent, dialect: Dialect) -> bytes:
    head = f"id: {event.cursor.encode(dialect)}\nevent: {event.type}\ndata: "
    return head.encode() + event.body + b"\n\n"


async def _events(
    request: Request,
    database: Database,
    *,
    stream_id: uuid.UUID,
    user_id: uuid.UUID,
    start: service.Start,
    where: service.StreamFilter,
) -> AsyncIterator[bytes]:
    """Stored events past `cursor`, then new ones as they commit. Memberships are read again every
    keep-alive, so a user removed from a workspace stops receiving its events within 30 s."""
    yield f"retry: {RETRY_MS}\n: stream {stream_id}\n\n".encode()
    last_sent = last_kept = time.monotonic()
    cursor = start.cursor
    with wakeup_for(database).subscribe() as waiter:
        while True:
            async with database.session(write=False) as session:
                batch = await service.read(
                    session, database.dialect, after=cursor, where=where, limit=BATCH, skip=start.seen
                )
            cursor = batch.cursor
            if batch.events:
                yield b"".join(_message(event, database.dialect) for event in batch.events)
                last_sent = time.monotonic()
            if batch.full:
                continue
            now = time.monotonic()
            if now - last_kept >= KEEP_ALIVE_SECONDS:
                async with database.transaction() as session:
                    await service.keep_alive(session, stream_id)
                    if where.workspace_ids is not None:
                        memberships = await service.memberships(session, user_id)
                        if memberships is None:
                            return
                        where = replace(where, workspace_ids=memberships)
                last_kept = now
            if now - last_sent >= HEARTBEAT_SECONDS:
                yield b": keep-alive\n\n"
                last_sent = now
            if await request.is_disconnected():
                return
            await wait(waiter, POLL_SECONDS)


@router.get(
    "/events/stream",
    summary="Events as Server-Sent Events, resumable with Last-Event-ID (quire extension)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def stream_events(
    request: Request,
    session: SessionDep,
    actor: ActorDep,
    database: DatabaseDep,
    types: Annotated[list[str] | None, Query(description="record.created,record.completed,…")] = None,
    dataset_id: uuid.UUID | None = None,
    last_event_id: Annotated[str | None, Query(description="Same as the Last-Event-ID header")] = None,
    last_event_id_header: Annotated[str | None, Header(alias="Last-Event-ID")] = None,
) -> StreamingResponse:
    wanted = _types(types)
    workspace_ids: frozenset[uuid.UUID] | None = None
    if not actor.is_owner:
        workspace_ids = frozenset(await actor.workspace_ids(session))
        if dataset_id is not None:
            dataset = await session.get(Dataset, dataset_id)
            if dataset is None:
                raise NotFound(f"Dataset with id `{dataset_id}` not found")
            if dataset.workspace_id not in workspace_ids:
                raise Forbidden(f"User {actor.user.username!r} is not a member of the dataset's workspace")
    where = service.StreamFilter(
        types=wanted,
        dataset_id=dataset_id,
        workspace_ids=workspace_ids,
        responses_of=actor.id if actor.role == UserRole.annotator else None,
    )
    stream_id, start = await _start(database, last_event_id_header or last_event_id, where=where)
    return StreamingResponse(
        _events(request, database, stream_id=stream_id, user_id=actor.id, start=start, where=where),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
