"""What a run sends: each matched record as a `run`, large values as signed URLs, and batches.

A run (one record):

    {"id", "external_id", "status", "fields", "metadata",
     "responses": [{"values", "status", "user": {"id", "username"}, "inserted_at", "updated_at"}],
     "suggestions": [{"question", "value", "score", "agent", "type"}],
     "inserted_at", "updated_at", "dataset": {"id", "name"}, "fields_urls": null | {...}}

A field whose value is larger than the inline limit (as JSON) is `null` in `fields` and
`fields_urls["<field>"] = {"presigned_url": …}` has it. If the record is still larger than the limit,
`fields`, `metadata`, `responses` and `suggestions` are all `null` and `fields_urls["ROOT"]` serves
the whole run as it would have been inline.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import orjson
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.models import Dataset, Question, Record, Response, Suggestion, User
from quire.server.rules.stats import feedback_stats
from quire.server.rules.urls import ROOT, Signer
from quire.server.sql import chunks
from quire.server.wire import wire_datetime

ROOT_KEYS = ("fields", "metadata", "responses", "suggestions")


def window_time(moment: datetime) -> str:
    """`2024-04-05T01:28:54.734491+00:00`, as seed 001's `start_time` / `end_time`."""
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _size(value: Any) -> int:
    return len(orjson.dumps(value))


async def load_runs(
    session: AsyncSession, dataset: Dataset, record_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, dict[str, Any]]:
    """The full runs (nothing left out) of the given records of `dataset`, by record id."""
    runs: dict[uuid.UUID, dict[str, Any]] = {}
    responses: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    suggestions: dict[uuid.UUID, list[dict[str, Any]]] = defaultdict(list)
    dataset_ref = {"id": str(dataset.id), "name": dataset.name}
    for batch in chunks(list(record_ids), 500):
        rows = await session.execute(
            select(
                Record.id,
                Record.external_id,
                Record.status,
                Record.fields,
                Record.metadata_,
                Record.inserted_at,
                Record.updated_at,
                Record.dataset_id,
            ).where(Record.id.in_(batch))  # by primary key; the dataset is checked here, not in SQL
        )
        for row in rows:
            if row.dataset_id != dataset.id:
                continue
            runs[row.id] = {
                "id": str(row.id),
                "external_id": row.external_id,
                "status": str(row.status),
                "fields": row.fields,
                "metadata": row.metadata_,
                "responses": responses[row.id],
                "suggestions": suggestions[row.id],
                "inserted_at": wire_datetime(row.inserted_at),
                "updated_at": wire_datetime(row.updated_at),
                "dataset": dataset_ref,
                "fields_urls": None,
            }
        response_rows = await session.execute(
            select(
                Response.record_id,
                Response.values,
                Response.status,
                Response.user_id,
                User.username,
                Response.inserted_at,
                Response.updated_at,
            )
            .join(User, User.id == Response.user_id)
            .where(Response.record_id.in_(batch))
            .order_by(Response.inserted_at, Response.id)
        )
        for row in response_rows:
            responses[row.record_id].append(
                {
                    "values": row.values,
                    "status": str(row.status),
                    "user": {"id": str(row.user_id), "username": row.username},
                    "inserted_at": wire_datetime(row.inserted_at),
                    "updated_at": wire_datetime(row.updated_at),
                }
            )
        suggestion_rows = await session.execute(
            select(
                Suggestion.record_id,
                Question.name,
                Suggestion.value,
                Suggestion.score,
                Suggestion.agent,
                Suggestion.type,
            )
            .join(Question, Question.id == Suggestion.question_id)
            .where(Suggestion.record_id.in_(batch))
            .order_by(Question.inserted_at, Question.name)
        )
        for row in suggestion_rows:
            suggestions[row.record_id].append(
                {
                    "question": row.name,
                    "value": row.value,
                    "score": row.score,
                    "agent": row.agent,
                    "type": None if row.type is None else str(row.type),
                }
            )
    return runs


@dataclass(frozen=True)
class Shrunk:
    run: dict[str, Any]
    size: int
    """Bytes of the run as JSON."""


def shrink(run: dict[str, Any], *, limit: int, signer: Signer) -> Shrunk:
    """The run as it goes out: values over `limit` bytes replaced by signed URLs."""
    record_id = uuid.UUID(run["id"])
    urls: dict[str, dict[str, str]] = {}
    fields = run["fields"]
    if isinstance(fields, dict):
        for name, value in fields.items():
            if _size(value) > limit:
                urls[name] = {"presigned_url": signer.url(record_id, name, value)}
    out = run
    if urls:
        out = {**run, "fields": {k: (None if k in urls else v) for k, v in fields.items()}}
        out["fields_urls"] = urls
    size = _size(out)
    if size > limit:
        urls = {**urls, ROOT: {"presigned_url": signer.url(record_id, ROOT, run)}}
        out = {**out, **dict.fromkeys(ROOT_KEYS), "fields_urls": urls}
        size = _size(out)
    return Shrunk(out, size)


def batches(runs: Sequence[Shrunk], *, max_runs: int, max_bytes: int) -> Iterator[list[Shrunk]]:
    """Consecutive groups of at most `max_runs` runs whose bodies stay under `max_bytes` (a run
    larger than that on its own goes alone)."""
    current: list[Shrunk] = []
    size = 0
    for item in runs:
        if current and (len(current) >= max_runs or size + item.size + 1 > max_bytes):
            yield current
            current, size = [], 0
        current.append(item)
        size += item.size + 1
    if current:
        yield current


def body(
    rule_id: uuid.UUID,
    start: datetime,
    end: datetime,
    batch: Sequence[Shrunk],
    full: dict[uuid.UUID, dict[str, Any]],
    questions: Sequence[tuple[str, str]],
) -> dict[str, Any]:
    """One POST: seed 001's `{rule_id, start_time, end_time, runs, feedback_stats}`; the stats are
    computed over the full records (responses left out of the body still count)."""
    responses = [r for item in batch for r in full[uuid.UUID(item.run["id"])]["responses"]]
    return {
        "rule_id": str(rule_id),
        "start_time": window_time(start),
        "end_time": window_time(end),
        "runs": [item.run for item in batch],
        "feedback_stats": feedback_stats(questions, responses),
    }
