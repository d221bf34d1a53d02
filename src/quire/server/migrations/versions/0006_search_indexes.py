"""Covering indexes for filtered search: metadata value indexes carry the record id, the per-record
metadata index carries the values, and records are indexed by (dataset, inserted_at).

Revision ID: 0006
Revises: 0005
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("record_metadata", schema=None) as batch_op:
        batch_op.drop_index("ix_record_metadata_text")
        batch_op.drop_index("ix_record_metadata_num")
        batch_op.drop_index("ix_record_metadata_record_id")
        batch_op.create_index(
            "ix_record_metadata_text",
            ["dataset_id", "name", "value_text", "record_id"],
            unique=False,
            sqlite_where=sa.text("value_text IS NOT NULL"),
            postgresql_where=sa.text("value_text IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_record_metadata_num",
            ["dataset_id", "name", "value_num", "record_id"],
            unique=False,
            sqlite_where=sa.text("value_num IS NOT NULL"),
            postgresql_where=sa.text("value_num IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_record_metadata_record", ["record_id", "name", "value_num", "value_text"], unique=False
        )
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.create_index("ix_records_dataset_inserted_at", ["dataset_id", "inserted_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("records", schema=None) as batch_op:
        batch_op.drop_index("ix_records_dataset_inserted_at")
    with op.batch_alter_table("record_metadata", schema=None) as batch_op:
        batch_op.drop_index("ix_record_metadata_record")
        batch_op.drop_index("ix_record_metadata_num")
        batch_op.drop_index("ix_record_metadata_text")
        batch_op.create_index("ix_record_metadata_record_id", ["record_id"], unique=False)
        batch_op.create_index(
            "ix_record_metadata_num",
            ["dataset_id", "name", "value_num"],
            unique=False,
            sqlite_where=sa.text("value_num IS NOT NULL"),
            postgresql_where=sa.text("value_num IS NOT NULL"),
        )
        batch_op.create_index(
            "ix_record_metadata_text",
            ["dataset_id", "name", "value_text"],
            unique=False,
            sqlite_where=sa.text("value_text IS NOT NULL"),
            postgresql_where=sa.text("value_text IS NOT NULL"),
        )
