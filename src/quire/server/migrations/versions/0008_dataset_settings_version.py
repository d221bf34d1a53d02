"""Count changes to a dataset's settings (fields, questions, metadata properties, vector settings)
in `datasets.settings_version`, so a process can keep the settings it loaded and know, from the
dataset's row alone, whether they are still current.

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("datasets", sa.Column("settings_version", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN (SQLite 3.35+): a batch copy of `datasets` would have to drop and
    # re-create the table that everything else points at
    op.drop_column("datasets", "settings_version")
