"""Trigger receipts: each order event starts each flow once.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trigger_receipts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow_id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(length=200), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name=op.f("fk_trigger_receipts_flow_id_flows"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_trigger_receipts_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_trigger_receipts_run_id_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trigger_receipts")),
        sa.UniqueConstraint(
            "flow_id", "event_key", name=op.f("uq_trigger_receipts_flow_id_event_key")
        ),
    )
    with op.batch_alter_table("trigger_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_trigger_receipts_order_id"), ["order_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("trigger_receipts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_trigger_receipts_order_id"))
    op.drop_table("trigger_receipts")
