"""Bulk create and upsert of records with their suggestions, responses and vectors.

Every item is validated before the batch commits; one bad item rejects the batch with a 422 that
names its position, and the transaction rolls back, so nothing of the batch is written. Writes go
per kind of row, one statement for many records (never a query per record): records, the metadata
and text index rows, suggestions, vectors, responses, then the status of the records whose responses
changed.

This is the ingest hot path (`benchmarks/ingest.py`); on purpose:
- Rows are written as driver SQL with parameters encoded here, once, in exactly the form
  SQLAlchemy's column types would bind them (`RowWriter`): SQLAlchemy's per-row parameter processing
  cost more than the database work.
- A multi-row `INSERT … VALUES (…), (…)` per table, not `executemany` (on SQLite that made the
  FTS5 trigger of `record_texts` flush its index once per row).
- On SQLite the statements of the write transaction run on the event loop's thread, with no hop
  to the driver's (`sqlite_driver`).
- Rows that belong to new records are plain INSERTs: nothing can conflict with a record that did not
  exist. Only rows of existing records go through `ON CONFLICT … DO UPDATE`.
- New ids are time-ordered (UUIDv7), so the indexes over ids and `record_id` columns grow at their
  right edge instead of splitting pages all over the tree.
- No cyclic garbage collection while a batch is handled (`gc_paused`).
"""

from __future__ import annotations

import gc
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, Select, bindparam, func, literal_column, select
from sqlalchemy.ext.asyncio import AsyncSession

from quire.server.datasets.question_values import InvalidValue
from quire.server.db import JSON_OPTIONS, Dialect, json_dumps
from quire.server.errors import Invalid
from quire.server.ids import time_ordered_ids, time_ordered_ints
from quire.server.models import (
    Dataset,
    DatasetStatus,
    Question,
    Record,
    RecordStatus,
    Response,
    User,
    VectorSettings,
    table_of,
    utcnow,
)
from quire.server.records.indexing import indexed_names, metadata_entries, text_entries
from quire.server.records.schemas import RecordUpsertIn
from quire.server.records.serialize import Include, embed_relations, response_dict
from quire.server.records.status import StatusChange, refresh_record_statuses
from quire.server.records.validation import RecordRules
from quire.server.records.writer import RowWriter
from quire.server.sql import chunks
from quire.server.wire import wire_datetime

_PENDING = RecordStatus.pending.value
_records = table_of(Record)


# ---------------------------------------------------------------- garbage collection

_gc_pauses = 0
_gc_paused_since = 0.0
GC_PAUSE_LIMIT_SECONDS = 10.0


