"""ORM models: every table of the store, together, because relationships and migrations need them
all at once. Relationships are `lazy="raise"`: whoever needs related rows loads them explicitly.

Timestamps are timezone-aware UTC in Python and stored as naive UTC (`UTCDateTime`). Enumerations are
stored as short strings so that migrations never have to alter a database enum type.
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    Uuid,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in Python, naive UTC in the database (sortable as text in SQLite)."""

    impl = DateTime(timezone=False)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")
# A 64-bit integer that is also SQLite's rowid when used as a primary key.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class UserRole(enum.StrEnum):
    owner = "owner"
    admin = "admin"
    annotator = "annotator"


class DatasetStatus(enum.StrEnum):
    draft = "draft"
    ready = "ready"


class RecordStatus(enum.StrEnum):
    pending = "pending"
    completed = "completed"


class ResponseStatus(enum.StrEnum):
    draft = "draft"
    submitted = "submitted"
    discarded = "discarded"


class SuggestionType(enum.StrEnum):
    model = "model"
    human = "human"


class Base(DeclarativeBase):
    pass


def table_of(model: type[Base]) -> Table:
    """A mapped class's Core table, typed as such (for bulk statements)."""
    return cast(Table, model.__table__)


def _same_as_inserted_at(context: Any) -> datetime:
    """A new row's updated_at equals its inserted_at (receivers tell created from updated by it)."""
    value = context.get_current_parameters().get("inserted_at")
    return value if value is not None else utcnow()


class TimestampMixin:
    inserted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime, default=_same_as_inserted_at, onupdate=utcnow, nullable=False
    )


def _uuid_pk() -> Mapped[uuid.UUID]:
    return mapped_column(Uuid, primary_key=True, default=uuid.uuid4)


class User(TimestampMixin, Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = _uuid_pk()
    first_name: Mapped[str] = mapped_column(String(255), default="")
    last_name: Mapped[str | None] = mapped_column(String(255))
    username: Mapped[str] = mapped_column(String(255), unique=True)
    role: Mapped[UserRole] = mapped_column(String(20))
    api_key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str | None] = mapped_column(String(255))

    workspaces: Mapped[list[Workspace]] = relationship(
        secondary="workspaces_users", lazy="raise", viewonly=True, order_by="Workspace.inserted_at"
    )


class Workspace(TimestampMixin, Base):
    __tablename__ = "workspaces"

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(255), unique=True)


