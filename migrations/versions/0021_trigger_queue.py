"""Queued trigger events: a flow with ``concurrency: queue`` keeps the events that arrive
while its run of the order is open, and starts them in arrival order when it finishes.

Revision ID: 0021
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0021"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trigger_receipts", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("status", sa.String(length=16), server_default="started", nullable=False)
        )
        batch_op.add_column(sa.Column("event_kind", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("event_data", JSON, nullable=True))
        batch_op.add_column(sa.Column("reason", sa.String(length=400), nullable=True))
        batch_op.create_index("ix_trigger_receipts_status", ["status"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("trigger_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_trigger_receipts_status")
        batch_op.drop_column("reason")
        batch_op.drop_column("event_data")
        batch_op.drop_column("event_kind")
        batch_op.drop_column("status")
