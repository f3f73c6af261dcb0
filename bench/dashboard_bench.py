"""Dashboard and alert benchmark on PostgreSQL with a large history.

    .venv/bin/python bench/dashboard_bench.py [--orders 1000000] [--days 90] [--repeat 5]
                                              [--keep] [--reuse URL]

Creates a throw-away database on the server at ``ORDERFLOW_BENCH_PG`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``), migrates it, publishes a
five-node fulfilment flow, adds cost drivers, order types and one alert rule of each kind,
and loads ``--orders`` orders with about ten run events each (``bench/dashboard_data.py``,
generated inside PostgreSQL). Then, each ``--repeat`` times in a fresh session, it times:

* every dashboard panel over the last 24 hours, 7, 30 and 90 days, and filtered to one
  channel; the before/after comparison around a publish;
* the bottleneck heatmap of the flow and its slowest orders; the cost heatmap per order
  type; the Prometheus exposition;
* the evaluation of every alert rule (aggregate rate and sum per channel, status-lag
  filter, three-day stock-out streak, orders stuck in a state and at a node, approval
  backlog, per-order cost condition);
* the refresher on new work: orders ingested through the real path with status reports,
  then one refresh (events/s and orders/s).

It prints the median and slowest time of each, the generation time per table, a check that
the refresher rebuilds sampled orders to the same facts as the generator wrote, and the
peak RSS of this process. ``--keep`` leaves the database (its URL is printed); ``--reuse``
measures an existing one without generating.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import dashboard_data  # noqa: E402  (same folder)
from sqlalchemy import create_engine, select, text  # noqa: E402

from app import create_app  # noqa: E402
from app.alerts import services as alerts  # noqa: E402
from app.clock import zone  # noqa: E402
from app.costs import heatmap as cost_heatmap  # noqa: E402
from app.costs import services as costs  # noqa: E402
from app.dashboard import bottleneck, compare, kpis, ranges  # noqa: E402
from app.db import get_db, in_transaction  # noqa: E402
from app.flows import services as flows  # noqa: E402
from app.metrics import facts, prometheus  # noqa: E402
from app.metrics.refresh import refresh  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import AlertRule, CostDimension, CostDriver, FlowVersion, OrderFact, utcnow  # noqa: E402
from app.orders.services import ingest  # noqa: E402
from app.status import services as status  # noqa: E402

ADMIN = os.environ.get(
    "ORDERFLOW_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
LIMIT_MS = 500
FLOW = {
    "format_version": 1, "key": "bench-fulfil", "name": {"zh": "履约", "en": "Fulfilment"},
    "trigger": {"event": "order.created"},
    "nodes": [
        {"id": "start", "type": "start", "config": {}, "position": {"x": 0, "y": 80}},
        {"id": "check", "type": "condition", "config": {"expression": "order.amount > 9000"}, "position": {"x": 220, "y": 80}},
        {"id": "approve", "type": "approval", "config": {"assignees": [{"role": "approver"}]}, "position": {"x": 440, "y": 0}},
        {"id": "pack", "type": "wait_event", "config": {"event": "packed", "timeout": "7d"}, "position": {"x": 660, "y": 80}},
        {"id": "ship", "type": "wait_event", "config": {"event": "shipped", "timeout": "7d"}, "position": {"x": 880, "y": 80}},
        {"id": "done", "type": "end", "config": {"outcome": "shipped"}, "position": {"x": 1100, "y": 80}},
        {"id": "rejected", "type": "end", "config": {"outcome": "rejected"}, "position": {"x": 660, "y": 0}},
        {"id": "late", "type": "end", "config": {"outcome": "late"}, "position": {"x": 1100, "y": 200}},
    ],
    "edges": [
        {"id": "e1", "from": "start", "to": "check"}, {"id": "e2", "from": "check", "to": "approve", "branch": "true"},
        {"id": "e3", "from": "check", "to": "pack", "branch": "false"},
        {"id": "e4", "from": "approve", "to": "pack", "branch": "approved"},
        {"id": "e5", "from": "approve", "to": "rejected", "branch": "rejected"},
        {"id": "e6", "from": "pack", "to": "ship", "branch": "received"}, {"id": "e7", "from": "pack", "to": "late", "branch": "timeout"},
        {"id": "e8", "from": "ship", "to": "done", "branch": "received"}, {"id": "e9", "from": "ship", "to": "late", "branch": "timeout"},
    ],
}  # fmt: skip
RULES = [
    ("manual-share", "aggregate", {"dataset": "orders", "measure": "rate", "numerator": "order.manual",
                                   "group_by": "channel", "window": "1h", "op": ">", "threshold": 10}),
    ("manual-share-day", "aggregate", {"dataset": "orders", "measure": "rate", "numerator": "order.manual",
                                       "group_by": "channel", "window": "1d", "op": ">", "threshold": 10}),
    ("cost-per-channel", "aggregate", {"dataset": "orders", "measure": "sum", "field": "cost",
                                       "group_by": "channel", "window": "1d", "op": ">", "threshold": 100000}),
    ("slow-status", "aggregate", {"dataset": "status_events", "measure": "count", "filter": "event.lag > 10m",
                                  "group_by": "source", "window": "1h", "op": ">", "threshold": 5}),
    ("late-deliveries", "aggregate", {"dataset": "deliveries", "measure": "rate", "numerator": "order.on_time == false",
                                      "group_by": "channel", "window": "1d", "op": ">", "threshold": 20}),
    ("sku-short-3d", "streak", {"dataset": "stockouts", "measure": "count", "group_by": "sku", "op": ">=",
                                "threshold": 1, "period": "day", "periods": 3}),
    ("stuck-packed", "stuck", {"subject": "order_status", "states": ["packed"], "longer_than": "8h",
                               "group_by": "channel"}),
    ("stuck-loading", "stuck", {"subject": "node", "flow": "bench-fulfil", "node": "ship", "longer_than": "4h"}),
    ("approval-backlog", "backlog", {"op": ">", "threshold": 50, "older_than": "2h"}),
    ("costly-order", "order", {"condition": "cost.total > 150 and order.urgent"}),
]  # fmt: skip


def _ms(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times), max(times)


class Report:
    def __init__(self) -> None:
        self.rows: list[tuple[str, float, float]] = []

    def add(self, label: str, fn: Callable[[], Any], repeat: int) -> None:
        median, worst = _ms(fn, repeat)
        self.rows.append((label, median, worst))
        flag = "" if worst < LIMIT_MS else "   <-- over 500 ms"
        print(f"  {label:<52} median {median:8.1f} ms   max {worst:8.1f} ms{flag}", flush=True)

    def summary(self) -> int:
        """Print the verdict; returns how many measurements missed the target."""
        over = [r for r in self.rows if r[2] >= LIMIT_MS]
        worst = max(self.rows, key=lambda r: r[2])
        print(f"\n{len(self.rows)} measurements; slowest: {worst[0]} ({worst[2]:.1f} ms); "
              f"{len(over)} over {LIMIT_MS} ms: {'ok' if not over else 'TARGET MISSED'}")  # fmt: skip
        return len(over)


def prepare(url: str, *, orders: int, days: int) -> tuple[Any, Any, Any]:
    """Migrate ``url``, set the flow, drivers, types and rules up, generate the history."""
    upgrade(url)
    instance = tempfile.mkdtemp(prefix="of-dashbench-")
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
    database = get_db(app)
    with app.app_context():
        in_transaction(database, lambda db: flows.import_flow(db, None, FLOW, publish_now=True))

        def setup(db: Any) -> None:
            for spec in ({"key": "handling", "name_zh": "订单处理", "formula": "1", "unit_rate": "5"},
                         {"key": "approval_time", "name_zh": "审批时间", "formula": "history.approval_hours",
                          "unit_rate": "10"}):  # fmt: skip
                costs.save_driver(db, None, spec)
            for spec in ({"key": "channel", "name_zh": "渠道", "expression": "order.channel"},
                         {"key": "urgency", "name_zh": "紧急程度",
                          "expression": 'if order.urgent then "加急" else "普通"'}):  # fmt: skip
                costs.save_dimension(db, None, spec)
            for key, kind, definition in RULES:
                alerts.save_rule(db, None, {"key": key, "name_zh": key, "kind": kind, "definition": definition,
                                            "recipients": [{"role": "supervisor"}]})  # fmt: skip

        in_transaction(database, setup)
        with database.session() as db:
            version = db.scalars(select(FlowVersion.id)).one()
            drivers = tuple(db.scalars(select(CostDriver.id).order_by(CostDriver.position)))
            dims = tuple(db.scalars(select(CostDimension.id).order_by(CostDimension.position)))
    total = time.perf_counter()
    now = utcnow()
    print(f"generating {orders:,} orders over {days} days ...", flush=True)
    dashboard_data.generate(
        database.engine, orders=orders, days=days, now=now.isoformat(), version_id=version,
        drivers=drivers, dims=dims, progress=lambda name, s: print(f"  {name:<18} {s:7.1f} s", flush=True),
    )  # fmt: skip
    print(f"  {'total':<18} {time.perf_counter() - total:7.1f} s")
    for table, n in dashboard_data.counts(database.engine).items():
        print(f"  {table:<18} {n:>12,} rows")
    return app, database, now


def consistency(database: Any, now: Any, sample: int = 500) -> None:
    """Rebuild sampled orders with the refresher's code and compare with the generated facts."""
    columns = ("status", "manual", "approvals", "delivered_at", "on_time", "cost_total", "outcome")
    with database.session() as db:
        ids = list(
            db.scalars(select(OrderFact.order_id).order_by(OrderFact.order_id).limit(sample))
        )
        ids += list(
            db.scalars(select(OrderFact.order_id).order_by(OrderFact.order_id.desc()).limit(sample))
        )
        before = {r.order_id: tuple(getattr(r, c) for c in columns)
                  for r in db.scalars(select(OrderFact).where(OrderFact.order_id.in_(ids)))}  # fmt: skip
        facts.rebuild(db, ids, now, observers=[])
        db.flush()
        db.expire_all()
        after = {r.order_id: tuple(getattr(r, c) for c in columns)
                 for r in db.scalars(select(OrderFact).where(OrderFact.order_id.in_(ids)))}  # fmt: skip
        db.rollback()
    same = sum(1 for i in ids if before.get(i) == after.get(i))
    print(f"\nrefresher check: {same} of {len(ids)} sampled orders rebuilt to the generated facts")
    for i in [i for i in ids if before.get(i) != after.get(i)][:3]:
        print(f"    order {i}: generated {before.get(i)} / rebuilt {after.get(i)}")


