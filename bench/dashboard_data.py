"""Bulk history for the dashboard benchmark, generated inside PostgreSQL.

    .venv/bin/python bench/dashboard_data.py URL [--orders 1000000] [--days 90]

Loads, into a migrated database at ``URL``, ``--orders`` orders spread over ``--days`` days
with their runs of a five-node fulfilment flow (10 % need an approval; the newest still wait
for packing or shipping), about ten audit events per run, status reports from the WMS and
TMS with realistic lags, approval tasks, stock-outs and flow alerts, and everything the
refresher derives from them (order facts, node visits, status lag, costs and order types,
hourly rollups), so that the benchmark starts from a caught-up installation.

Everything is generated with ``generate_series`` and ``INSERT .. SELECT`` from one plan
table (one row per order with its drawn durations), so the raw rows and the derived ones
agree by construction; secondary indexes are dropped during the load and built afterwards.
Randomness is seeded: the same arguments give the same history.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dashboard_rollups as rollups  # noqa: E402  (same folder)
from sqlalchemy import Engine, text  # noqa: E402

from app.models import Base  # noqa: E402

CHANNELS = rollups.CHANNELS
LOADED = [
    "orders", "runs", "run_events", "status_events", "approval_tasks", "alerts", "order_facts",
    "node_visits", "status_lag_facts", "stockout_facts", "order_costs", "order_dimensions",
]  # fmt: skip


PLAN = """
CREATE UNLOGGED TABLE bench_plan AS
SELECT i AS id,
       created,
       (ARRAY{channels})[1 + (i * 7 + (i / 7)) % {n_channels}] AS channel,
       round((50 + 9950 * r1 * r1)::numeric, 2) AS amount,
       r2 < 0.08 AS urgent,
       r3 < 0.10 AS approval,
       CASE WHEN r3 < 0.10 THEN interval '1 second' * (300 + 14400 * r4 * r4) ELSE interval '0' END AS approve_dwell,
       interval '1 second' * (600 + 21600 * r5 * r5) AS pack_dwell,
       interval '1 second' * (900 + 36000 * r6 * r6 * r6 + CASE WHEN r7 < 0.05 THEN 14400 ELSE 0 END) AS ship_dwell,
       interval '1 hour' * (20 + 60 * r8) AS deliver_dwell,
       1 + 40 * r9 * r9 AS lag1, 2 + 120 * r1 * r9 AS lag2, 5 + 900 * r2 * r9 * r9 AS lag3,
       (ARRAY['广东','浙江','江苏','上海','北京','四川','湖北','山东'])[1 + i % 8] AS province,
       (ARRAY['standard','silver','gold','platinum'])[1 + (i / 3) % 4] AS tier
FROM (SELECT i,
             timestamptz '{start}' + (i - 1) * interval '{step} microseconds'
               + interval '1 second' * (random() * 30) AS created,
             random() AS r1, random() AS r2, random() AS r3, random() AS r4, random() AS r5,
             random() AS r6, random() AS r7, random() AS r8, random() AS r9
      FROM generate_series(1, {orders}) AS i) AS drawn
"""

TIMES = """
CREATE UNLOGGED TABLE bench_times AS
SELECT p.*,
       p.created + p.approve_dwell AS pack_in,
       p.created + p.approve_dwell + p.pack_dwell AS pack_out,
       p.created + p.approve_dwell + p.pack_dwell + p.ship_dwell AS ship_out,
       p.created + p.approve_dwell + p.pack_dwell + p.ship_dwell + p.deliver_dwell AS delivered,
       p.created + interval '72 hours' AS promised
