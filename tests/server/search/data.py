"""Test data for search: a declarative description of a dataset and its records, written to the
store with the ORM (plus the derived `record_metadata` / `record_texts` rows), and read back by the
reference evaluator in `reference.py`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
from sqlalchemy import func, insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.datasets.service import get_dataset
from quire.server.db import Database
from quire.server.models import (
    Dataset,
    Field,
    MetadataKey,
    MetadataProperty,
    Question,
    Record,
    RecordMetadataValue,
    RecordText,
    Response,
    Suggestion,
    User,
    UserRole,
    Vector,
    VectorSettings,
    Workspace,
)
from quire.server.records.indexing import metadata_rows, text_rows

T0 = datetime(2024, 1, 1, tzinfo=UTC)

QUESTIONS: dict[str, dict[str, Any]] = {
    "label": {"type": "label_selection", "options": [{"value": v, "text": v} for v in ("pos", "neg", "neu")]},
    "topics": {
        "type": "multi_label_selection",
        "options": [{"value": v, "text": v} for v in ("a", "b", "c")],
    },
    "rating": {"type": "rating", "options": [{"value": v} for v in range(1, 6)]},
    "rank": {"type": "ranking", "options": [{"value": v, "text": v} for v in ("r1", "r2", "r3")]},
    "comment": {"type": "text", "use_markdown": False},
    "spans": {"type": "span", "field": "text", "options": [{"value": v, "text": v} for v in ("PER", "ORG")]},
}
METADATA: dict[str, dict[str, Any]] = {
    "lang": {"type": "terms", "values": None},
    "n": {"type": "integer", "min": None, "max": None},
    "score": {"type": "float", "min": None, "max": None},
}
FIELDS: dict[str, str] = {"text": "text", "extra": "text"}


@dataclass
class Rec:
    external_id: str | None = None
    status: str = "pending"
    fields: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    # question -> {"value": ..., "score": ..., "agent": ..., "type": ...}
    suggestions: dict[str, dict[str, Any]] = field(default_factory=dict)
    # user key -> {"status": ..., "values": {question: value}}
    responses: dict[str, dict[str, Any]] = field(default_factory=dict)
    vectors: dict[str, list[float]] = field(default_factory=dict)
    inserted_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass
class Spec:
    records: list[Rec]
    questions: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(QUESTIONS))
    metadata: dict[str, dict[str, Any]] = field(default_factory=lambda: dict(METADATA))
    fields: dict[str, str] = field(default_factory=lambda: dict(FIELDS))
    vectors: dict[str, int] = field(default_factory=dict)
    users: tuple[str, ...] = ("u1", "u2")


@dataclass
class Seeded:
    dataset_id: uuid.UUID
    record_ids: list[uuid.UUID]  # in insertion order, parallel to spec.records
    user_ids: dict[str, uuid.UUID]
    spec: Spec

    def index(self, record_id: uuid.UUID) -> int:
        return self.record_ids.index(record_id)


def vector_bytes(values: list[float]) -> bytes:
    return np.asarray(values, dtype="<f8").tobytes()


async def seed(database: Database, spec: Spec) -> Seeded:
    async with database.transaction() as session:
        return await seed_in(session, spec, dialect=database.dialect)


async def seed_in(session: AsyncSession, spec: Spec, *, dialect: str) -> Seeded:
    tag = uuid.uuid4().hex[:8]
    workspace = Workspace(name=f"ws-{tag}")
    session.add(workspace)
    await session.flush()
    dataset = Dataset(
        name=f"ds-{tag}",
        workspace_id=workspace.id,
        distribution={"strategy": "overlap", "min_submitted": 1},
        status="ready",
    )
    session.add(dataset)
    await session.flush()
    question_ids: dict[str, uuid.UUID] = {}
    for position, (name, kind) in enumerate(spec.fields.items()):
        session.add(
            Field(name=name, title=name, settings={"type": kind}, position=position, dataset_id=dataset.id)
        )
    for i, (name, settings) in enumerate(spec.questions.items()):
        question = Question(
            name=name,
            title=name,
            settings=settings,
            dataset_id=dataset.id,
            inserted_at=T0 + timedelta(seconds=i),
        )
        session.add(question)
        await session.flush()
        question_ids[name] = question.id
    for i, (name, settings) in enumerate(spec.metadata.items()):
        session.add(
            MetadataProperty(
                name=name,
                title=name,
                settings=settings,
                dataset_id=dataset.id,
                inserted_at=T0 + timedelta(seconds=i),
            )
        )
    vector_ids: dict[str, uuid.UUID] = {}
    for name, dims in spec.vectors.items():
        vs = VectorSettings(name=name, title=name, dimensions=dims, dataset_id=dataset.id)
        session.add(vs)
        await session.flush()
        vector_ids[name] = vs.id
    user_ids: dict[str, uuid.UUID] = {}
    for key in spec.users:
        user = User(username=f"{key}-{tag}", role=UserRole.annotator, api_key_hash=uuid.uuid4().hex)
        session.add(user)
        await session.flush()
        user_ids[key] = user.id

    next_seq = 1
    if dialect == "sqlite":
        next_seq = int(await session.scalar(select(func.coalesce(func.max(Record.seq), 0))) or 0) + 1
    # Ascending, as quire's own (time-ordered) ids are: ties of a sort (broken by id) then read in
    # insertion order, which keeps hand-written expectations readable.
    record_ids = sorted((uuid.uuid4() for _ in spec.records), key=lambda u: u.hex)
    metadata_keys: dict[str, int] = {}
    for name in sorted({name for rec in spec.records for name in rec.metadata or {}}):
        key = MetadataKey(dataset_id=dataset.id, name=name)
        session.add(key)
        await session.flush()
        metadata_keys[name] = key.id
    record_rows: list[dict[str, Any]] = []
    meta: list[dict[str, Any]] = []
    texts: list[dict[str, Any]] = []
    suggestions: list[dict[str, Any]] = []
    responses: list[dict[str, Any]] = []
    vectors: list[dict[str, Any]] = []
    for i, (rid, rec) in enumerate(zip(record_ids, spec.records, strict=True)):
        inserted = rec.inserted_at or T0 + timedelta(minutes=i)
        row: dict[str, Any] = {
            "id": rid,
            "dataset_id": dataset.id,
            "external_id": rec.external_id,
            "fields": rec.fields,
            "metadata_": rec.metadata or None,
            "status": rec.status,
            "inserted_at": inserted,
            "updated_at": rec.updated_at or inserted,
        }
        if dialect == "sqlite":
            row["seq"] = next_seq + i
        record_rows.append(row)
        meta += metadata_rows(rid, metadata_keys, rec.metadata)
        texts += text_rows(rid, dataset.id, rec.fields, spec.fields)
        for qname, s in rec.suggestions.items():
            suggestions.append(
                {
                    "id": uuid.uuid4(),
                    "record_id": rid,
                    "question_id": question_ids[qname],
                    "value": s["value"],
                    "score": s.get("score"),
                    "agent": s.get("agent"),
                    "type": s.get("type"),
                }
            )
        for user_key, r in rec.responses.items():
            responses.append(
                {
                    "id": uuid.uuid4(),
                    "record_id": rid,
                    "user_id": user_ids[user_key],
                    "status": r["status"],
                    "values": {q: {"value": v} for q, v in r.get("values", {}).items()},
                }
            )
        for vname, value in rec.vectors.items():
            vectors.append(
                {
                    "id": uuid.uuid4(),
                    "record_id": rid,
                    "vector_settings_id": vector_ids[vname],
                    "value": vector_bytes(value),
                }
            )
    for model, rows in (
        (Record, record_rows),
        (RecordMetadataValue, meta),
        (RecordText, texts),
        (Suggestion, suggestions),
        (Response, responses),
        (Vector, vectors),
    ):
        if rows:
            await session.execute(insert(model), rows)
    return Seeded(dataset_id=dataset.id, record_ids=record_ids, user_ids=user_ids, spec=spec)


async def load_dataset(session: AsyncSession, dataset_id: uuid.UUID) -> Dataset:
    return await get_dataset(session, dataset_id, with_settings=True)
