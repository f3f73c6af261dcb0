"""Approval audit trail and sign-in links, notifications (in-app, channels, templates), user
contact ids and out-of-office delegates.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "approval_links",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("task_key", sa.String(length=128), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_links")),
        sa.UniqueConstraint("nonce", name=op.f("uq_approval_links_nonce")),
    )
    with op.batch_alter_table("approval_links", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approval_links_task_key"), ["task_key"], unique=False)

    op.create_table(
        "notification_channels",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("config", JSON, nullable=False),
        sa.Column("events", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_channels")),
        sa.UniqueConstraint("name", name=op.f("uq_notification_channels_name")),
    )
    op.create_table(
        "notification_templates",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("channel_kind", sa.String(length=16), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_templates")),
        sa.UniqueConstraint(
            "channel_kind", "event", "language", name="uq_notification_templates_key"
        ),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("source_key", sa.String(length=200), nullable=False),
        sa.Column("event", sa.String(length=32), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("url", sa.String(length=512), nullable=True),
        sa.Column("task_key", sa.String(length=128), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_notifications_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint("source_key", name=op.f("uq_notifications_source_key")),
    )
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.create_index(
            "ix_notifications_user_id_read_at", ["user_id", "read_at"], unique=False
        )

    op.create_table(
        "approval_actions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("task_key", sa.String(length=128), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=True),
        sa.Column("on_behalf_of", sa.String(length=64), nullable=True),
        sa.Column("to_user", sa.String(length=64), nullable=True),
        sa.Column("decision", sa.String(length=16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("via", sa.String(length=16), nullable=True),
        sa.Column("device", sa.String(length=255), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["runs.id"],
            name=op.f("fk_approval_actions_run_id_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_approval_actions")),
    )
    with op.batch_alter_table("approval_actions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_approval_actions_actor"), ["actor"], unique=False)
        batch_op.create_index(batch_op.f("ix_approval_actions_run_id"), ["run_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_approval_actions_task_key"), ["task_key"], unique=False
        )

    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=32), nullable=True))
        batch_op.add_column(sa.Column("wecom_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("dingtalk_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("feishu_id", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("away_from", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("away_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("away_delegate", sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("away_delegate")
        batch_op.drop_column("away_until")
        batch_op.drop_column("away_from")
        batch_op.drop_column("feishu_id")
        batch_op.drop_column("dingtalk_id")
        batch_op.drop_column("wecom_id")
        batch_op.drop_column("phone")

    with op.batch_alter_table("approval_actions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_actions_task_key"))
        batch_op.drop_index(batch_op.f("ix_approval_actions_run_id"))
        batch_op.drop_index(batch_op.f("ix_approval_actions_actor"))

    op.drop_table("approval_actions")
    with op.batch_alter_table("notifications", schema=None) as batch_op:
        batch_op.drop_index("ix_notifications_user_id_read_at")

    op.drop_table("notifications")
    op.drop_table("notification_templates")
    op.drop_table("notification_channels")
    with op.batch_alter_table("approval_links", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_links_task_key"))

    op.drop_table("approval_links")
