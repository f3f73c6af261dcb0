"""Queued trigger events: a flow with ``concurrency: queue`` keeps the events that arrive
while its run of the order is open, and starts them in arrival order when it finishes. And
``orders.on_hold``: the order names a hold (``data.holds``), for the board's "held".

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Plain ADD COLUMN, no table rebuild: on SQLite rebuilding ``orders`` would drop the old
    # table, and with foreign keys on that deletes every row that references an order.
    op.add_column(
        "trigger_receipts",
        sa.Column("status", sa.String(length=16), server_default="started", nullable=False),
    )
    op.add_column("trigger_receipts", sa.Column("event_kind", sa.String(length=64)))
    op.add_column("trigger_receipts", sa.Column("event_data", JSON))
    op.add_column("trigger_receipts", sa.Column("reason", sa.String(length=400)))
    op.create_index("ix_trigger_receipts_status", "trigger_receipts", ["status"])
    op.add_column(
        "orders", sa.Column("on_hold", sa.Boolean(), server_default=sa.false(), nullable=False)
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
    # DROP COLUMN in place (SQLite 3.35+ too), for the same reason.
    op.drop_column("orders", "on_hold")
    op.drop_index("ix_trigger_receipts_status", table_name="trigger_receipts")
    for column in ("reason", "event_data", "event_kind", "status"):
        op.drop_column("trigger_receipts", column)
