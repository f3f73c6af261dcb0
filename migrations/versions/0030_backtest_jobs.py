"""Backtest jobs run in the background, with their progress and the orders that change.

Revision ID: 0030
Revises: 0029
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.base import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0030"
down_revision = "0029"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backtest_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("flow_key", sa.String(length=64), nullable=False),
        sa.Column("draft", JSON, nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("cursor_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("cursor_id", sa.Integer(), nullable=True),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.Column("claim", sa.String(length=32), nullable=True),
        sa.Column("summary", JSON, nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("finished_at", UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"],
            ["users.id"],
            name=op.f("fk_backtest_jobs_created_by_id_users"),
            ondelete="SET NULL",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtest_jobs")),
    )
    op.create_index(op.f("ix_backtest_jobs_flow_key"), "backtest_jobs", ["flow_key"])
    op.create_table(
        "backtest_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("external_id", sa.String(length=128), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("changes", JSON, nullable=False),
        sa.Column("published", JSON, nullable=False),
        sa.Column("draft", JSON, nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["backtest_jobs.id"],
            name=op.f("fk_backtest_changes_job_id_backtest_jobs"),
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backtest_changes")),
    )
    op.create_index("ix_backtest_changes_job_id_id", "backtest_changes", ["job_id", "id"])


def downgrade() -> None:
    op.drop_table("backtest_changes")
    op.drop_table("backtest_jobs")
