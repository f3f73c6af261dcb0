"""Channel kinds that speak their platform's protocol: signature settings per channel, and
the deliveries held for an admin to fix and replay.

Revision ID: 0025
Revises: 0021
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.base import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0025"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.add_column(sa.Column("settings", JSON, nullable=True))
    op.create_table(
        "channel_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.String(length=128), nullable=True),
        sa.Column("topic", sa.String(length=16), nullable=False),
        sa.Column("platform_topic", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("problems", JSON, nullable=False),
        sa.Column("payload", JSON, nullable=True),
        sa.Column("order_id", sa.Integer(), nullable=True),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("replayed_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channels.id"], name=op.f("fk_channel_deliveries_channel_id_channels"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_channel_deliveries_order_id_orders"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_deliveries")),
    )  # fmt: skip
    with op.batch_alter_table("channel_deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_channel_deliveries_channel_status", ["channel_id", "status"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("channel_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_deliveries_channel_status")
    op.drop_table("channel_deliveries")
    with op.batch_alter_table("channels", schema=None) as batch_op:
        batch_op.drop_column("settings")
