"""Automation rules: rules, their actions, run logs, which run queued which delivery, server keys

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21 07:48:58.847219
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "server_keys",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name"),
    )
    op.create_table(
        "rules",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("dataset_id", sa.Uuid(), nullable=False),
        sa.Column("filter", sa.Text(), nullable=False),
        sa.Column("sampling_rate", sa.Float(), nullable=False),
        sa.Column("interval_seconds", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("backfill_from", sa.DateTime(), nullable=True),
        sa.Column("next_window_start", sa.DateTime(), nullable=False),
        sa.Column("next_run_at", sa.DateTime(), nullable=False),
        sa.Column("last_run_at", sa.DateTime(), nullable=True),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["dataset_id"], ["datasets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rules_dataset_id"), ["dataset_id"], unique=False)
        batch_op.create_index("ix_rules_due", ["enabled", "next_run_at"], unique=False)

    op.create_table(
        "rule_actions",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=30), nullable=False),
        sa.Column("webhook_id", sa.Uuid(), nullable=True),
        sa.Column("target_dataset_id", sa.Uuid(), nullable=True),
        sa.Column("include_suggestions", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["webhook_id"], ["webhooks.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rule_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_actions_rule_id"), ["rule_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_rule_actions_webhook_id"), ["webhook_id"], unique=False)

    op.create_table(
        "rule_runs",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("rule_id", sa.Uuid(), nullable=False),
        sa.Column("trigger", sa.String(length=20), nullable=False),
        sa.Column("start_time", sa.DateTime(), nullable=False),
        sa.Column("end_time", sa.DateTime(), nullable=True),
        sa.Column("changed", sa.Integer(), nullable=False),
        sa.Column("matched", sa.Integer(), nullable=False),
        sa.Column("sampled", sa.Integer(), nullable=False),
        sa.Column(
            "actions",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("duration_ms", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("inserted_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["rule_id"], ["rules.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("rule_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_runs_inserted_at"), ["inserted_at"], unique=False)
        batch_op.create_index("ix_rule_runs_rule", ["rule_id", "id"], unique=False)

    op.create_table(
        "rule_deliveries",
        sa.Column("delivery_id", sa.Uuid(), nullable=False),
        sa.Column("run_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("action_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["delivery_id"], ["deliveries.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["run_id"], ["rule_runs.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("delivery_id"),
    )
    with op.batch_alter_table("rule_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_rule_deliveries_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("rule_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_deliveries_run_id"))

    op.drop_table("rule_deliveries")
    with op.batch_alter_table("rule_runs", schema=None) as batch_op:
        batch_op.drop_index("ix_rule_runs_rule")
        batch_op.drop_index(batch_op.f("ix_rule_runs_inserted_at"))

    op.drop_table("rule_runs")
    with op.batch_alter_table("rule_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_rule_actions_webhook_id"))
        batch_op.drop_index(batch_op.f("ix_rule_actions_rule_id"))

    op.drop_table("rule_actions")
    with op.batch_alter_table("rules", schema=None) as batch_op:
        batch_op.drop_index("ix_rules_due")
        batch_op.drop_index(batch_op.f("ix_rules_dataset_id"))

    op.drop_table("rules")
    op.drop_table("server_keys")
