"""PostgreSQL: index the event stream's cursor (txid, id).

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # SQLite orders the stream by id alone (writers are serialized), so the index is PostgreSQL's.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE INDEX ix_events_txid ON events (txid, id)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_events_txid")
