"""Shipments: merge groups (合单) and warehouse allocations (拆单) decided by flows.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.base import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
OPEN_MERGE = sa.text("status = 'open' AND kind = 'merge'")

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shipments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("group_key", sa.String(length=512), nullable=True),
        sa.Column("warehouse", sa.String(length=64), nullable=True),
        sa.Column("closes_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipments")),
    )
    with op.batch_alter_table("shipments", schema=None) as batch_op:
        batch_op.create_index("ix_shipments_kind_created_at", ["kind", "created_at"])
        batch_op.create_index(
            "uq_shipments_open_group",
            ["group_key"],
            unique=True,
            sqlite_where=OPEN_MERGE,
            postgresql_where=OPEN_MERGE,
        )
    op.create_table(
        "shipment_orders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("shipment_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("lines", JSON, nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_shipment_orders_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_shipment_orders_run_id_runs"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["shipment_id"],
            ["shipments.id"],
            name=op.f("fk_shipment_orders_shipment_id_shipments"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shipment_orders")),
        sa.UniqueConstraint("shipment_id", "order_id", name="uq_shipment_orders_shipment_id"),
    )
    with op.batch_alter_table("shipment_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shipment_orders_order_id"), ["order_id"])
        batch_op.create_index(batch_op.f("ix_shipment_orders_shipment_id"), ["shipment_id"])


def downgrade() -> None:
    op.drop_table("shipment_orders")
    op.drop_table("shipments")