@contextmanager
def gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a batch is handled (nestable; shared by concurrent ones).

    A batch allocates tens of thousands of objects that all live until its response is built: every
    collection they trigger walks them, and they push the full collections that walk the whole heap
    of the process. Nearly all of them are freed by reference counting once the batch is done, so
    callers drop their references before leaving the block. Should overlapping batches keep the
    collector off for more than `GC_PAUSE_LIMIT_SECONDS`, the one leaving runs a collection."""
    global _gc_pauses, _gc_paused_since
    if _gc_pauses == 0:
        if not gc.isenabled():  # someone else turned it off: not ours to turn back on
            yield
            return
        gc.disable()
        _gc_paused_since = time.monotonic()
    _gc_pauses += 1
    try:
        yield
    finally:
        _gc_pauses -= 1
        if _gc_pauses == 0:
            gc.enable()
        elif time.monotonic() - _gc_paused_since > GC_PAUSE_LIMIT_SECONDS:
            gc.collect()
            _gc_paused_since = time.monotonic()


_RECORD_COLUMNS = (
    "id",
    "dataset_id",
    "external_id",
    "fields",
    "metadata",
    "status",
    "inserted_at",
    "updated_at",
)
_SUGGESTION_COLUMNS = (
    "id",
    "record_id",
    "question_id",
    "value",
    "score",
    "agent",
    "type",
    "inserted_at",
    "updated_at",
)
_SUGGESTION_UPDATES = ("value", "score", "agent", "type", "updated_at")
_VECTOR_COLUMNS = ("id", "record_id", "vector_settings_id", "value", "inserted_at", "updated_at")
_RESPONSE_COLUMNS = ("id", "record_id", "user_id", "values", "status", "inserted_at", "updated_at")


# ---------------------------------------------------------------- planning


@dataclass(slots=True)
class _Existing:
    id: uuid.UUID
    dataset_id: uuid.UUID
    external_id: str | None
    fields: dict[str, Any]
    metadata: dict[str, Any] | None
    status: str
    inserted_at: Any


@dataclass(slots=True)
class _Planned:
    record_id: uuid.UUID
    existing: _Existing | None
    fields: dict[str, Any]
    fields_changed: bool
    metadata: dict[str, Any] | None
    metadata_changed: bool
    external_id: str | None
    # (question, value, score, agent, type) per suggestion
    suggestions: list[tuple[Question, Any, Any, str | None, str | None]] = field(default_factory=list)
    vectors: list[tuple[VectorSettings, bytes, list[float]]] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class BulkOutcome:
    """What a bulk write did, for the response body and for events."""

    items: list[dict[str, Any]]
    created: list[uuid.UUID]
    updated: list[uuid.UUID]
    responses_created: list[uuid.UUID]
    responses_updated: list[uuid.UUID]
    status_changes: list[StatusChange]


def _reject(position: int | None, message: str) -> Invalid:
    where = "Record" if position is None else f"Record at position {position}"
    return Invalid(f"{where} is not valid because {message}")


_EXISTING_COLUMNS = (
    _records.c.id,
    _records.c.dataset_id,
    _records.c.external_id,
    _records.c.fields,
    _records.c.metadata,
    _records.c.status,
    _records.c.inserted_at,
)


def _existing_query(key: ColumnElement[Any], *, sqlite: bool, in_dataset: bool) -> Select[Any]:
    """Records whose `key` is one of the `members` parameter. On SQLite the members go as one JSON
    array (`IN (SELECT value FROM json_each(?))`), so the statement is the same for every batch;
    on PostgreSQL as an expanding parameter."""
    if sqlite:
        members: Any = select(literal_column("value")).select_from(func.json_each(bindparam("members")))
    else:
        members = bindparam("members", expanding=True)
    query = select(*_EXISTING_COLUMNS).where(key.in_(members))
    return query.where(_records.c.dataset_id == bindparam("dataset_id")) if in_dataset else query


# Built once per store (building a statement costs more than running it): by id, by external id.
_EXISTING_QUERIES = {
    sqlite: (
        _existing_query(_records.c.id, sqlite=sqlite, in_dataset=False),
        _existing_query(_records.c.external_id, sqlite=sqlite, in_dataset=True),
    )
    for sqlite in (True, False)
}


async def _existing_records(
    writer: RowWriter, dataset: Dataset, items: Sequence[RecordUpsertIn]
) -> tuple[dict[uuid.UUID, _Existing], dict[str, _Existing]]:
    by_id: dict[uuid.UUID, _Existing] = {}
    by_external: dict[str, _Existing] = {}
    by_id_query, by_external_query = _EXISTING_QUERIES[writer.sqlite]

    def members(batch: list[Any]) -> Any:
        return json_dumps(batch) if writer.sqlite else batch

    ids = [writer.id(item.id) for item in items if item.id is not None]
    for batch in chunks(ids, 500):
        for row in await writer.conn.execute(by_id_query, {"members": members(batch)}):
            by_id[row[0]] = _Existing(*row)
    external_ids = [item.external_id for item in items if item.external_id is not None]
    for batch in chunks(external_ids, 500):
        params = {"members": members(batch), "dataset_id": dataset.id}
        for row in await writer.conn.execute(by_external_query, params):
            by_external[row[2]] = _Existing(*row)
    return by_id, by_external


def _duplicates(values: list[Any]) -> list[str]:
    seen: set[Any] = set()
    dupes: list[str] = []
    for value in values:
        if value in seen and str(value) not in dupes:
            dupes.append(str(value))
        seen.add(value)
    return dupes


async def write_records(
    session: AsyncSession,
    *,
    dataset: Dataset,
    items: Sequence[RecordUpsertIn],
    dialect: Dialect,
    create_only: bool = False,
    single: bool = False,
) -> BulkOutcome:
    """Validate and write a batch. `dataset` must have its settings loaded. With `single`, error
    messages do not mention a position (one record written through its own endpoint)."""
    if create_only and dataset.status != DatasetStatus.ready:
        raise Invalid("records cannot be created for a non published dataset")
    for label, values in (
        ("external ids", [i.external_id for i in items if i.external_id is not None]),
        ("ids", [i.id for i in items if i.id is not None]),
    ):
        if dupes := _duplicates(values):
            raise Invalid(f"found records with same {label} in the batch: {', '.join(dupes)}")

    rules = RecordRules(dataset)
    writer = await RowWriter.open(session, dialect)
    by_id, by_external = await _existing_records(writer, dataset, items)
    if create_only and by_external:
        raise Invalid(f"found records with same external ids: {', '.join(sorted(by_external))}")

    now = utcnow()
    planner = _Planner(rules, dataset, by_id, by_external, create_only=create_only, single=single)
    planner.new_ids = iter(time_ordered_ids(sum(1 for item in items if planner.needs_new_id(item))))
    # PostgreSQL fills seq from its identity
    rows = _Rows(writer, dataset, now, await writer.next_seq() if writer.sqlite else 0)
    with gc_paused():
        planned = [planner.plan(index, item) for index, item in enumerate(items)]
    names = {name for p in planned if p.metadata_changed and p.metadata for name in indexed_names(p.metadata)}
    rows.metadata_keys = await writer.metadata_keys(dataset.id, names)
    with gc_paused():
        rows.add(planned)
    await rows.send()
    if planner.user_ids:
        await planner.check_users(session)

    responses_created, responses_updated = await _write_responses(session, writer, planned, now)
    touched = [p.record_id for p in planned if p.responses]
    status_changes = (
        await refresh_record_statuses(session, dataset=dataset, record_ids=touched) if touched else []
    )
    await writer.touch_dataset(dataset, now)

    # The wire form: statuses that changed, responses, and what existing records kept.
    statuses = {change.record_id: change.new.value for change in status_changes}
    existing_items: list[dict[str, Any]] = []
    for p, record in zip(planned, rows.items, strict=True):
        if statuses:
            record["status"] = statuses.get(p.record_id, record["status"])
        if p.existing is not None:
            existing_items.append(record)
        elif p.responses:
            record["responses"] = [response_dict(r) for r in p.responses]
    await embed_relations(
        session, existing_items, Include(responses=True, suggestions=True, vectors=frozenset())
    )
    return BulkOutcome(
        items=rows.items,
        created=[p.record_id for p in planned if p.existing is None],
        updated=[p.record_id for p in planned if p.existing is not None],
        responses_created=responses_created,
        responses_updated=responses_updated,
        status_changes=status_changes,
    )


class _Planner:
    """Matches each item to the record it writes (existing or new) and validates it; errors name
    the item's position."""

    def __init__(
        self,
        rules: RecordRules,
        dataset: Dataset,
        by_id: dict[uuid.UUID, _Existing],
        by_external: dict[str, _Existing],
        *,
        create_only: bool,
        single: bool,
    ) -> None:
        self.rules = rules
        self.dataset_id = dataset.id
        self.by_id = by_id
        self.by_external = by_external
        self.create_only = create_only
        self.single = single
        self.new_ids: Iterator[uuid.UUID] = iter(())
        self.claimed: dict[uuid.UUID, int | None] = {}
        self.user_ids: dict[uuid.UUID, int | None] = {}  # users of responses, with a position

    def _foreign(self, item: RecordUpsertIn) -> bool:
        """The item's id is a record of another dataset (e.g. records copied between datasets)."""
        found = self.by_id.get(item.id) if item.id is not None else None
        return found is not None and found.dataset_id != self.dataset_id

    def needs_new_id(self, item: RecordUpsertIn) -> bool:
        return item.id is None or self._foreign(item)

    def plan(self, index: int, item: RecordUpsertIn) -> _Planned:
        position = None if self.single else index
        existing = None
        foreign = self._foreign(item)
        if item.id is not None and item.id in self.by_id and not foreign:
            existing = self.by_id[item.id]
            if self.create_only:
                raise _reject(position, f"a record with id {item.id} already exists")
        elif item.external_id is not None:
            existing = self.by_external.get(item.external_id)
        if existing is not None:
            if existing.id in self.claimed:
                raise _reject(position, f"it targets the same record as position {self.claimed[existing.id]}")
            self.claimed[existing.id] = position
            record_id = existing.id
        else:
            # Argilla semantics for an id of another dataset: a new record with an id of its own.
            record_id = item.id if item.id is not None and not foreign else next(self.new_ids)
        try:
            plan = _plan(self.rules, item, existing, record_id)
        except InvalidValue as exc:
            raise _reject(position, str(exc)) from None
        for response in plan.responses:
            self.user_ids.setdefault(response["user_id"], position)
        return plan

    async def check_users(self, session: AsyncSession) -> None:
        known: set[uuid.UUID] = set()
        for batch in chunks(list(self.user_ids), 500):
            known.update(await session.scalars(select(User.id).where(User.id.in_(batch))))
        for user_id, position in self.user_ids.items():
            if user_id not in known:
                raise _reject(
                    position, f"record does not have valid responses: user with id {user_id} not found"
                )


