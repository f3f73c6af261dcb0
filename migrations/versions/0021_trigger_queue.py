"""Queued trigger events: a flow with ``concurrency: queue`` keeps the events that arrive
while its run of the order is open, and starts them in arrival order when it finishes. And
``orders.on_hold``: the order names a hold (``data.holds``), for the board's "held".

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
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("on_hold", sa.Boolean(), server_default=sa.false(), nullable=False)
        )
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "UPDATE orders SET on_hold = true WHERE jsonb_typeof(data->'holds') = 'array'"
            " AND jsonb_array_length(data->'holds') > 0"
        )
    else:
        op.execute(
            "UPDATE orders SET on_hold = 1 WHERE json_type(data, '$.holds') = 'array'"
            " AND json_array_length(data, '$.holds') > 0"
        )


def downgrade() -> None:
    with op.batch_alter_table("orders", schema=None) as batch_op:
        batch_op.drop_column("on_hold")
    with op.batch_alter_table("trigger_receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_trigger_receipts_status")
        batch_op.drop_column("reason")
        batch_op.drop_column("event_data")
        batch_op.drop_column("event_kind")
        batch_op.drop_column("status")