FROM bench_plan p;
ALTER TABLE bench_times ADD PRIMARY KEY (id);
ANALYZE bench_times;
"""


def _steps(orders: int, days: int, now_iso: str, version_id: int, drivers: tuple[int, int],
           dims: tuple[int, int]) -> list[tuple[str, str]]:  # fmt: skip
    from datetime import datetime, timedelta

    now = f"'{now_iso}'"
    start_iso = (datetime.fromisoformat(now_iso) - timedelta(days=days)).isoformat()
    start = f"timestamptz '{start_iso}'"
    span_us = days * 86400 * 1_000_000
    step = span_us // orders
    t = "bench_times"
    done = f"{t}.ship_out <= {now}::timestamptz"
    approved = f"{t}.pack_in <= {now}::timestamptz"
    packed = f"{t}.pack_out <= {now}::timestamptz"
    delivered = f"{t}.delivered + interval '1 second' * {t}.lag3 <= {now}::timestamptz"
    handling, approval_time = drivers
    dim_channel, dim_urgency = dims
    status = (f"CASE WHEN {delivered} THEN 'delivered' WHEN {done} THEN 'shipped' "
              f"WHEN {packed} THEN 'packed' ELSE 'created' END")  # fmt: skip
    ev = "INSERT INTO run_events (run_id, seq, at, kind, node_id, node_type, branch, actor, data) "
    sel = f"SELECT id, {{seq}}, {{at}}, '{{kind}}', {{node}}, {{ntype}}, {{branch}}, {{actor}}, '{{{{}}}}'::jsonb FROM {t}"

    def event(seq: str, at: str, kind: str, node: str = "NULL", ntype: str = "NULL", branch: str = "NULL",
              actor: str = "NULL", where: str = "true") -> str:  # fmt: skip
        return ev + sel.format(seq=seq, at=at, kind=kind, node=node, ntype=ntype, branch=branch,
                               actor=actor) + f" WHERE {where}"  # fmt: skip

    a = f"{t}.approval"
    off = f"(CASE WHEN {a} THEN 3 ELSE 0 END)"
    hours_in = "date_trunc('hour', {col} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    return [
        (
            "plan",
            "SELECT setseed(0.42);\n"
            + PLAN.format(
                channels=str(CHANNELS).replace('"', "'"),
                n_channels=len(CHANNELS),
                start=start_iso,
                step=step,
                orders=orders,
            ),
        ),
        ("times", TIMES),
        (
            "orders",
            f"""
