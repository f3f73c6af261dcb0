"""Outbound event subscriptions, and the outbox messages that deliver to them.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "subscriptions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("secret", sa.String(length=128), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
    )
    op.create_index(op.f("ix_subscriptions_active"), "subscriptions", ["active"])
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("subscription_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("last_status", sa.Integer(), nullable=True))
        batch.create_foreign_key(
            "fk_outbox_subscription_id_subscriptions",
            "subscriptions",
            ["subscription_id"],
            ["id"],
            ondelete="SET NULL",
        )
        batch.create_index("ix_outbox_subscription_id", ["subscription_id"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_subscription_id")
        batch.drop_constraint("fk_outbox_subscription_id_subscriptions", type_="foreignkey")
        batch.drop_column("subscription_id")
        batch.drop_column("last_status")
    op.drop_index(op.f("ix_subscriptions_active"), table_name="subscriptions")
    op.drop_table("subscriptions")
