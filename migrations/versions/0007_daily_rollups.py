"""Daily rollups of the duration, node and edge histograms, filled from the hourly ones.

Long dashboard ranges read one row per local day instead of 24 hourly rows. Days are those
of the business time zone (``ORDERFLOW_TIMEZONE``, default Asia/Shanghai).

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from __future__ import annotations

import os
from collections import defaultdict
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.base import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rollup_durations_daily",
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("day", UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("hist", JSON, nullable=False),
        sa.PrimaryKeyConstraint("metric", "day", "channel", name=op.f("pk_rollup_durations_daily")),
    )
    op.create_table(
        "rollup_edges_daily",
        sa.Column("flow_version_id", sa.Integer(), nullable=False),
        sa.Column("from_node", sa.String(length=64), nullable=False),
        sa.Column("to_node", sa.String(length=64), nullable=False),
        sa.Column("day", UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("hist", JSON, nullable=False),
        sa.PrimaryKeyConstraint(
            "flow_version_id", "from_node", "to_node", "day", name=op.f("pk_rollup_edges_daily")
        ),
    )
    op.create_table(
        "rollup_nodes_daily",
        sa.Column("flow_version_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("day", UTCDateTime(timezone=True), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("waits", sa.Integer(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("hist", JSON, nullable=False),
        sa.Column("branches", JSON, nullable=False),
        sa.PrimaryKeyConstraint(
            "flow_version_id", "node_id", "day", name=op.f("pk_rollup_nodes_daily")
        ),
    )
    _fill_from_hourly()


def _table(name: str, plain: tuple[str, ...], time: str, maps: tuple[str, ...]) -> sa.TableClause:
    return sa.table(
        name,
        *(sa.column(c) for c in plain),
        sa.column(time, UTCDateTime(timezone=True)),
        *(sa.column(m, JSON) for m in maps),
    )


def _fill_from_hourly() -> None:
    """Daily rows for installations that already have hourly ones."""
    try:
        zone = ZoneInfo(os.environ.get("ORDERFLOW_TIMEZONE") or "Asia/Shanghai")
    except (KeyError, ValueError):
        zone = ZoneInfo("Asia/Shanghai")
    conn = op.get_bind()
    for hourly, daily, keys, numbers, maps in (
        ("rollup_durations_hourly", "rollup_durations_daily", ("metric", "channel"), ("count", "total"), ("hist",)),
        ("rollup_nodes_hourly", "rollup_nodes_daily", ("flow_version_id", "node_id"),
         ("passes", "waits", "total"), ("hist", "branches")),
        ("rollup_edges_hourly", "rollup_edges_daily", ("flow_version_id", "from_node", "to_node"),
         ("count", "total"), ("hist",)),
    ):  # fmt: skip
        source = _table(hourly, (*keys, *numbers), "hour", maps)
        sums: dict = defaultdict(
            lambda: {"n": defaultdict(float), "m": defaultdict(lambda: defaultdict(int))}
        )
        for row in conn.execute(sa.select(source)).mappings():
            local = row["hour"].astimezone(zone)
            day = datetime(local.year, local.month, local.day, tzinfo=zone).astimezone(UTC)
            acc = sums[(*(row[k] for k in keys), day)]
            for n in numbers:
                acc["n"][n] += row[n] or 0
            for m in maps:
                for name, count in (row[m] or {}).items():
                    acc["m"][m][name] += int(count)
        if not sums:
            continue
        target = _table(daily, (*keys, *numbers), "day", maps)
        rows = []
        for key, acc in sums.items():
            row = dict(zip((*keys, "day"), key, strict=True))
            row |= {n: (int(v) if n != "total" else v) for n, v in acc["n"].items()}
            row |= {m: dict(acc["m"][m]) for m in maps}
            rows.append(row)
        conn.execute(sa.insert(target), rows)


def downgrade() -> None:
    op.drop_table("rollup_nodes_daily")
    op.drop_table("rollup_edges_daily")
    op.drop_table("rollup_durations_daily")
