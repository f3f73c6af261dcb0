"""Approval readers: people copied on an approval step (抄送) or mentioned in its comments.

Revision ID: 0020
Revises: 0018
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from app.models.base import UTCDateTime

revision = "0020"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_readers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("task_key", sa.String(length=128), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("role", sa.String(length=32), nullable=True),
        sa.Column("reason", sa.String(length=16), nullable=False),
        sa.Column("added_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_approval_readers_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_readers")),
    )  # fmt: skip
    with op.batch_alter_table("approval_readers", schema=None) as batch_op:
        batch_op.create_index("ix_approval_readers_step", ["run_id", "node_id"], unique=False)
        batch_op.create_index("ix_approval_readers_username", ["username"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("approval_readers", schema=None) as batch_op:
        batch_op.drop_index("ix_approval_readers_username")
        batch_op.drop_index("ix_approval_readers_step")
    op.drop_table("approval_readers")
