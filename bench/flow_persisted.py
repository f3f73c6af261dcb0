"""Persisted throughput of the routing flow: ingest + run + commit, on SQLite and on
PostgreSQL, one order per transaction and in batches, as a ratio to the DSL alone.

Orders go through the same calls as the API: ``intake.receive`` (``POST /api/v1/orders``) and
``intake.receive_many`` (``POST /api/v1/orders/batch``, ``orderflow order ingest``), with the
effective order schema checked, runs started and everything committed; HTTP is left out.
Beside the throughput it prints the SQL statements sent per order (round trips: an
executemany counts once; COMMIT, and PostgreSQL's BEGIN, included).

Called by ``bench/flow_bench.py`` (``persisted_section``); run alone with
``python bench/flow_persisted.py [--orders N]``. PostgreSQL is measured when a server answers
at ``ORDERFLOW_BENCH_PG`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``);
a throw-away database is created and dropped.
"""

from __future__ import annotations

import argparse
import copy
import os
import resource
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent / "flows"))

from baselines import DslOnlyRouting  # noqa: E402
from figures import record  # noqa: E402
from sqlalchemy import create_engine, event, text, update  # noqa: E402

from app import create_app  # noqa: E402
from app.db import get_db, in_transaction  # noqa: E402
from app.flows import services as flows  # noqa: E402
from app.inventory import services as inventory  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import InventoryItem  # noqa: E402
from app.orders import intake  # noqa: E402
from app.org import services as org  # noqa: E402
from app.reference import services as reference  # noqa: E402
from flow_engine import compile_flow  # noqa: E402

BATCH = 100
TARGET_SQLITE_PER_S = 1000.0
PG_ADMIN_URL = os.environ.get(
    "ORDERFLOW_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REF_KEYS = {"catalog": "sku"}


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _setup(url: str, instance: str, doc: dict, ref: dict) -> Any:
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance})
    database = get_db(app)

    def load(db: Any) -> None:
        for name, rows in ref.items():
            if name == "inventory":
                for warehouse, skus in rows.items():
                    for sku, qty in skus.items():
                        inventory.set_stock(db, sku, warehouse, int(qty))
                continue
            table = reference.ensure_table(db, name, key_field=REF_KEYS.get(name, "id"))
            reference.upsert_rows(db, table, rows)
        # The flow's approval node is assigned to this business role.
        org.create_role(db, None, key="finance", name_zh="财务", name_en="Finance")
        flows.import_flow(db, None, doc, publish_now=True)
        # Plenty of stock: every order exercises the reservation path instead of backorder.
        db.execute(update(InventoryItem).where(InventoryItem.on_hand > 0).values(on_hand=10**9))

    in_transaction(database, load)
    return app, database


def _orders(orders: list[dict], prefix: str) -> list[dict]:
    out = []
    for i, o in enumerate(orders):
        d = copy.deepcopy(o)
        d["external_id"] = f"{prefix}-{i:06d}"
        out.append(d)
    return out


class _Statements:
    """Counts the SQL statements the database engine sends (executemany counts once: one
    round trip) and COMMIT; on PostgreSQL the driver's own BEGIN too (on SQLite OrderFlow
    sends ``BEGIN IMMEDIATE`` as a statement, already counted)."""

    def __init__(self, engine: Any) -> None:
        self.count = 0
        self.engine = engine
        self.events = ["before_cursor_execute", "commit"]
        if engine.dialect.name != "sqlite":
            self.events.append("begin")
        for name in self.events:
            event.listen(engine, name, self._one)

    def _one(self, *_args: Any, **_kw: Any) -> None:
        self.count += 1

    def close(self) -> None:
        for name in self.events:
            event.remove(self.engine, name, self._one)


