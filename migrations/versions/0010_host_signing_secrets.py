"""Allowed hosts may carry their own signing secret for outbound webhooks.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("allowed_hosts") as batch:
        batch.add_column(sa.Column("signing_secret", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("allowed_hosts") as batch:
        batch.drop_column("signing_secret")
