"""Mark metadata rows of records that hold several values under one name (`multi`), so search can
tell in one index probe that a property is single-valued and walk its value index in order.

Revision ID: 0007
Revises: 0006
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "record_metadata", sa.Column("multi", sa.Boolean(), nullable=False, server_default=sa.false())
    )
    op.execute(
        "UPDATE record_metadata SET multi = true WHERE (record_id, name) IN "
        "(SELECT record_id, name FROM record_metadata GROUP BY record_id, name HAVING count(*) > 1)"
    )
    op.create_index(
        "ix_record_metadata_multi",
        "record_metadata",
        ["dataset_id", "name"],
        unique=False,
        sqlite_where=sa.text("multi = 1"),
        postgresql_where=sa.text("multi"),
    )


def downgrade() -> None:
    op.drop_index("ix_record_metadata_multi", table_name="record_metadata")
    with op.batch_alter_table("record_metadata", schema=None) as batch_op:
        batch_op.drop_column("multi")
