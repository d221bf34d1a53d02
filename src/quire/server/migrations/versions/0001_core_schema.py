"""Core schema: accounts, datasets and their settings, records, suggestions, responses, vectors

Revision ID: 0001
Revises:
Create Date: 2026-11-21 06:05:55.650874
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("first_name", sa.String(length=255), nullable=False),
        sa.Column("last_name", sa.String(length=255), nullable=True),
        sa.Column("username", sa.String(length=255), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("api_key_hash", sa.String(length=64), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=True),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("api_key_hash"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "workspaces",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name"),
    )
    op.create_table(
        "datasets",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("guidelines", sa.Text(), nullable=True),
        sa.Column("allow_extra_metadata", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column(
            "distribution",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("last_activity_at", sa.DateTime(), nullable=False),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="RESTRICT"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "workspace_id", name="uq_datasets_name_workspace"),
    )
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_datasets_workspace_id"), ["workspace_id"], unique=False)

    op.create_table(
        "workspaces_users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("workspace_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["workspace_id"], ["workspaces.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("workspace_id", "user_id", name="uq_workspaces_users"),
    )
    with op.batch_alter_table("workspaces_users", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_workspaces_users_user_id"), ["user_id"], unique=False)

    op.create_table(
        "fields",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "dataset_id", name="uq_fields_name_dataset"),
    )
    with op.batch_alter_table("fields", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_fields_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "metadata_properties",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("visible_for_annotators", sa.Boolean(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "dataset_id", name="uq_metadata_properties_name_dataset"),
    )
    with op.batch_alter_table("metadata_properties", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_metadata_properties_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "questions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("required", sa.Boolean(), nullable=False),
        sa.Column(
            "settings",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "dataset_id", name="uq_questions_name_dataset"),
    )
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_questions_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "records",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("seq", sa.BigInteger(), sa.Identity(always=False), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("external_id", sa.String(length=255), nullable=True),
        sa.Column(
            "fields",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "metadata",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("external_id", "dataset_id", name="uq_records_external_id_dataset"),
        sa.UniqueConstraint("seq"),
    )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index("ix_records_dataset_seq", ["dataset_id", "seq"], unique=False)
        batch_op.create_index("ix_records_dataset_status", ["dataset_id", "status"], unique=False)
        batch_op.create_index("ix_records_dataset_updated_at", ["dataset_id", "updated_at"], unique=False)

    op.create_table(
        "vectors_settings",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=500), nullable=False),
        sa.Column("dimensions", sa.Integer(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("name", "dataset_id", name="uq_vectors_settings_name_dataset"),
    )
    with op.batch_alter_table("vectors_settings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vectors_settings_dataset_id"), ["dataset_id"], unique=False)

    op.create_table(
        "record_metadata",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("value_text", sa.String(length=500), nullable=True),
        sa.Column("value_num", sa.Float(), nullable=True),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("record_metadata", schema=None) as batch_op:
        batch_op.create_index(
            "ix_record_metadata_num",
            ["dataset_id", "name", "value_num"],
            unique=False,
            sqlite_where=sa.text("value_num IS NOT NULL"),
            postgresql_where=sa.text("value_num IS NOT NULL"),
        )
        batch_op.create_index(batch_op.f("ix_record_metadata_record_id"), ["record_id"], unique=False)
        batch_op.create_index(
            "ix_record_metadata_text",
            ["dataset_id", "name", "value_text"],
            unique=False,
            sqlite_where=sa.text("value_text IS NOT NULL"),
            postgresql_where=sa.text("value_text IS NOT NULL"),
        )

    op.create_table(
        "record_texts",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("field_name", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("record_texts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_record_texts_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_record_texts_record_id"), ["record_id"], unique=False)

    op.create_table(
        "responses",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column(
            "values",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_id", "user_id", name="uq_responses_record_user"),
    )
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.create_index("ix_responses_updated_at", ["updated_at"], unique=False)
        batch_op.create_index("ix_responses_user", ["user_id"], unique=False)

    op.create_table(
        "suggestions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("question_id", sa.Uuid(), nullable=False),
        sa.Column(
            "value",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "score",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column("agent", sa.String(length=200), nullable=True),
        sa.Column("type", sa.String(length=20), nullable=True),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["question_id"], ["questions.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_id", "question_id", name="uq_suggestions_record_question"),
    )
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.create_index("ix_suggestions_question", ["question_id"], unique=False)

    op.create_table(
        "vectors",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("record_id", sa.Uuid(), nullable=False),
        sa.Column("vector_settings_id", sa.Uuid(), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["record_id"], ["records.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["vector_settings_id"], ["vectors_settings.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("record_id", "vector_settings_id", name="uq_vectors_record_settings"),
    )
    with op.batch_alter_table("vectors", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vectors_vector_settings_id"), ["vector_settings_id"], unique=False
        )

    _create_full_text_index()


def _create_full_text_index() -> None:
    """Full-text search over record_texts.body: FTS5 on SQLite, tsvector + GIN on PostgreSQL."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE record_texts_fts USING fts5("
            "body, content='record_texts', content_rowid='id', tokenize='unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER record_texts_ai AFTER INSERT ON record_texts BEGIN "
            "INSERT INTO record_texts_fts(rowid, body) VALUES (new.id, new.body); END"
        )
        op.execute(
            "CREATE TRIGGER record_texts_ad AFTER DELETE ON record_texts BEGIN "
            "INSERT INTO record_texts_fts(record_texts_fts, rowid, body) VALUES ('delete', old.id, old.body); END"
        )
        op.execute(
            "CREATE TRIGGER record_texts_au AFTER UPDATE ON record_texts BEGIN "
            "INSERT INTO record_texts_fts(record_texts_fts, rowid, body) VALUES ('delete', old.id, old.body); "
            "INSERT INTO record_texts_fts(rowid, body) VALUES (new.id, new.body); END"
        )
    else:
        op.execute(
            "ALTER TABLE record_texts ADD COLUMN tsv tsvector "
            "GENERATED ALWAYS AS (to_tsvector('simple', body)) STORED"
        )
        op.execute("CREATE INDEX ix_record_texts_tsv ON record_texts USING gin (tsv)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("record_texts_ai", "record_texts_ad", "record_texts_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS record_texts_fts")
    with op.batch_alter_table("vectors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vectors_vector_settings_id"))

    op.drop_table("vectors")
    with op.batch_alter_table("suggestions", schema=None) as batch_op:
        batch_op.drop_index("ix_suggestions_question")

    op.drop_table("suggestions")
    with op.batch_alter_table("responses", schema=None) as batch_op:
        batch_op.drop_index("ix_responses_user")
        batch_op.drop_index("ix_responses_updated_at")

    op.drop_table("responses")
    with op.batch_alter_table("record_texts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_record_texts_record_id"))
        batch_op.drop_index(batch_op.f("ix_record_texts_dataset_id"))

    op.drop_table("record_texts")
    with op.batch_alter_table("record_metadata", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_record_metadata_text",
            sqlite_where=sa.text("value_text IS NOT NULL"),
            postgresql_where=sa.text("value_text IS NOT NULL"),
        )
        batch_op.drop_index(batch_op.f("ix_record_metadata_record_id"))
        batch_op.drop_index(
            "ix_record_metadata_num",
            sqlite_where=sa.text("value_num IS NOT NULL"),
            postgresql_where=sa.text("value_num IS NOT NULL"),
        )

    op.drop_table("record_metadata")
    with op.batch_alter_table("vectors_settings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vectors_settings_dataset_id"))

    op.drop_table("vectors_settings")
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_dataset_updated_at")
        batch_op.drop_index("ix_records_dataset_status")
        batch_op.drop_index("ix_records_dataset_seq")

    op.drop_table("records")
    with op.batch_alter_table("questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_questions_dataset_id"))

    op.drop_table("questions")
    with op.batch_alter_table("metadata_properties", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_metadata_properties_dataset_id"))

    op.drop_table("metadata_properties")
    with op.batch_alter_table("fields", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_fields_dataset_id"))

    op.drop_table("fields")
    with op.batch_alter_table("workspaces_users", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_workspaces_users_user_id"))

    op.drop_table("workspaces_users")
    with op.batch_alter_table("datasets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_datasets_workspace_id"))

    op.drop_table("datasets")
    op.drop_table("workspaces")
    op.drop_table("users")
