"""Runs keep where they stand for the orders board (``runs.stand``), filled in for the runs
already stored from their snapshots.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.runs.stand import stand_of

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
RUNS = sa.table(
    "runs", sa.column("id"), sa.column("status"), sa.column("snapshot", JSON), sa.column("stand")
)

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("stand", sa.String(length=16), nullable=True))
    op.create_index("ix_runs_stand_order_id", "runs", ["stand", "order_id"])
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(RUNS.c.id, RUNS.c.status, RUNS.c.snapshot).where(RUNS.c.status != "cancelled")
    )
    for run_id, status, snapshot in rows.all():
        stand = stand_of(status, snapshot or {})
        if stand is not None:
            conn.execute(RUNS.update().where(RUNS.c.id == run_id).values(stand=stand))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_index("ix_runs_stand_order_id")
        batch_op.drop_column("stand")
