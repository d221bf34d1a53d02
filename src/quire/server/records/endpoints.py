"""/api/v1 records: pages, bulk create/upsert, one record, deletion."""

from __future__ import annotations

import json
import uuid
from email.message import Message
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Query, Request, Response, status
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from quire.server.datasets.endpoints import managed_dataset, readable_dataset
from quire.server.datasets.service import get_dataset
from quire.server.deps import ActorDep, DatabaseDep, SessionDep, get_database, get_settings
from quire.server.errors import Invalid
from quire.server.models import UserRole
from quire.server.policies import require_admin_member
from quire.server.records import service
from quire.server.records.bulk import gc_paused
from quire.server.records.schemas import (
    RecordOut,
    RecordsBulkCreate,
    RecordsBulkUpsert,
    RecordsPage,
    RecordUpdate,
)
from quire.server.records.serialize import Include
from quire.server.wire import JSON

router = APIRouter(tags=["records"])

IncludeParam = Annotated[
    list[str] | None, Query(description="responses, suggestions, vectors or vectors:<name>,…")
]
MAX_PAGE = 1000
MAX_DELETE = 100


M = TypeVar("M", bound=BaseModel)


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    message = Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


async def _json_body(request: Request, model: type[M]) -> M:
    """The request body validated straight from its bytes by pydantic's JSON parser: no `json.loads`
    and no Python dicts in between, which on a batch of 500 records costs more than the validation.

    Whatever does not validate that way takes FastAPI's own path again (`json.loads`, then
    validation of the Python value), so errors stay exactly what FastAPI raises for a declared body:
    same types, messages and `loc` under "body" (`["body", "items", 1, "suggestions", 0, "score"]`).
    """
    raw = await request.body()
    if not raw:
        raise RequestValidationError(
            [{"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}]
        )
    if _is_json(request.headers.get("content-type")):
        try:
            return model.model_validate_json(raw)
        except ValidationError:
            pass
        try:
            data: Any = json.loads(raw)
        except json.JSONDecodeError as exc:
            error = {
                "type": "json_invalid",
                "loc": ("body", exc.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": exc.msg},
            }
            raise RequestValidationError([error], body=exc.doc) from None
        except UnicodeDecodeError as exc:  # FastAPI answers the same for a body that is not UTF-8
            error = {
                "type": "json_invalid",
                "loc": ("body", exc.start),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": f"the body is not valid UTF-8 ({exc.reason} at byte {exc.start})"},
            }
            raise RequestValidationError([error]) from None
    else:
        data = raw  # FastAPI validates a body not sent as JSON as it is, and fails
    try:
        return model.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=data) from None


def _documented_body(model: type[BaseModel]) -> dict[str, Any]:
    """`openapi_extra` for a route that parses `model` itself: the schema inlined (no `$defs`)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
            return {key: inline(value) for key, value in node.items()}
        if isinstance(node, list):
            return [inline(value) for value in node]
        return node

    return {"requestBody": {"required": True, "content": {"application/json": {"schema": inline(schema)}}}}


def _check_batch(size: int, limit: int) -> None:
    if size > limit:
        raise Invalid(f"a bulk request takes at most {limit} records, got {size}; split it into batches")


@router.get("/datasets/{dataset_id}/records", response_model=RecordsPage)
async def list_records(
    dataset_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    include: IncludeParam = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> JSON:
    dataset = await managed_dataset(session, actor, dataset_id)
    items, total = await service.list_records(
        session, dataset, offset=offset, limit=limit, include=Include.parse(include)
    )
    return JSON({"items": items, "total": total})


@router.put(
    "/datasets/{dataset_id}/records/bulk",
    response_model=RecordsPage,
    openapi_extra=_documented_body(RecordsBulkUpsert),
)
async def upsert_records_bulk(
    dataset_id: uuid.UUID, request: Request, session: SessionDep, actor: ActorDep
) -> JSON:
    """Create or update records: matched by `id`, then `external_id`, within the dataset."""
    with gc_paused():
        body = await _json_body(request, RecordsBulkUpsert)
        _check_batch(len(body.items), get_settings(request).max_records_per_bulk)
        dataset = await managed_dataset(session, actor, dataset_id, with_settings=True)
        outcome = await service.write_records_with_events(
            session, dataset=dataset, items=body.items, dialect=get_database(request).dialect
        )
        response = JSON({"items": outcome.items, "updated_item_ids": outcome.updated})
        del body, outcome  # freed here, before the collector is back on
    return response


@router.post(
    "/datasets/{dataset_id}/records/bulk",
    status_code=status.HTTP_201_CREATED,
    response_model=RecordsPage,
    openapi_extra=_documented_body(RecordsBulkCreate),
)
async def create_records_bulk(
    dataset_id: uuid.UUID, request: Request, session: SessionDep, actor: ActorDep
) -> JSON:
    """Create records in a published dataset; an external id that already exists is a 422."""
    with gc_paused():
        body = await _json_body(request, RecordsBulkCreate)
        _check_batch(len(body.items), get_settings(request).max_records_per_bulk)
        dataset = await managed_dataset(session, actor, dataset_id, with_settings=True)
        outcome = await service.write_records_with_events(
            session,
            dataset=dataset,
            items=list(body.items),
            dialect=get_database(request).dialect,
            create_only=True,
        )
        response = JSON({"items": outcome.items}, status_code=status.HTTP_201_CREATED)
        del body, outcome  # freed here, before the collector is back on
    return response


@router.delete("/datasets/{dataset_id}/records", status_code=status.HTTP_204_NO_CONTENT)
async def delete_records(
    dataset_id: uuid.UUID,
    session: SessionDep,
    actor: ActorDep,
    ids: Annotated[str, Query(description="comma-separated record ids (at most 100)")],
) -> Response:
    dataset = await managed_dataset(session, actor, dataset_id)
    try:
        record_ids = [uuid.UUID(part.strip()) for part in ids.split(",") if part.strip()]
    except ValueError:
        raise Invalid(f"`ids` must be comma-separated record UUIDs, got {ids!r}") from None
    if not record_ids:
        raise Invalid("`ids` needs at least one record id")
    if len(record_ids) > MAX_DELETE:
        raise Invalid(f"at most {MAX_DELETE} records can be deleted at once, got {len(record_ids)}")
    await service.delete_records(session, dataset, record_ids)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/records/{record_id}", response_model=RecordOut)
async def get_record(
    record_id: uuid.UUID, session: SessionDep, actor: ActorDep, include: IncludeParam = None
) -> JSON:
    """The record with its suggestions, responses and vectors (annotators see only their own
    responses). `include` narrows what is embedded."""
    record = await service.get_record_row(session, record_id)
    await readable_dataset(session, actor, record.dataset_id)
    wanted = (
        Include.parse(include) if include else Include(responses=True, suggestions=True, vectors=frozenset())
    )
    only_user = actor.id if actor.role == UserRole.annotator else None
    return JSON(await service.record_wire(session, record_id, wanted, only_user=only_user))


@router.patch("/records/{record_id}", response_model=RecordOut)
async def update_record(
    record_id: uuid.UUID, body: RecordUpdate, session: SessionDep, actor: ActorDep, database: DatabaseDep
) -> JSON:
    record = await service.get_record_row(session, record_id)
    dataset = await get_dataset(session, record.dataset_id, with_settings=True)
    await require_admin_member(session, actor, dataset.workspace_id)
    outcome = await service.update_record(
        session, dataset=dataset, record=record, body=body, dialect=database.dialect
    )
    return JSON(outcome.items[0])


@router.delete("/records/{record_id}", response_model=RecordOut)
async def delete_record(record_id: uuid.UUID, session: SessionDep, actor: ActorDep) -> JSON:
    record = await service.get_record_row(session, record_id)
    dataset = await get_dataset(session, record.dataset_id)
    await require_admin_member(session, actor, dataset.workspace_id)
    deleted = await service.delete_records(session, dataset, [record_id])
    return JSON(deleted[0])