def _plan(
    rules: RecordRules, item: RecordUpsertIn, existing: _Existing | None, record_id: uuid.UUID
) -> _Planned:
    if item.fields is not None or existing is None:
        fields = rules.fields(item.fields)
        fields_changed = existing is None or fields != existing.fields
    else:
        fields, fields_changed = existing.fields, False
    if item.metadata is not None:
        metadata = rules.metadata(item.metadata)
        metadata_changed = existing is None or metadata != existing.metadata
    else:
        metadata = existing.metadata if existing else None
        metadata_changed = False
    plan = _Planned(
        record_id,
        existing,
        fields,
        fields_changed,
        metadata,
        metadata_changed,
        existing.external_id if existing else item.external_id,
    )
    if item.suggestions:
        plan.suggestions = [
            (question, value, s.score, s.agent, s.type.value if s.type else None)
            for question, s, value in rules.suggestions(item.suggestions, fields)
        ]
    if item.vectors:
        plan.vectors = [
            (settings, blob, item.vectors[settings.name]) for settings, blob in rules.vectors(item.vectors)
        ]
    if item.responses:
        plan.responses = [
            {
                "record_id": record_id,
                "user_id": response.user_id,
                "values": values,
                "status": response.status.value,
            }
            for response, values in rules.responses(item.responses, fields)
        ]
    return plan