def measure(app: Any, database: Any, repeat: int) -> Report:
    report = Report()
    now = utcnow()
    z = zone()
    with database.session() as db:
        channel = db.scalars(select(OrderFact.channel).limit(1)).one()
        version = db.scalars(select(FlowVersion)).one()
    print("\ndashboard panels")
    for label, args in (("24h", {"range": "24h"}), ("7d", {"range": "7d"}), ("30d", {"range": "30d"}),
                        ("90d", {"range": "90d"}), (f"30d {channel}", {"range": "30d", "channel": channel})):  # fmt: skip
        r = ranges.parse(args, now, z)
        for key, fn in kpis.PANELS.items():
            report.add(
                f"{key} [{label}]",
                lambda fn=fn, r=r: _session(database, lambda db: fn(db, r)),
                repeat,
            )
    r30 = ranges.parse({"range": "30d"}, now, z)
    with database.session() as db:
        db.execute(
            text("UPDATE flow_versions SET published_at = :t"), {"t": now - timedelta(days=10)}
        )
        db.commit()
        version = db.get(FlowVersion, version.id)
    report.add("before/after a publish [30d, 7 panels x 2]",
               lambda: _session(database, lambda db: compare.before_after(db, r30, version, now)), repeat)  # fmt: skip
    print("\nbottlenecks and costs")
    for label in ("7d", "30d", "90d"):
        r = ranges.parse({"range": label}, now, z)
        report.add(f"bottleneck heatmap [{label}]", lambda r=r: _session(
            database, lambda db: bottleneck.heatmap(db, bottleneck.scope(db, "bench-fulfil", None), r, now)), repeat)  # fmt: skip
        for dim in ("channel", "urgency"):
            report.add(f"cost heatmap by {dim} [{label}]", lambda r=r, dim=dim: _session(
                database, lambda db: cost_heatmap.heatmap(db, costs.get_dimension(db, dim), r.start, r.end)), repeat)  # fmt: skip
    r7 = ranges.parse({"range": "7d"}, now, z)
    report.add("slowest orders at 'ship' [7d]", lambda: _session(
        database, lambda db: bottleneck.slowest(db, bottleneck.scope(db, "bench-fulfil", None), "ship", r7, now)), repeat)  # fmt: skip
    report.add(
        "prometheus /metrics",
        lambda: _session(database, lambda db: prometheus.render(db, now)),
        repeat,
    )
    print("\nalert rule evaluations")
    with database.session() as db:
        keys = [k for k, *_ in RULES]
        ids = {r.key: r.id for r in db.scalars(select(AlertRule))}
    for key in keys:
        report.add(f"rule {key} ({dict((k, kd) for k, kd, _ in RULES)[key]})", lambda key=key: in_transaction(
            database, lambda db: alerts.evaluate_rule(db, db.get(AlertRule, ids[key]), now=now, zone=z)), repeat)  # fmt: skip
    return report