def _measure(database: Any, docs: list[dict], batch: int) -> tuple[float, float, float]:
    """Returns (wall seconds, CPU seconds, statements per order) to ingest ``docs`` (each
    batch one transaction)."""
    statements = _Statements(database.engine)
    t0, c0 = time.perf_counter(), time.process_time()
    try:
        if batch == 1:
            for d in docs:
                in_transaction(database, lambda db, d=d: intake.receive(db, d))
        else:
            for k in range(0, len(docs), batch):
                chunk = docs[k : k + batch]
                in_transaction(database, lambda db, chunk=chunk: intake.receive_many(db, chunk))
        return time.perf_counter() - t0, time.process_time() - c0, statements.count / len(docs)
    finally:
        statements.close()


def _dsl_seconds(doc: dict, ref: dict, orders: list[dict]) -> float:
    baseline = DslOnlyRouting(compile_flow(doc), doc)
    now = datetime(2026, 6, 1, tzinfo=UTC)
    t0 = time.perf_counter()
    for o in orders:
        baseline.run(o, ref, now)
    return time.perf_counter() - t0


def _report(label: str, n: int, measured: tuple[float, float, float], dsl: float) -> float:
    wall, cpu, statements = measured
    per_s = n / wall
    print(
        f"  {label:<44}{per_s:>9,.0f} orders/s {wall / n * 1e3:7.2f} ms/order"
        f"  (cpu {cpu / n * 1e3:5.2f} ms)  {statements:5.1f} statements/order"
        f"  {wall / dsl:7.0f}x DSL-only"
    )
    record(f"{label} orders/s", per_s)
    record(f"{label} statements/order", statements, better="lower")
    return per_s


def _backend(
    label: str, url: str, doc: dict, ref: dict, orders: list[dict], dsl: float
) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as instance:
        _app, database = _setup(url, instance, doc, ref)
        try:
            n = len(orders)
            measured = _measure(database, _orders(orders, "ONE"), 1)
            one = _report(f"{label}: one order per transaction", n, measured, dsl)
            measured = _measure(database, _orders(orders, "BATCH"), BATCH)
            batch = _report(f"{label}: batches of {BATCH} per transaction", n, measured, dsl)
        finally:
            database.dispose()
    return {"one": one, "batch": batch}


def run(doc: dict, ref: dict, orders: list[dict]) -> dict[str, float]:
    """Print persisted throughput on SQLite and PostgreSQL for ``orders``; returns orders/s."""
    dsl = _dsl_seconds(doc, ref, orders)
    print(f"  DSL only on the same {len(orders)} orders: {dsl / len(orders) * 1e6:.1f} µs/order")
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = _backend("SQLite", f"sqlite:///{tmp}/bench.db", doc, ref, orders, dsl)
    best = max(sqlite.values())
    verdict = "ok" if best >= TARGET_SQLITE_PER_S else "BELOW TARGET"
    print(f"  SQLite best: {best:,.0f} orders/s (target >= {TARGET_SQLITE_PER_S:,.0f}: {verdict})")
    figures = {"sqlite_one": sqlite["one"], "sqlite_batch": sqlite["batch"], "sqlite_best": best}
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"orderflow_bench_{os.getpid()}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as err:  # no server: say so instead of pretending
        print(f"  PostgreSQL: not measured ({str(err).splitlines()[0]})")
        admin.dispose()
        return figures
    try:
        url = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        pg = _backend("PostgreSQL", url, doc, ref, orders, dsl)
        figures.update({"pg_one": pg["one"], "pg_batch": pg["batch"]})
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    print(f"  peak RSS of the benchmark process: {_peak_rss_mb():.0f} MB")
    return figures


def main() -> None:
    import json

    import flow_bench

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=2000)
    args = parser.parse_args()
    doc = json.loads((ROOT / "bench/flows/routing.flow.json").read_text())
    ref = flow_bench.load("ref.json")
    figures = run(doc, ref, flow_bench.make_orders(ref, args.orders))
    if figures["sqlite_best"] < TARGET_SQLITE_PER_S:
        raise SystemExit(1)


if __name__ == "__main__":
    main()