class _Rows:
    """The rows of a batch, built a chunk of planned records at a time and sent to the database in
    dependency order (records before what points at them), and the records' wire form."""

    def __init__(self, writer: RowWriter, dataset: Dataset, now: datetime, next_seq: int) -> None:
        self.writer = writer
        self.dataset = dataset
        self.field_types = {f.name: str(f.settings["type"]) for f in dataset.fields}
        self.dataset_key = writer.id(dataset.id)
        self.question_keys = {q: writer.id(q.id) for q in dataset.questions}
        self.question_ids = {q: q.id for q in dataset.questions}  # no ORM attribute access per row
        self.vector_keys = {v.id: writer.id(v.id) for v in dataset.vectors_settings}
        self.stamp = writer.time(now)
        self.wire_now = wire_datetime(now)
        self.next_seq = next_seq
        self.metadata_keys: dict[str, int] = {}  # name -> metadata_keys.id, for every name written
        self.items: list[dict[str, Any]] = []
        self._clear()

    def _clear(self) -> None:
        self.new_records: list[tuple[Any, ...]] = []
        self.old_records: list[tuple[Any, ...]] = []
        self.stale_metadata: list[Any] = []
        self.stale_texts: list[Any] = []
        self.metadata: list[tuple[Any, ...]] = []
        self.texts: list[tuple[Any, ...]] = []
        self.suggestions: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]] = ([], [])
        self.vectors: tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]] = ([], [])

    def add(self, planned: list[_Planned]) -> None:
        w = self.writer
        sqlite = w.sqlite
        key = w.id
        dumps = orjson.dumps
        options = JSON_OPTIONS
        dataset_key, stamp, wire_now = self.dataset_key, self.stamp, self.wire_now
        dataset_id = self.dataset.id
        question_keys, question_ids, field_types = self.question_keys, self.question_ids, self.field_types
        metadata_keys = self.metadata_keys
        child_ids = iter(time_ordered_ints(sum(len(p.suggestions) + len(p.vectors) for p in planned)))
        new_record, next_seq = self.new_records.append, self.next_seq
        new_suggestion, old_suggestion = self.suggestions[0].append, self.suggestions[1].append
        add_item = self.items.append
        for p in planned:
            record_key = p.record_id.hex if sqlite else p.record_id
            old = p.existing is not None
            fields_json = dumps(p.fields, option=options).decode()
            metadata_json = dumps(p.metadata, option=options).decode()
            if old:
                self.old_records.append((fields_json, metadata_json, stamp, record_key))
            elif sqlite:
                new_record(
                    (
                        record_key,
                        dataset_key,
                        p.external_id,
                        fields_json,
                        metadata_json,
                        _PENDING,
                        stamp,
                        stamp,
                        next_seq,
                    )
                )
                next_seq += 1
            else:
                new_record(
                    (
                        record_key,
                        dataset_key,
                        p.external_id,
                        fields_json,
                        metadata_json,
                        _PENDING,
                        stamp,
                        stamp,
                    )
                )
            if p.metadata_changed:
                if old:
                    self.stale_metadata.append(record_key)
                self.metadata += [
                    (record_key, metadata_keys[name], text, num, multi)
                    for name, text, num, multi in metadata_entries(p.metadata)
                ]
            if p.fields_changed:
                if old:
                    self.stale_texts.append(record_key)
                self.texts += [
                    (record_key, dataset_key, name, body)
                    for name, body in text_entries(p.fields, field_types)
                ]
            wire_suggestions = []
            add_suggestion = old_suggestion if old else new_suggestion
            for question, value, score, agent, kind in p.suggestions:
                h = f"{next(child_ids):032x}"
                add_suggestion(
                    (
                        h if sqlite else uuid.UUID(h), record_key, question_keys[question],
                        dumps(value, option=options).decode(), dumps(score, option=options).decode(),
                        agent, kind, stamp, stamp,
                    )
                )  # fmt: skip
                wire_suggestions.append(
                    {
                        "id": f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}", "question_id": question_ids[question],
                        "type": kind, "value": value, "agent": agent, "score": score,
                        "inserted_at": wire_now, "updated_at": wire_now,
                    }
                )  # fmt: skip
            for settings, blob, _ in p.vectors:
                vector_id = uuid.UUID(int=next(child_ids))
                self.vectors[old].append(
                    (key(vector_id), record_key, self.vector_keys[settings.id], blob, stamp, stamp)
                )
            if old:
                assert p.existing is not None
                record: dict[str, Any] = {
                    "id": p.record_id, "status": p.existing.status, "fields": p.fields,
                    "metadata": p.metadata, "external_id": p.external_id, "dataset_id": dataset_id,
                    "inserted_at": wire_datetime(p.existing.inserted_at), "updated_at": wire_now,
                }  # fmt: skip
            else:
                record = {
                    "id": p.record_id, "status": _PENDING, "fields": p.fields, "metadata": p.metadata,
                    "external_id": p.external_id, "dataset_id": dataset_id, "inserted_at": wire_now,
                    "updated_at": wire_now, "suggestions": wire_suggestions, "responses": [],
                    "vectors": {settings.name: values for settings, _, values in p.vectors} if p.vectors else {},
                }  # fmt: skip
            add_item(record)
        self.next_seq = next_seq

    async def send(self) -> None:
        """Hand the rows built since the last call to the database."""
        w = self.writer
        columns = (*_RECORD_COLUMNS, "seq") if w.sqlite else _RECORD_COLUMNS
        await w.insert("records", columns, self.new_records)
        await w.update_records(self.old_records)
        await w.delete_where_in("record_metadata", "record_id", self.stale_metadata)
        await w.insert(
            "record_metadata",
            ("record_id", "key_id", "value_text", "value_num", "multi"),
            self.metadata,
        )
        await w.delete_where_in("record_texts", "record_id", self.stale_texts)
        await w.insert("record_texts", ("record_id", "dataset_id", "field_name", "body"), self.texts)
        for rows, conflict in zip(self.suggestions, ("", "record_id, question_id"), strict=True):
            await w.insert(
                "suggestions", _SUGGESTION_COLUMNS, rows, conflict=conflict, update=_SUGGESTION_UPDATES
            )
        for rows, conflict in zip(self.vectors, ("", "record_id, vector_settings_id"), strict=True):
            await w.insert(
                "vectors", _VECTOR_COLUMNS, rows, conflict=conflict, update=("value", "updated_at")
            )
        self._clear()


