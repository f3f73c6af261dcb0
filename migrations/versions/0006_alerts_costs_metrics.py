"""Alert rules and rule alerts, cost drivers and order types with each order's cost,
operational facts (orders, node visits, stock-outs, status lag) and their hourly rollups.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-22
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.base import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
BIGINT = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alert_rules",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("severity", sa.String(length=16), nullable=False),
        sa.Column("recipients", JSON, nullable=False),
        sa.Column("channels", JSON, nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("auto_resolve", sa.Boolean(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("every_seconds", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=80), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=True),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_evaluated_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_duration_ms", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_alert_rules")),
        sa.UniqueConstraint("key", name=op.f("uq_alert_rules_key")),
    )
    op.create_table(
        "cost_dimensions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("expression", sa.Text(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_dimensions")),
        sa.UniqueConstraint("key", name=op.f("uq_cost_dimensions_key")),
    )
    op.create_table(
        "cost_drivers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=200), nullable=False),
        sa.Column("name_en", sa.String(length=200), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("formula", sa.Text(), nullable=False),
        sa.Column("unit", sa.String(length=32), nullable=False),
        sa.Column("unit_rate", sa.Numeric(precision=14, scale=4), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cost_drivers")),
        sa.UniqueConstraint("key", name=op.f("uq_cost_drivers_key")),
    )
    op.create_table(
        "metric_cursors",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("position", BIGINT, nullable=False),
        sa.Column("gaps", JSON, nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_metric_cursors")),
    )
    op.create_table(
        "rollup_costs_hourly",
        sa.Column("hour", UTCDateTime(timezone=True), nullable=False),
        sa.Column("dimension_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("amount", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.PrimaryKeyConstraint(
            "hour", "dimension_id", "value", "driver_id", name=op.f("pk_rollup_costs_hourly")
        ),
    )
    op.create_table(
        "rollup_deliveries_hourly",
        sa.Column("hour", UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("promised", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "channel", name=op.f("pk_rollup_deliveries_hourly")),
    )
    op.create_table(
        "rollup_durations_hourly",
        sa.Column("metric", sa.String(length=16), nullable=False),
        sa.Column("hour", UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("hist", JSON, nullable=False),
        sa.PrimaryKeyConstraint(
            "metric", "hour", "channel", name=op.f("pk_rollup_durations_hourly")
        ),
    )
    op.create_table(
        "rollup_edges_hourly",
        sa.Column("flow_version_id", sa.Integer(), nullable=False),
        sa.Column("from_node", sa.String(length=64), nullable=False),
        sa.Column("to_node", sa.String(length=64), nullable=False),
        sa.Column("hour", UTCDateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("hist", JSON, nullable=False),
        sa.PrimaryKeyConstraint(
            "flow_version_id", "from_node", "to_node", "hour", name=op.f("pk_rollup_edges_hourly")
        ),
    )
    op.create_table(
        "rollup_lookups_hourly",
        sa.Column("hour", UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("via", sa.String(length=16), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("hour", "channel", "via", name=op.f("pk_rollup_lookups_hourly")),
    )
    op.create_table(
        "rollup_nodes_hourly",
        sa.Column("flow_version_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("hour", UTCDateTime(timezone=True), nullable=False),
        sa.Column("passes", sa.Integer(), nullable=False),
        sa.Column("waits", sa.Integer(), nullable=False),
        sa.Column("total", sa.Double(), nullable=False),
        sa.Column("hist", JSON, nullable=False),
        sa.Column("branches", JSON, nullable=False),
        sa.PrimaryKeyConstraint(
            "flow_version_id", "node_id", "hour", name=op.f("pk_rollup_nodes_hourly")
        ),
    )
    op.create_table(
        "rollup_orders_hourly",
        sa.Column("hour", UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("orders", sa.Integer(), nullable=False),
        sa.Column("manual", sa.Integer(), nullable=False),
        sa.Column("urgent", sa.Integer(), nullable=False),
        sa.Column("costed", sa.Integer(), nullable=False),
        sa.Column("cost_total", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.Column("amount_total", sa.Numeric(precision=18, scale=2), nullable=False),
        sa.PrimaryKeyConstraint("hour", "channel", name=op.f("pk_rollup_orders_hourly")),
    )
    op.create_table(
        "order_costs",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("driver_id", sa.Integer(), nullable=False),
        sa.Column("quantity", sa.Numeric(precision=18, scale=4), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.ForeignKeyConstraint(
            ["driver_id"],
            ["cost_drivers.id"],
            name=op.f("fk_order_costs_driver_id_cost_drivers"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_costs_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "driver_id", name=op.f("pk_order_costs")),
    )
    with op.batch_alter_table("order_costs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_order_costs_driver_id"), ["driver_id"], unique=False)

    op.create_table(
        "order_dimensions",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("dimension_id", sa.Integer(), nullable=False),
        sa.Column("value", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["dimension_id"],
            ["cost_dimensions.id"],
            name=op.f("fk_order_dimensions_dimension_id_cost_dimensions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_dimensions_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "dimension_id", name=op.f("pk_order_dimensions")),
    )
    with op.batch_alter_table("order_dimensions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_order_dimensions_dimension_id"), ["dimension_id"], unique=False
        )

    op.create_table(
        "order_facts",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("status_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("urgent", sa.Boolean(), nullable=False),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("province", sa.String(length=64), nullable=True),
        sa.Column("customer_tier", sa.String(length=32), nullable=True),
        sa.Column("outcome", sa.String(length=64), nullable=True),
        sa.Column("promised_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("lead_seconds", sa.Double(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("manual", sa.Boolean(), nullable=False),
        sa.Column("incidents", sa.Integer(), nullable=False),
        sa.Column("retries", sa.Integer(), nullable=False),
        sa.Column("approvals", sa.Integer(), nullable=False),
        sa.Column("cost_total", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_order_facts_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", name=op.f("pk_order_facts")),
    )
    with op.batch_alter_table("order_facts", schema=None) as batch_op:
        batch_op.create_index("ix_order_facts_created_at", ["created_at"], unique=False)
        batch_op.create_index("ix_order_facts_delivered_at", ["delivered_at"], unique=False)
        batch_op.create_index(
            "ix_order_facts_status_status_at", ["status", "status_at"], unique=False
        )

    op.create_table(
        "stockout_facts",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("run_event_id", BIGINT, nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("sku", sa.String(length=64), nullable=False),
        sa.Column("warehouse", sa.String(length=64), nullable=True),
        sa.Column("requested", sa.Integer(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_stockout_facts_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_stockout_facts")),
    )
    with op.batch_alter_table("stockout_facts", schema=None) as batch_op:
        batch_op.create_index("ix_stockout_facts_at", ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_stockout_facts_order_id"), ["order_id"], unique=False)
        batch_op.create_index("ix_stockout_facts_sku_at", ["sku", "at"], unique=False)

    op.create_table(
        "status_lag_facts",
        sa.Column("status_event_id", BIGINT, nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("received_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("lag_seconds", sa.Double(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_status_lag_facts_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["status_event_id"],
            ["status_events.id"],
            name=op.f("fk_status_lag_facts_status_event_id_status_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("status_event_id", name=op.f("pk_status_lag_facts")),
    )
    with op.batch_alter_table("status_lag_facts", schema=None) as batch_op:
        batch_op.create_index("ix_status_lag_facts_received_at", ["received_at"], unique=False)

    op.create_table(
        "node_visits",
        sa.Column("id", BIGINT, nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("flow_version_id", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(length=64), nullable=False),
        sa.Column("node_type", sa.String(length=32), nullable=True),
        sa.Column("from_node", sa.String(length=64), nullable=True),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("enter_seq", sa.Integer(), nullable=False),
        sa.Column("entered_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", UTCDateTime(timezone=True), nullable=True),
        sa.Column("dwell_seconds", sa.Double(), nullable=True),
        sa.Column("exit", sa.String(length=64), nullable=True),
        sa.ForeignKeyConstraint(
            ["flow_version_id"],
            ["flow_versions.id"],
            name=op.f("fk_node_visits_flow_version_id_flow_versions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_node_visits_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["runs.id"], name=op.f("fk_node_visits_run_id_runs"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_node_visits")),
    )
    with op.batch_alter_table("node_visits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_node_visits_node_type_left_at", ["node_type", "left_at"], unique=False
        )
        batch_op.create_index(
            "ix_node_visits_open",
            ["flow_version_id", "node_id", "entered_at"],
            unique=False,
            postgresql_where=sa.text("left_at IS NULL"),
            sqlite_where=sa.text("left_at IS NULL"),
        )
        batch_op.create_index(
            "ix_node_visits_run_id_enter_seq", ["run_id", "enter_seq"], unique=True
        )
        batch_op.create_index(
            "ix_node_visits_version_node_dwell",
            ["flow_version_id", "node_id", "dwell_seconds"],
            unique=False,
        )
        batch_op.create_index(
            "ix_node_visits_version_node_left_at",
            ["flow_version_id", "node_id", "left_at"],
            unique=False,
        )

    op.create_table(
        "alert_orders",
        sa.Column("alert_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["alert_id"],
            ["alerts.id"],
            name=op.f("fk_alert_orders_alert_id_alerts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["orders.id"],
            name=op.f("fk_alert_orders_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("alert_id", "order_id", name=op.f("pk_alert_orders")),
    )
    with op.batch_alter_table("alert_orders", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_alert_orders_order_id"), ["order_id"], unique=False)

    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("rule_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("key", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("channel", sa.String(length=32), nullable=True))
        batch_op.add_column(
            sa.Column("occurrences", sa.Integer(), nullable=False, server_default="1")
        )
        batch_op.add_column(sa.Column("last_seen_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("notified_at", UTCDateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("notifications", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("acknowledged_by", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("resolved_by", sa.String(length=64), nullable=True))
        batch_op.create_index("ix_alerts_rule_id_status", ["rule_id", "status"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_alerts_rule_id_alert_rules"),
            "alert_rules",
            ["rule_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("alerts", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_alerts_rule_id_alert_rules"), type_="foreignkey")
        batch_op.drop_index("ix_alerts_rule_id_status")
        batch_op.drop_column("resolved_by")
        batch_op.drop_column("acknowledged_by")
        batch_op.drop_column("notifications")
        batch_op.drop_column("notified_at")
        batch_op.drop_column("last_seen_at")
        batch_op.drop_column("occurrences")
        batch_op.drop_column("channel")
        batch_op.drop_column("key")
        batch_op.drop_column("rule_id")

    with op.batch_alter_table("alert_orders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_alert_orders_order_id"))

    op.drop_table("alert_orders")
    with op.batch_alter_table("node_visits", schema=None) as batch_op:
        batch_op.drop_index("ix_node_visits_version_node_left_at")
        batch_op.drop_index("ix_node_visits_version_node_dwell")
        batch_op.drop_index("ix_node_visits_run_id_enter_seq")
        batch_op.drop_index(
            "ix_node_visits_open",
            postgresql_where=sa.text("left_at IS NULL"),
            sqlite_where=sa.text("left_at IS NULL"),
        )
        batch_op.drop_index("ix_node_visits_node_type_left_at")

    op.drop_table("node_visits")
    with op.batch_alter_table("status_lag_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_status_lag_facts_received_at")

    op.drop_table("status_lag_facts")
    with op.batch_alter_table("stockout_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_stockout_facts_sku_at")
        batch_op.drop_index(batch_op.f("ix_stockout_facts_order_id"))
        batch_op.drop_index("ix_stockout_facts_at")

    op.drop_table("stockout_facts")
    with op.batch_alter_table("order_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_order_facts_status_status_at")
        batch_op.drop_index("ix_order_facts_delivered_at")
        batch_op.drop_index("ix_order_facts_created_at")

    op.drop_table("order_facts")
    with op.batch_alter_table("order_dimensions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_dimensions_dimension_id"))

    op.drop_table("order_dimensions")
    with op.batch_alter_table("order_costs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_order_costs_driver_id"))

    op.drop_table("order_costs")
    op.drop_table("rollup_orders_hourly")
    op.drop_table("rollup_nodes_hourly")
    op.drop_table("rollup_lookups_hourly")
    op.drop_table("rollup_edges_hourly")
    op.drop_table("rollup_durations_hourly")
    op.drop_table("rollup_deliveries_hourly")
    op.drop_table("rollup_costs_hourly")
    op.drop_table("metric_cursors")
    op.drop_table("cost_drivers")
    op.drop_table("cost_dimensions")
    op.drop_table("alert_rules")
