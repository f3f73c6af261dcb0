"""Chat apps (Feishu first): connected apps, per-person approval cards, callback receipts.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None

WHEN = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "chat_apps",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("platform", sa.String(16), nullable=False),
        sa.Column("app_id", sa.String(64), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("base_url", sa.String(255), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("token_sealed", sa.Text(), nullable=True),
        sa.Column("token_expires_at", WHEN, nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.UniqueConstraint("platform", "app_id"),
    )
    op.create_table(
        "chat_cards",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "chat_app_id",
            sa.Integer(),
            sa.ForeignKey("chat_apps.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("task_key", sa.String(128), nullable=False, index=True),
        sa.Column(
            "user_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("message_id", sa.String(128), nullable=False),
        sa.Column("shows", sa.String(16), nullable=False),
        sa.Column("sent_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=True),
        sa.UniqueConstraint("chat_app_id", "task_key", "user_id"),
    )
    op.create_table(
        "chat_receipts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column(
            "chat_app_id",
            sa.Integer(),
            sa.ForeignKey("chat_apps.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("event_key", sa.String(128), nullable=False),
        sa.Column("received_at", WHEN, nullable=False),
        sa.UniqueConstraint("chat_app_id", "event_key"),
    )


def downgrade() -> None:
    op.drop_table("chat_receipts")
    op.drop_table("chat_cards")
    op.drop_table("chat_apps")