def _session(database: Any, work: Callable[[Any], Any]) -> Any:
    with database.session() as db:
        return work(db)


def refresher(database: Any, orders: int = 2000) -> None:
    """New orders and status reports through the real paths, then one refresh."""
    started = time.perf_counter()
    made = []
    for n in range(orders):
        doc = {"external_id": f"N{n}", "channel": "taobao", "currency": "CNY", "amount": 100 + n % 50,
               "customer": {"id": "C1", "tier": "gold"}, "lines": [{"sku": "SKU-1", "qty": 1, "price": 100}]}  # fmt: skip
        made.append(in_transaction(database, lambda db, d=doc: ingest(db, d))[0].id)
    for n, order_id in enumerate(made[: orders // 2]):

        def work(db: Any, order_id: int = order_id, n: int = n) -> None:
            from app.models import Order

            status.record(db, db.get(Order, order_id), source="wms", event_id=f"NP{n}", code="PACKED",
                          occurred_at=utcnow() - timedelta(seconds=30))  # fmt: skip

        in_transaction(database, work)
    ingest_s = time.perf_counter() - started
    result = refresh(database, budget=600)
    print(f"\nrefresher: {orders} orders and {orders // 2} status reports made in {ingest_s:.1f} s; "
          f"refresh read {result.events} run events, {result.status_events} status events, rebuilt "
          f"{result.rebuilt} orders in {result.seconds:.2f} s ({result.events / result.seconds:,.0f} events/s, "
          f"{result.rebuilt / result.seconds:,.0f} orders/s, {result.passes} passes)")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--keep", action="store_true", help="leave the database behind")
    parser.add_argument("--reuse", help="measure this existing database instead of generating one")
    args = parser.parse_args()
    admin = create_engine(ADMIN, isolation_level="AUTOCOMMIT")
    missed = 0
    name = f"of_dashbench_{os.getpid()}"
    url = args.reuse or ADMIN.rsplit("/", 1)[0] + "/" + name
    if not args.reuse:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        if args.reuse:
            app = create_app(
                {"DATABASE_URL": url, "INSTANCE_PATH": tempfile.mkdtemp(), "SECRET_KEY": "bench"}
            )
            database, generated_at = get_db(app), utcnow()
        else:
            app, database, generated_at = prepare(url, orders=args.orders, days=args.days)
        with app.app_context():
            consistency(database, generated_at)
            report = measure(app, database, args.repeat)
            missed = report.summary()
            refresher(database)
        database.dispose()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process: {peak:.0f} MiB")
    finally:
        if args.keep or args.reuse:
            print(f"database kept: {url}")
        else:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    if missed:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
