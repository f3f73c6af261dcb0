"""Chat cards keep the code that updates them (WeCom's one-time ``response_code``).

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("chat_cards") as batch:
        batch.add_column(sa.Column("update_code", sa.String(128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat_cards") as batch:
        batch.drop_column("update_code")
