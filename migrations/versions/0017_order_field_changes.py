"""Order field history: fields that flows set on the order, with before and after.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.base import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "order_field_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=128), nullable=False),
        sa.Column("before", JSON, nullable=True),
        sa.Column("after", JSON, nullable=True),
        sa.Column("flow_key", sa.String(length=64), nullable=False),
        sa.Column("flow_version", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("node_name", sa.String(length=200), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("changed_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_order_field_changes_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_order_field_changes_run_id_runs"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_field_changes")),
    )
    with op.batch_alter_table("order_field_changes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_order_field_changes_order_id_id", ["order_id", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("order_field_changes", schema=None) as batch_op:
        batch_op.drop_index("ix_order_field_changes_order_id_id")
    op.drop_table("order_field_changes")