INSERT INTO orders (id, channel, external_id, tracking_id, status, customer_id, amount, data, created_at, updated_at)
SELECT id, channel, 'B' || id, md5(id::text || 'bench'), {status}, 'C' || (id % 5000), amount,
       jsonb_build_object('external_id', 'B' || id, 'channel', channel, 'currency', 'CNY', 'amount', amount,
         'urgent', urgent, 'promised_at', to_char(promised AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"+00:00"'),
         'customer', jsonb_build_object('id', 'C' || (id % 5000), 'tier', tier),
         'shipping_address', jsonb_build_object('province', province),
         'lines', jsonb_build_array(jsonb_build_object('sku', 'SKU-' || (id % 400), 'qty', 1 + id % 3, 'price', amount))),
       created, created
FROM {t};
SELECT setval(pg_get_serial_sequence('orders', 'id'), {orders});""",
        ),
        (
            "runs",
            f"""
INSERT INTO runs (id, flow_version_id, order_id, status, outcome, snapshot, lock_version, current_nodes, started_at, updated_at, finished_at)
SELECT id, {version_id}, id, CASE WHEN {done} THEN 'completed' ELSE 'waiting' END,
       CASE WHEN {done} THEN 'shipped' END, '{{}}'::jsonb, 2,
       CASE WHEN {done} THEN '[]'::jsonb WHEN {packed} THEN '["ship"]'::jsonb
            WHEN {approved} THEN '["pack"]'::jsonb ELSE '["approve"]'::jsonb END,
       created, LEAST(ship_out, {now}::timestamptz), CASE WHEN {done} THEN ship_out END
FROM {t};
SELECT setval(pg_get_serial_sequence('runs', 'id'), {orders});""",
        ),
        (
            "run_events",
            ";\n".join(
                [
                    event("1", "created", "run_started"),
                    event("2", "created", "node_passed", "'start'", "'start'"),
                    event(
                        "3",
                        "created",
                        "node_passed",
                        "'check'",
                        "'condition'",
                        f"CASE WHEN {a} THEN 'true' ELSE 'false' END",
                    ),
                    event("4", "created", "node_waiting", "'approve'", "'approval'", where=a),
                    event(
                        "5",
                        "pack_in",
                        "event_received",
                        "'approve'",
                        "'approval'",
                        actor="'approver' || (id % 7)",
                        where=f"{a} AND {approved}",
                    ),
                    event(
                        "6",
                        "pack_in",
                        "node_passed",
                        "'approve'",
                        "'approval'",
                        "'approved'",
                        where=f"{a} AND {approved}",
                    ),
                    event(
                        f"4 + {off}",
                        "pack_in",
                        "node_waiting",
                        "'pack'",
                        "'wait_event'",
                        where=approved,
                    ),
                    event(
                        f"5 + {off}",
                        "pack_out",
                        "event_received",
                        "'pack'",
                        "'wait_event'",
                        where=packed,
                    ),
                    event(
                        f"6 + {off}",
                        "pack_out",
                        "node_passed",
                        "'pack'",
                        "'wait_event'",
                        "'received'",
                        where=packed,
                    ),
                    event(
                        f"7 + {off}",
                        "pack_out",
                        "node_waiting",
                        "'ship'",
                        "'wait_event'",
                        where=packed,
                    ),
                    event(
                        f"8 + {off}",
                        "ship_out",
                        "event_received",
                        "'ship'",
                        "'wait_event'",
                        where=done,
                    ),
                    event(
                        f"9 + {off}",
                        "ship_out",
                        "node_passed",
                        "'ship'",
                        "'wait_event'",
                        "'received'",
                        where=done,
                    ),
                    event(f"10 + {off}", "ship_out", "node_passed", "'done'", "'end'", where=done),
                    event(f"11 + {off}", "ship_out", "run_completed", where=done),
                ]
            ),
        ),
        (
            "status_events",
            f"""
INSERT INTO status_events (order_id, source, event_id, code, state, effect, source_time, received_at, data)
SELECT id, 'wms', 'P' || id, 'PACKED', 'packed', 'applied', pack_out - interval '1 second' * lag1, pack_out, '{{}}'::jsonb
FROM {t} WHERE {packed};
INSERT INTO status_events (order_id, source, event_id, code, state, effect, source_time, received_at, data)
SELECT id, 'tms', 'S' || id, 'DISPATCHED', 'shipped', 'applied', ship_out - interval '1 second' * lag2, ship_out, '{{}}'::jsonb
FROM {t} WHERE {done};
INSERT INTO status_events (order_id, source, event_id, code, state, effect, source_time, received_at, data)
SELECT id, 'tms', 'D' || id, 'DELIVERED', 'delivered', 'applied', delivered, delivered + interval '1 second' * lag3, '{{}}'::jsonb
FROM {t} WHERE {delivered}""",
        ),
        (
            "approval_tasks",
            f"""
INSERT INTO approval_tasks (task_key, run_id, node_id, role, status, decided_by, decided_at, payload, created_at)
SELECT id || ':t1', id, 'approve', 'approver', CASE WHEN pack_in <= {now}::timestamptz THEN 'approved' ELSE 'pending' END,
       CASE WHEN pack_in <= {now}::timestamptz THEN 'approver' || (id % 7) END,
       CASE WHEN pack_in <= {now}::timestamptz THEN pack_in END, '{{}}'::jsonb, created
FROM {t} WHERE approval""",
        ),
        (
            "node_visits",
            f"""
INSERT INTO node_visits (run_id, order_id, flow_version_id, node_id, node_type, from_node, channel, enter_seq, entered_at, left_at, dwell_seconds, exit)
SELECT id, id, {version_id}, 'approve', 'approval', 'check', channel, 4, created,
       CASE WHEN pack_in <= {now}::timestamptz THEN pack_in END,
       CASE WHEN pack_in <= {now}::timestamptz THEN extract(epoch FROM approve_dwell) END,
       CASE WHEN pack_in <= {now}::timestamptz THEN 'approved' END
FROM {t} WHERE approval;
INSERT INTO node_visits (run_id, order_id, flow_version_id, node_id, node_type, from_node, channel, enter_seq, entered_at, left_at, dwell_seconds, exit)
SELECT id, id, {version_id}, 'pack', 'wait_event', CASE WHEN approval THEN 'approve' ELSE 'check' END, channel,
       4 + {off}, pack_in, CASE WHEN {packed} THEN pack_out END,
       CASE WHEN {packed} THEN extract(epoch FROM pack_dwell) END, CASE WHEN {packed} THEN 'received' END
FROM {t} WHERE {approved};
INSERT INTO node_visits (run_id, order_id, flow_version_id, node_id, node_type, from_node, channel, enter_seq, entered_at, left_at, dwell_seconds, exit)
SELECT id, id, {version_id}, 'ship', 'wait_event', 'pack', channel, 7 + {off}, pack_out,
       CASE WHEN {done} THEN ship_out END, CASE WHEN {done} THEN extract(epoch FROM ship_dwell) END,
       CASE WHEN {done} THEN 'received' END
FROM {t} WHERE {packed}""",
        ),
        (
            "order_facts",
            f"""
INSERT INTO order_facts (order_id, created_at, channel, status, status_at, urgent, amount, province, customer_tier, outcome,
                         promised_at, delivered_at, lead_seconds, on_time, manual, incidents, retries, approvals, cost_total, updated_at)
SELECT id, created, channel, {status},
       CASE WHEN {delivered} THEN delivered WHEN {done} THEN ship_out - interval '1 second' * lag2
            WHEN {packed} THEN pack_out - interval '1 second' * lag1 ELSE created END,
       urgent, amount, province, tier, CASE WHEN {done} THEN 'shipped' END, promised,
       CASE WHEN {delivered} THEN delivered END,
       CASE WHEN {delivered} THEN extract(epoch FROM delivered - created) END,
       CASE WHEN {delivered} THEN delivered <= promised END,
       approval, 0, 0, CASE WHEN approval THEN 1 ELSE 0 END,
       5 + round(round((extract(epoch FROM LEAST(approve_dwell, GREATEST({now}::timestamptz - created, interval '0'))) / 3600)::numeric, 4) * 10, 2),
       {now}::timestamptz
FROM {t}""",
        ),
        (
            "costs",
            f"""
INSERT INTO order_costs (order_id, driver_id, quantity, amount) SELECT id, {handling}, 1, 5 FROM {t};
INSERT INTO order_costs (order_id, driver_id, quantity, amount)
SELECT order_id, {approval_time}, round((cost_total - 5) / 10, 4), cost_total - 5 FROM order_facts WHERE approvals > 0;
INSERT INTO order_dimensions (order_id, dimension_id, value) SELECT id, {dim_channel}, channel FROM {t};
INSERT INTO order_dimensions (order_id, dimension_id, value)
SELECT id, {dim_urgency}, CASE WHEN urgent THEN '加急' ELSE '普通' END FROM {t}""",
        ),
        (
            "status_lag_facts",
            """
INSERT INTO status_lag_facts (status_event_id, order_id, channel, source, state, received_at, lag_seconds)
SELECT s.id, s.order_id, o.channel, s.source, s.state, s.received_at, extract(epoch FROM s.received_at - s.source_time)
FROM status_events s JOIN orders o ON o.id = s.order_id""",
        ),
        (
            "stockout_facts",
            f"""
INSERT INTO stockout_facts (run_event_id, order_id, channel, sku, warehouse, requested, available, at)
SELECT 0, id, channel, 'SKU-' || (id % 40), 'WH-' || (1 + id % 3), 2, 0, created FROM {t} WHERE id % 97 = 0""",
        ),
        (
            "alerts",
            f"""
INSERT INTO alerts (order_id, source, severity, title, message, status, dedup_key, data, created_at, resolved_at, channel, occurrences, notifications)
SELECT id, 'flow:check', CASE WHEN id % 3 = 0 THEN 'critical' ELSE 'warning' END, '订单超时 B' || id, 'Order B' || id || ' is late',
       CASE WHEN created > {now}::timestamptz - interval '2 days' THEN 'open' ELSE 'resolved' END,
       'flow:late:order:' || id, jsonb_build_object('code', 'order.late'), created,
       CASE WHEN created <= {now}::timestamptz - interval '2 days' THEN created + interval '3 hours' END, channel, 1, 0
FROM {t} WHERE id % 50 = 0""",
        ),
        ("rollups", rollups.hourly(version_id, start, now, hours_in)),
        ("daily rollups", rollups.daily()),
        (
            "cursors",
            """
INSERT INTO metric_cursors (name, position, gaps, updated_at) VALUES
  ('refresh', 0, '{}', now()),
  ('run_events', (SELECT COALESCE(max(id), 0) FROM run_events), '{}', now()),
  ('status_events', (SELECT COALESCE(max(id), 0) FROM status_events), '{}', now()),
  ('orders', (SELECT COALESCE(max(id), 0) FROM orders), '{}', now())""",
        ),
    ]


def _secondary_indexes() -> list:
    wanted = set(LOADED)
    return [
        ix for table in Base.metadata.sorted_tables if table.name in wanted for ix in table.indexes
    ]


def generate(engine: Engine, *, orders: int, days: int, now: str, version_id: int,
             drivers: tuple[int, int], dims: tuple[int, int],
             progress: Callable[[str, float], None] = lambda _s, _t: None) -> None:  # fmt: skip
    """Load the history into ``engine``'s database (migrated, with the bench flow, drivers
    and dimensions already created)."""
    indexes = _secondary_indexes()
    with engine.begin() as conn:
        for index in indexes:
            index.drop(conn, checkfirst=True)
    for name, sql in _steps(orders, days, now, version_id, drivers, dims):
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL synchronous_commit = off")
            conn.exec_driver_sql("SET LOCAL work_mem = '256MB'")
            for statement in [s for s in sql.split(";\n") if s.strip()]:
                conn.exec_driver_sql(statement.replace("%", "%%"))
        progress(name, time.perf_counter() - started)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql("SET LOCAL maintenance_work_mem = '512MB'")
        for index in indexes:
            index.create(conn)
        conn.exec_driver_sql("DROP TABLE bench_times; DROP TABLE bench_plan")
    progress("indexes", time.perf_counter() - started)
    started = time.perf_counter()
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql("VACUUM ANALYZE")
    progress("analyze", time.perf_counter() - started)


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t: conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one() for t in LOADED}  # noqa: S608


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("url")
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    args = parser.parse_args()
    from dashboard_bench import prepare  # noqa: E402 (same folder)

    prepare(args.url, orders=args.orders, days=args.days)