class WorkspaceUser(TimestampMixin, Base):
    __tablename__ = "workspaces_users"
    __table_args__ = (UniqueConstraint("workspace_id", "user_id", name="uq_workspaces_users"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    workspace_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("workspaces.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)


class Dataset(TimestampMixin, Base):
    __tablename__ = "datasets"
    __table_args__ = (UniqueConstraint("name", "workspace_id", name="uq_datasets_name_workspace"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(255))
    guidelines: Mapped[str | None] = mapped_column(Text)
    allow_extra_metadata: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[DatasetStatus] = mapped_column(String(20), default=DatasetStatus.draft)
    distribution: Mapped[dict[str, Any]] = mapped_column(JSONType)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    workspace_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("workspaces.id", ondelete="RESTRICT"), index=True
    )
    last_activity_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Bumped in the transaction that changes a field, question, metadata property or vector
    # settings of the dataset (`datasets.settings_cache`).
    settings_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")

    workspace: Mapped[Workspace] = relationship(lazy="raise")
    fields: Mapped[list[Field]] = relationship(lazy="raise", order_by="Field.position", viewonly=True)
    questions: Mapped[list[Question]] = relationship(
        lazy="raise", order_by="Question.inserted_at", viewonly=True
    )
    metadata_properties: Mapped[list[MetadataProperty]] = relationship(
        lazy="raise", order_by="MetadataProperty.inserted_at", viewonly=True
    )
    vectors_settings: Mapped[list[VectorSettings]] = relationship(
        lazy="raise", order_by="VectorSettings.inserted_at", viewonly=True
    )


class Field(TimestampMixin, Base):
    __tablename__ = "fields"
    __table_args__ = (UniqueConstraint("name", "dataset_id", name="uq_fields_name_dataset"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    position: Mapped[int] = mapped_column(Integer)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)


class Question(TimestampMixin, Base):
    __tablename__ = "questions"
    __table_args__ = (UniqueConstraint("name", "dataset_id", name="uq_questions_name_dataset"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(Text)
    required: Mapped[bool] = mapped_column(Boolean, default=False)
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)


class MetadataProperty(TimestampMixin, Base):
    __tablename__ = "metadata_properties"
    __table_args__ = (UniqueConstraint("name", "dataset_id", name="uq_metadata_properties_name_dataset"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    settings: Mapped[dict[str, Any]] = mapped_column(JSONType)
    visible_for_annotators: Mapped[bool] = mapped_column(Boolean, default=True)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)


class VectorSettings(TimestampMixin, Base):
    __tablename__ = "vectors_settings"
    __table_args__ = (UniqueConstraint("name", "dataset_id", name="uq_vectors_settings_name_dataset"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(500))
    dimensions: Mapped[int] = mapped_column(Integer)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)


class Record(TimestampMixin, Base):
    __tablename__ = "records"
    __table_args__ = (
        UniqueConstraint("external_id", "dataset_id", name="uq_records_external_id_dataset"),
        Index("ix_records_dataset_seq", "dataset_id", "seq"),
        Index("ix_records_dataset_status", "dataset_id", "status"),
        Index("ix_records_dataset_updated_at", "dataset_id", "updated_at"),
        Index("ix_records_dataset_inserted_at", "dataset_id", "inserted_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    # Monotonic insertion number: a stable paging order. PostgreSQL fills it from an identity;
    # SQLite writers (serialized by BEGIN IMMEDIATE) assign max+1.
    seq: Mapped[int] = mapped_column(BigInteger, Identity(), unique=True)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    external_id: Mapped[str | None] = mapped_column(String(255))
    fields: Mapped[dict[str, Any]] = mapped_column(JSONType)
    metadata_: Mapped[dict[str, Any] | None] = mapped_column("metadata", JSONType)
    status: Mapped[RecordStatus] = mapped_column(String(20), default=RecordStatus.pending)


class MetadataKey(Base):
    """A metadata name of a dataset, numbered: index rows carry the small number instead of the
    dataset id and the name. Every name a record's metadata holds gets one (declared as a metadata
    property or not); rows go with their dataset."""

    __tablename__ = "metadata_keys"
    __table_args__ = (UniqueConstraint("dataset_id", "name", name="uq_metadata_keys_dataset_name"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))


class RecordMetadataValue(Base):
    """One scalar metadata value of a record, typed and indexed for filters and sorting.

    `records.metadata` stays the source of truth; these rows are rewritten with it. A list value
    yields one row per member, each marked `multi` when there are several. The name is a
    `MetadataKey` (which also fixes the dataset): the value indexes take their entries' place in
    random order (a score, a length), so every batch of writes dirties most of their pages, and
    an integer key keeps those pages few (a third of the size with the dataset id and the name).
    """

    __tablename__ = "record_metadata"
    __table_args__ = (
        Index(
            "ix_record_metadata_text",
            "key_id",
            "value_text",
            "record_id",
            sqlite_where=text("value_text IS NOT NULL"),
            postgresql_where=text("value_text IS NOT NULL"),
        ),
        Index(
            "ix_record_metadata_num",
            "key_id",
            "value_num",
            "record_id",
            sqlite_where=text("value_num IS NOT NULL"),
            postgresql_where=text("value_num IS NOT NULL"),
        ),
        # serves deletes by record, per-record filter checks and sort values from the index alone
        Index("ix_record_metadata_record", "record_id", "key_id", "value_num", "value_text"),
        # tells search in one probe whether any record holds several values under a name
        Index(
            "ix_record_metadata_multi",
            "key_id",
            sqlite_where=text("multi = 1"),
            postgresql_where=text("multi"),
        ),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    # no foreign key: keys go only with their dataset, whose records (and these rows) go first
    key_id: Mapped[int] = mapped_column(RowId)
    value_text: Mapped[str | None] = mapped_column(String(500))
    value_num: Mapped[float | None] = mapped_column(Float)
    # the record holds more than one value under this name (a list of several members)
    multi: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())


class RecordText(Base):
    """The searchable text of one field of one record.

    Full-text indexes hang off this table: an FTS5 table kept in sync by triggers on SQLite, a
    generated `tsvector` column with a GIN index on PostgreSQL (both created by migrations).
    PostgreSQL also indexes `dataset_id` (`ix_record_texts_dataset_id`, made by migrations); SQLite
    does not: it reads matches by rowid from FTS5, and with that index its planner drove text
    terms from it, matching every text of the dataset one by one (seconds on 60k records).
    """

    __tablename__ = "record_texts"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    field_name: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)


class Suggestion(TimestampMixin, Base):
    __tablename__ = "suggestions"
    __table_args__ = (
        UniqueConstraint("record_id", "question_id", name="uq_suggestions_record_question"),
        Index("ix_suggestions_question", "question_id"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    question_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("questions.id", ondelete="CASCADE"))
    value: Mapped[Any] = mapped_column(JSONType)
    score: Mapped[Any | None] = mapped_column(JSONType)
    agent: Mapped[str | None] = mapped_column(String(200))
    type: Mapped[SuggestionType | None] = mapped_column(String(20))


class Response(TimestampMixin, Base):
    __tablename__ = "responses"
    __table_args__ = (
        UniqueConstraint("record_id", "user_id", name="uq_responses_record_user"),
        Index("ix_responses_user", "user_id"),
        Index("ix_responses_updated_at", "updated_at"),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    values: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    status: Mapped[ResponseStatus] = mapped_column(String(20))

    user: Mapped[User] = relationship(lazy="raise")


class Vector(TimestampMixin, Base):
    __tablename__ = "vectors"
    __table_args__ = (UniqueConstraint("record_id", "vector_settings_id", name="uq_vectors_record_settings"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    record_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    vector_settings_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("vectors_settings.id", ondelete="CASCADE"), index=True
    )
    # float64 little-endian, exactly the values the client sent
    value: Mapped[bytes] = mapped_column(LargeBinary)


# ---------------------------------------------------------------- events and delivery


class Webhook(TimestampMixin, Base):
    """A receiver of events (Argilla's webhook, plus scope, headers, policy and secret rotation)."""

    __tablename__ = "webhooks"

    id: Mapped[uuid.UUID] = _uuid_pk()
    url: Mapped[str] = mapped_column(String(2048))
    secret: Mapped[str] = mapped_column(String(200))
    previous_secret: Mapped[str | None] = mapped_column(String(200))
    previous_secret_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    events: Mapped[list[str]] = mapped_column(JSONType)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    description: Mapped[str | None] = mapped_column(Text)
    headers: Mapped[dict[str, str] | None] = mapped_column(JSONType)
    policy: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # scope (no foreign keys: a dataset-scoped webhook outlives its dataset to receive dataset.deleted)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    dataset_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    disabled_reason: Mapped[str | None] = mapped_column(Text)
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0)
    # "events" for webhooks of the /webhooks API; "rule" for the webhook actions of automation rules
    kind: Mapped[str] = mapped_column(String(20), default="events")


class DatasetSnapshot(Base):
    """A dataset as it was when an event happened, shared by every event that embeds the same state
    (a 500-record batch stores the dataset once, not 500 times)."""

    __tablename__ = "dataset_snapshots"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)


class Event(Base):
    """A committed change, written in the same transaction as the change (the outbox).

    `data` is the event's data; for record and response events the nested dataset is stored once in
    `dataset_snapshots` and `snapshot_path` says where it goes back (`dataset` or `record.dataset`).
    """

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_occurred_at", "occurred_at"),
        Index("ix_events_dataset", "dataset_id", "id"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    type: Mapped[str] = mapped_column(String(50))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime)
    dataset_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    workspace_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    data: Mapped[dict[str, Any]] = mapped_column(JSONType)
    dataset_snapshot_id: Mapped[int | None] = mapped_column(ForeignKey("dataset_snapshots.id"))
    snapshot_path: Mapped[str | None] = mapped_column(String(30))
    # PostgreSQL: the writing transaction's id (server default), for a gap-free event-stream cursor
    txid: Mapped[int | None] = mapped_column(BigInteger)


class DeliveryStatus(enum.StrEnum):
    pending = "pending"
    delivering = "delivering"
    succeeded = "succeeded"
    failed = "failed"


class Delivery(TimestampMixin, Base):
    """One message to one webhook, with its retry state. `msg_id` is the `webhook-id` header: the
    same for every attempt and redelivery."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "webhook_id", name="uq_deliveries_event_webhook"),
        Index("ix_deliveries_due", "status", "next_attempt_at"),
        Index("ix_deliveries_webhook", "webhook_id", "inserted_at"),
        # the dispatcher's per-webhook claims (migration 0003)
        Index(
            "ix_deliveries_webhook_pending",
            "webhook_id",
            "next_attempt_at",
            postgresql_where=text("status = 'pending'"),
            sqlite_where=text("status = 'pending'"),
        ),
    )

    id: Mapped[uuid.UUID] = _uuid_pk()
    webhook_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("webhooks.id", ondelete="CASCADE"))
    event_id: Mapped[int | None] = mapped_column(ForeignKey("events.id", ondelete="CASCADE"))
    event_type: Mapped[str] = mapped_column(String(50))
    # a message that is not an event (an automation rule's batch) carries its own payload
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    msg_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[DeliveryStatus] = mapped_column(String(20), default=DeliveryStatus.pending)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(Text)
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeliveryAttempt(Base):
    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), index=True
    )
    number: Mapped[int] = mapped_column(Integer)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    duration_ms: Mapped[float] = mapped_column(Float)
    status_code: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))
    error: Mapped[str | None] = mapped_column(Text)
    response_snippet: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(100))


class EventStream(Base):
    """An open (or recently closed) `/events/stream` connection. While one exists, matching events
    are stored even if no webhook wants them, so the stream can resume with Last-Event-ID."""

    __tablename__ = "event_streams"

    id: Mapped[uuid.UUID] = _uuid_pk()
    event_types: Mapped[list[str] | None] = mapped_column(JSONType)
    dataset_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Lease(Base):
    """A named, expiring lock held by one process (the SQLite dispatcher, a rule's window)."""

    __tablename__ = "leases"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(100))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


# ---------------------------------------------------------------- automation rules (quire.server.rules)


class Rule(TimestampMixin, Base):
    """An automation rule: every `interval_seconds`, the records of `dataset_id` changed since the
    last run that match `filter` are sampled and handed to the rule's actions.

    `next_window_start` is where the next window begins (the end of the last run, or the creation
    time / `backfill_from` before the first run); it moves only in the transaction that queues a
    run's work, so a window is either fully done or not at all."""

    __tablename__ = "rules"
    __table_args__ = (Index("ix_rules_due", "enabled", "next_run_at"),)

    id: Mapped[uuid.UUID] = _uuid_pk()
    name: Mapped[str] = mapped_column(String(200))
    dataset_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("datasets.id", ondelete="CASCADE"), index=True)
    filter: Mapped[str] = mapped_column(Text, default="")
    sampling_rate: Mapped[float] = mapped_column(Float, default=1.0)
    interval_seconds: Mapped[int] = mapped_column(Integer)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    backfill_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    actions: Mapped[list[RuleAction]] = relationship(
        lazy="raise", order_by="RuleAction.position", viewonly=True
    )


class RuleAction(Base):
    """One action of a rule. `webhook`: POSTs batches through its own `webhooks` row (`kind="rule"`,
    which holds url, secret, headers and policy). `add_to_dataset`: copies matches into
    `target_dataset_id`."""

    __tablename__ = "rule_actions"

    id: Mapped[uuid.UUID] = _uuid_pk()
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(30))
    webhook_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("webhooks.id", ondelete="SET NULL"), index=True
    )
    target_dataset_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    include_suggestions: Mapped[bool] = mapped_column(Boolean, default=False)


class RuleRun(Base):
    """The log of one run: its window `[start_time, end_time)`, what matched, and what each action
    did (`actions`: one entry per action). A failed run (`error`) moved no window."""

    __tablename__ = "rule_runs"
    __table_args__ = (Index("ix_rule_runs_rule", "rule_id", "id"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True, autoincrement=True)
    rule_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("rules.id", ondelete="CASCADE"))
    trigger: Mapped[str] = mapped_column(String(20))
    start_time: Mapped[datetime] = mapped_column(UTCDateTime)
    end_time: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    matched: Mapped[int] = mapped_column(Integer, default=0)
    sampled: Mapped[int] = mapped_column(Integer, default=0)
    actions: Mapped[list[dict[str, Any]]] = mapped_column(JSONType)
    duration_ms: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text)
    inserted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class RuleDelivery(Base):
    """Which run and action queued a delivery (the delivered / failed counts of the run's log)."""

    __tablename__ = "rule_deliveries"

    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("deliveries.id", ondelete="CASCADE"), primary_key=True
    )
    run_id: Mapped[int] = mapped_column(ForeignKey("rule_runs.id", ondelete="CASCADE"), index=True)
    action_id: Mapped[uuid.UUID] = mapped_column(Uuid)


class ServerKey(Base):
    """Secrets every server process must share (e.g. the key that signs rule payload URLs),
    generated once and kept in the database."""

    __tablename__ = "server_keys"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(200))
    inserted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
