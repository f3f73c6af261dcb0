"""Connected chat apps keep whether their organisation syncs nightly, and the last sync.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("chat_apps") as batch:
        batch.add_column(
            sa.Column("org_sync_nightly", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(sa.Column("org_sync_last", JSON, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("chat_apps") as batch:
        batch.drop_column("org_sync_last")
        batch.drop_column("org_sync_nightly")