async def _write_responses(
    session: AsyncSession, writer: RowWriter, planned: list[_Planned], now: datetime
) -> tuple[list[uuid.UUID], list[uuid.UUID]]:
    """Upsert responses per (record, user); each planned response dict gets its id and timestamps."""
    responses = [row for p in planned for row in p.responses]
    if not responses:
        return [], []
    existing_records = [p.record_id for p in planned if p.existing is not None and p.responses]
    current: dict[tuple[uuid.UUID, uuid.UUID], uuid.UUID] = {}
    for batch in chunks(existing_records, 500):
        query = select(Response.record_id, Response.user_id, Response.id).where(Response.record_id.in_(batch))
        for record_id, user_id, response_id in await session.execute(query):
            current[(record_id, user_id)] = response_id
    created: list[uuid.UUID] = []
    updated: list[uuid.UUID] = []
    rows: list[tuple[Any, ...]] = []
    new_ids = iter(time_ordered_ids(len(responses)))
    key, stamp = writer.id, writer.time(now)
    for response in responses:
        known = current.get((response["record_id"], response["user_id"]))
        if known is None:
            response["id"] = next(new_ids)
            created.append(response["id"])
        else:
            response["id"] = known
            updated.append(known)
        response["inserted_at"] = response["updated_at"] = now
        rows.append(
            (
                key(response["id"]), key(response["record_id"]), key(response["user_id"]),
                json_dumps(response["values"]), response["status"], stamp, stamp,
            )
        )  # fmt: skip
    await writer.insert(
        "responses",
        _RESPONSE_COLUMNS,
        rows,
        conflict="record_id, user_id",
        update=("values", "status", "updated_at"),
    )
    return created, updated
