"""Rows to Argilla's wire dicts, without pydantic on the hot paths (bulk writes, record pages)."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.errors import Invalid
from quire.server.models import Record, Response, Suggestion, Vector, VectorSettings
from quire.server.sql import chunks
from quire.server.wire import wire_datetime

RECORD_COLUMNS = (
    Record.id,
    Record.status,
    Record.fields,
    Record.metadata_,
    Record.external_id,
    Record.dataset_id,
    Record.inserted_at,
    Record.updated_at,
)


@dataclass(frozen=True)
class Include:
    """What to embed in each record, from the `include` query parameter."""

    responses: bool = False
    suggestions: bool = False
    vectors: frozenset[str] | None = None  # None: no vectors; empty: all of them

    @classmethod
    def parse(cls, values: Iterable[str] | None) -> Include:
        """`include=responses&include=suggestions&include=vectors` or `include=vectors:a,b`."""
        responses = suggestions = False
        vectors: set[str] | None = None
        all_vectors = False
        for raw in values or []:
            for part in [raw] if raw.startswith("vectors:") else raw.split(","):
                part = part.strip()
                if part == "responses":
                    responses = True
                elif part == "suggestions":
                    suggestions = True
                elif part == "vectors":
                    all_vectors = True
                elif part.startswith("vectors:"):
                    names = {n.strip() for n in part.removeprefix("vectors:").split(",") if n.strip()}
                    vectors = (vectors or set()) | names
                elif part:
                    raise Invalid(
                        f"unknown include value {part!r}: use responses, suggestions, vectors or vectors:<name>,<name>"
                    )
        if all_vectors and vectors:
            raise Invalid("include=vectors and include=vectors:<names> cannot be combined")
        chosen = frozenset() if all_vectors else (frozenset(vectors) if vectors else None)
        return cls(responses=responses, suggestions=suggestions, vectors=chosen)


def vector_values(blob: bytes) -> list[float]:
    values: list[float] = np.frombuffer(blob, dtype="<f8").tolist()
    return values


def suggestion_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "question_id": row["question_id"],
        "type": row["type"],
        "value": row["value"],
        "agent": row["agent"],
        "score": row["score"],
        "inserted_at": wire_datetime(row["inserted_at"]),
        "updated_at": wire_datetime(row["updated_at"]),
    }


def response_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "values": row["values"],
        "status": row["status"],
        "record_id": row["record_id"],
        "user_id": row["user_id"],
        "inserted_at": wire_datetime(row["inserted_at"]),
        "updated_at": wire_datetime(row["updated_at"]),
    }


def record_dict(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {
        "id": row["id"],
        "status": row["status"],
        "fields": row["fields"],
        "metadata": row["metadata"],
        "external_id": row["external_id"],
        "dataset_id": row["dataset_id"],
        "inserted_at": wire_datetime(row["inserted_at"]),
        "updated_at": wire_datetime(row["updated_at"]),
    }


async def fetch_records(session: AsyncSession, ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[str, Any]]:
    """Record wire dicts by id (no embedded relations)."""
    out: dict[uuid.UUID, dict[str, Any]] = {}
    for batch in chunks(ids, 500):
        for row in (await session.execute(select(*RECORD_COLUMNS).where(Record.id.in_(batch)))).mappings():
            out[row["id"]] = record_dict({**row, "metadata": row["metadata_"]})
    return out


async def embed_relations(
    session: AsyncSession,
    records: list[dict[str, Any]],
    include: Include,
    *,
    only_user: uuid.UUID | None = None,
) -> None:
    """Add `responses`, `suggestions` and `vectors` to record dicts, as `include` asks; with
    `only_user`, responses are limited to that user's."""
    ids = [r["id"] for r in records]
    if not ids:
        return
    if include.responses:
        by_record: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
        for batch in chunks(ids, 500):
            query = (
                select(Response.__table__).where(Response.record_id.in_(batch)).order_by(Response.inserted_at)
            )
            if only_user is not None:
                query = query.where(Response.user_id == only_user)
            for row in (await session.execute(query)).mappings():
                by_record[row["record_id"]].append(response_dict(row))
        for record in records:
            record["responses"] = by_record.get(record["id"], [])
    if include.suggestions:
        suggestions: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
        for batch in chunks(ids, 500):
            query = (
                select(Suggestion.__table__)
                .where(Suggestion.record_id.in_(batch))
                .order_by(Suggestion.inserted_at)
            )
            for row in (await session.execute(query)).mappings():
                suggestions[row["record_id"]].append(suggestion_dict(row))
        for record in records:
            record["suggestions"] = suggestions.get(record["id"], [])
    if include.vectors is not None:
        vectors: dict[uuid.UUID, dict[str, list[float]]] = defaultdict(dict)
        for batch in chunks(ids, 500):
            query = (
                select(Vector.record_id, VectorSettings.name, Vector.value)
                .join(VectorSettings, VectorSettings.id == Vector.vector_settings_id)
                .where(Vector.record_id.in_(batch))
            )
            if include.vectors:
                query = query.where(VectorSettings.name.in_(include.vectors))
            for record_id, name, blob in await session.execute(query):
                vectors[record_id][name] = vector_values(blob)
        for record in records:
            record["vectors"] = vectors.get(record["id"], {})
