"""API benchmark: orders in through a real WSGI server, on SQLite and on PostgreSQL.

    .venv/bin/python bench/api_bench.py [--seconds 15]
                                        [--scenario single|batch|channel|status|both]
                                        [--signature shopify|orderflow]
                                        [--workers W] [--threads T] [--connections C]
                                        [--batch N] [--idempotency-keys] [--status-orders N]
                                        [--skip-pg] [--skip-sqlite]

It runs two scenarios (``--scenario``, ``both`` by default), each on both databases:

* ``single``: one order per ``POST /api/v1/orders``, 24 connections, gunicorn 2 workers x 12
  threads (a channel webhook per order; threads let orders that arrive together share a
  transaction, see ``app/orders/grouped.py``);
* ``batch``: 20 orders per ``POST /api/v1/orders/batch``, 3 connections, gunicorn 3 workers
  x 2 threads (an ERP or a queue consumer sending what it has);
* ``channel`` (only when asked for): one signed delivery per
  ``POST /api/v1/channels/<key>/webhook``, set up as ``single`` (signature checked, payload
  mapped to the canonical order, then the same intake, the delivery kept in the channel's
  delivery log). With ``--signature shopify`` (the default) a ``shopify`` channel receives
  Shopify's own orders/create webhooks, signed with ``X-Shopify-Hmac-Sha256`` and named by
  ``X-Shopify-Webhook-Id`` (no relay re-signing); with ``--signature orderflow`` a
  Taobao-style channel receives trades signed with ``X-OrderFlow-Signature`` (receipt kept
  against replays);
* ``status`` (only when asked for): status events that start runs, set up as ``single``.
  Untimed, it creates orders through the batch API; timed, it posts one ERP ``PAID`` event
  per order to ``POST /api/v1/status-events`` (the order moves to paid, which fires
  ``order.status_changed`` and ``order.paid``). The baseline is measured on the same server
  in the same invocation: first the events of one half of the orders with no ``order.paid``
  flow live (the status event alone: stored, order moved, waiting runs looked up, the
  trigger dispatch finding nothing to start), then ``bench/flows/on_paid.flow.json`` is
  published (a condition, a tag or a set, an end) and the other half is timed, each event
  starting one run. The ratio between the two is the cost of starting runs from status
  events; beside it, ``single`` gives the order-intake figures when asked for. At the end
  the runs of that flow are counted in the database: every event must have started exactly
  one, on its own order.

With ``--idempotency-keys`` each single order carries an ``Idempotency-Key`` header (what a
careful client sends so that its retries are safe); such requests are grouped the same way.

For each, it migrates a fresh database, loads the routing flow
(``bench/flows/routing.flow.json``) with its reference data and stock, starts gunicorn
(``--workers`` processes, gthread, keep-alive) on loopback, and drives it with a small
asyncio HTTP/1.1 client on the same machine (``--connections`` keep-alive connections, each
sending the next order as soon as the previous answer arrived):

* ingest: ``POST /api/v1/orders`` with realistic orders (the routing samples, unique
  external ids): every accepted order is validated, stored, run through the 15-node flow
  (decision table, stock reservation, route choice, webhook to the outbox) and committed
  before the 201. Prints orders/s, p50/p90/p99 latency and errors. With ``--batch N``
  each request posts N orders to ``POST /api/v1/orders/batch`` (one transaction per
  request); latency is then per request;
* status lag: for orders just ingested, ``POST /api/v1/status-events`` then poll
  ``GET /api/v1/orders/<id>`` until the new state shows; prints p50/p99 of
  event-sent → visible;
* server CPU time per order (user + system of every gunicorn process), and the rate that
  implies on this machine's cores when nothing else runs: the figure to compare between
  machines and commits, since the measured rate also depends on whatever else is running;
* peak RSS of every server process and of the load generator.

PostgreSQL is measured when a server answers at ``ORDERFLOW_BENCH_PG`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``); a throw-away database is created
and dropped. The client shares the 2 cores with the server: figures are end to end on one
machine, not the server alone.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import copy
import hashlib
import hmac
import json
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import simplejson  # noqa: E402
from sqlalchemy import create_engine, func, select, text, update  # noqa: E402

from app import create_app  # noqa: E402
from app.channels import services as channels  # noqa: E402
from app.db import get_db, in_transaction  # noqa: E402
from app.flows import services as flows  # noqa: E402
from app.inventory import services as inventory  # noqa: E402
from app.migrate import upgrade  # noqa: E402
from app.models import FlowVersion, InventoryItem, Run  # noqa: E402
from app.org import services as org  # noqa: E402
from app.reference import services as reference  # noqa: E402
from app.runs import outbox  # noqa: E402
from app.signing import sign  # noqa: E402
from app.users import services as users  # noqa: E402

FLOWS = ROOT / "bench" / "flows"
PG_ADMIN_URL = os.environ.get(
    "ORDERFLOW_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
TARGET_RATE, TARGET_P99_MS, TARGET_LAG_MS = 1000.0, 100.0, 1000.0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


CHANNEL = "bench-tb"
SHOP = "bench-shop"  # a Shopify channel: deliveries signed with X-Shopify-Hmac-Sha256
SHOP_SECRET = "shpss_bench_0123456789abcdef"


def _prepare(url: str, instance: str) -> tuple[str, str]:
    """Migrate, load the routing flow and its data, add a Taobao-style channel; return an
    API key and the channel's signing secret."""
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance})
    database = get_db(app)
    doc = json.loads((FLOWS / "routing.flow.json").read_text(encoding="utf-8"))
    ref = simplejson.loads((FLOWS / "ref.json").read_text(encoding="utf-8"), use_decimal=True)

    def load(db: Any) -> None:
        for name, rows in ref.items():
            if name == "inventory":
                for warehouse, skus in rows.items():
                    for sku, qty in skus.items():
                        inventory.set_stock(db, sku, warehouse, int(qty))
                continue
            key_field = "sku" if name == "catalog" else "id"
            reference.upsert_rows(db, reference.ensure_table(db, name, key_field=key_field), rows)
        # The flow's approval node is assigned to this business role.
        org.create_role(db, None, key="finance", name_zh="财务", name_en="Finance")
        flows.import_flow(db, None, doc, publish_now=True)
        db.execute(update(InventoryItem).where(InventoryItem.on_hand > 0).values(on_hand=10**9))
        outbox.add_allowed_host(db, "bench", "127.0.0.1")
        channels.create_channel(
            db, None, key=SHOP, kind="shopify", order_channel="shopify", secret=SHOP_SECRET
        )
        return channels.create_channel(
            db, None, key=CHANNEL, kind="taobao", order_channel="taobao"
        ).secret

    secret = in_transaction(database, load)
    with app.app_context():
        _, key = users.create_api_key(
            database.session(), None, name="bench", scopes=["orders:read", "orders:write"]
        )
    database.dispose()
    return key, secret


def _orders() -> list[dict[str, Any]]:
    samples = simplejson.loads((FLOWS / "orders.json").read_text(encoding="utf-8"),
                               use_decimal=True)  # fmt: skip
    return [s["order"] for s in samples]


def _shopify(doc: dict[str, Any], order_id: str) -> dict[str, Any]:
    """The sample order as a Shopify orders/create webhook body."""
    addr = doc.get("shipping_address") or {}
    customer = doc.get("customer") or {}
    return {
        "id": order_id, "name": f"#{order_id}", "currency": doc.get("currency", "CNY"),
        "total_price": str(doc["amount"]), "created_at": "2024-06-03T09:15:00+08:00",
        "customer": {"id": customer.get("id"), "first_name": customer.get("name")},
        "shipping_address": {"country_code": "CN", "province": addr.get("province"),
                             "city": addr.get("city"), "address1": "1 号"},
        "line_items": [{"sku": ln["sku"], "quantity": ln["qty"], "price": str(ln["price"]),
                        "title": ln["name"]} for ln in doc["lines"]],
    }  # fmt: skip


def _taobao(doc: dict[str, Any], tid: str) -> dict[str, Any]:
    """The sample order as a Taobao-style trade, as the channel webhook receives it."""
    addr = doc.get("shipping_address") or {}
    customer = doc.get("customer") or {}
    items = [
        {
            "outer_sku_id": ln["sku"],
            "num": ln["qty"],
            "price": str(ln["price"]),
            "title": ln["name"],
        }
        for ln in doc["lines"]
    ]
    return {"trade": {
        "tid": tid, "status": "WAIT_SELLER_SEND_GOODS", "payment": str(doc["amount"]),
        "created": "2024-06-03 09:15:00", "buyer_open_uid": customer.get("id"),
        "buyer_nick": customer.get("name"), "receiver_state": addr.get("province"),
        "receiver_city": addr.get("city"), "receiver_address": "1 号", "orders": {"order": items},
    }}  # fmt: skip


class Server:
    def __init__(self, url: str, instance: str, workers: int, threads: int) -> None:
        self.port = _free_port()
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "ORDERFLOW_INSTANCE_PATH": instance,
            "ORDERFLOW_RATELIMIT_API": "",
            "ORDERFLOW_LOG_LEVEL": "WARNING",
        }
        cmd = [
            str(Path(sys.executable).parent / "gunicorn"),
            "--workers", str(workers), "--worker-class", "gthread", "--threads", str(threads),
            "--bind", f"127.0.0.1:{self.port}", "--keep-alive", "30", "--backlog", "2048",
            "--log-level", "warning", "app:create_app()",
        ]  # fmt: skip
        self.proc = subprocess.Popen(cmd, env=env, cwd=ROOT, start_new_session=True)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise SystemExit("gunicorn did not start")

    def _pids(self) -> list[int]:
        pids = [self.proc.pid]
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        if children.exists():
            pids += [int(p) for p in children.read_text().split()]
        return pids

    def cpu_seconds(self) -> float:
        """User + system CPU time used so far by the master and its workers."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self._pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / ticks

    def rss_mb(self) -> tuple[float, float]:
        """Peak RSS (VmHWM): summed over the master and its workers, and the largest one."""
        sizes = []
        for pid in self._pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmHWM:"):
                        sizes.append(int(line.split()[1]) / 1024)
            except OSError:
                continue
        return sum(sizes), max(sizes, default=0.0)

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=30)


class Conn:
    """One keep-alive HTTP/1.1 connection; requests are prebuilt bytes."""

    def __init__(self, port: int, key: str) -> None:
        self.port, self.key = port, key

    async def open(self) -> None:
        self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)

    async def call(
        self, method: str, path: str, body: bytes = b"", extra: str = ""
    ) -> tuple[int, bytes]:
        head = (
            f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {self.key}"
            f"\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n{extra}\r\n"
        )
        self.writer.write(head.encode() + body)
        status_line = await self.reader.readline()
        length = 0
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        payload = await self.reader.readexactly(length) if length else b""
        return int(status_line.split()[1]), payload


async def _ingest(port: int, key: str, seconds: float, connections: int, prefix: str,
                  batch: int = 1, secret: str | None = None,
                  keyed: bool = False, native: bool = False) -> dict[str, Any]:  # fmt: skip
    """Post orders for ``seconds``; with ``secret``, one signed Taobao-style delivery per
    request to the channel webhook instead of the API; with ``native``, one Shopify
    orders/create webhook signed the way Shopify signs."""
    samples = _orders()
    latencies: list[float] = []
    errors: dict[int, int] = {}
    ids: list[int] = []
    counter = stored = 0
    first_error: dict[int, str] = {}
    stop_at = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal counter, stored
        conn = Conn(port, key)
        await conn.open()
        while time.perf_counter() < stop_at:
            docs = []
            for _ in range(batch):
                counter += 1
                doc = copy.copy(samples[counter % len(samples)])
                doc["external_id"] = f"{prefix}-{counter:08d}"
                docs.append(doc)
            extra = ""
            if native:
                path = f"/api/v1/channels/{SHOP}/webhook"
                body = simplejson.dumps(_shopify(docs[0], docs[0]["external_id"]),
                                        use_decimal=True, ensure_ascii=False)  # fmt: skip
                mac = hmac.new(SHOP_SECRET.encode(), body.encode(), hashlib.sha256).digest()
                extra = (f"X-Shopify-Hmac-Sha256: {base64.b64encode(mac).decode()}\r\n"
                         f"X-Shopify-Topic: orders/create\r\n"
                         f"X-Shopify-Webhook-Id: {docs[0]['external_id']}\r\n")  # fmt: skip
            elif secret is not None:
                path = f"/api/v1/channels/{CHANNEL}/webhook"
                body = simplejson.dumps(_taobao(docs[0], docs[0]["external_id"]),
                                        use_decimal=True, ensure_ascii=False)  # fmt: skip
                stamp = int(time.time())
                extra = f"X-OrderFlow-Signature: {sign(secret, stamp, body.encode())}\r\n"
            elif batch == 1:
                path, body = "/api/v1/orders", simplejson.dumps(docs[0], use_decimal=True)
                if keyed:
                    extra = f"Idempotency-Key: {docs[0]['external_id']}\r\n"
            else:
                path, body = "/api/v1/orders/batch", simplejson.dumps({"orders": docs},
                                                                      use_decimal=True)  # fmt: skip
            started = time.perf_counter()
            status, payload = await conn.call("POST", path, body.encode(), extra)
            latencies.append(time.perf_counter() - started)
            if status == 201:
                stored += batch
                if len(ids) < 500:
                    answer = json.loads(payload)
                    items = answer["items"] if batch > 1 else [answer]
                    ids.extend(item["id"] for item in items)
            else:
                errors[status] = errors.get(status, 0) + 1
                first_error.setdefault(status, payload[:300].decode("utf-8", "replace"))
        conn.writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "requests": len(latencies),
        "orders": stored,
        "rate": stored / elapsed,
        "p50_ms": q[49] * 1000,
        "p90_ms": q[89] * 1000,
        "p99_ms": q[98] * 1000,
        "errors": errors,
        "first_error": first_error,
        "ids": ids,
    }


async def _status_lag(port: int, key: str, order_ids: list[int], count: int) -> dict[str, float]:
    conn = Conn(port, key)
    await conn.open()
    lags = []
    for i, order_id in enumerate(order_ids[:count]):
        event = {
            "source": "wms", "event_id": f"lag-{order_id}-{i}", "code": "SHIPPED",
            "occurred_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "order": {"id": order_id},
        }  # fmt: skip
        sent = time.perf_counter()
        await conn.call("POST", "/api/v1/status-events", json.dumps(event).encode())
        while True:
            status, payload = await conn.call("GET", f"/api/v1/orders/{order_id}")
            if status == 200 and json.loads(payload)["status"] == "shipped":
                break
            await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - sent)
    conn.writer.close()
    lags.sort()
    q = statistics.quantiles(lags, n=100)
    return {"events": len(lags), "p50_ms": q[49] * 1000, "p99_ms": q[98] * 1000}


def measure(label: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="of-api-bench-") as instance:
        key, channel_secret = _prepare(url, instance)
        native = args.channel and args.signature == "shopify"
        secret = channel_secret if args.channel and not native else None
        server = Server(url, instance, args.workers, args.threads)
        try:
            # Warm-up: every worker compiles the flow and fills its caches once.
            asyncio.run(
                _ingest(
                    server.port,
                    key,
                    2.0,
                    args.connections,
                    f"{label}-warm",
                    args.batch,
                    secret,
                    args.idempotency_keys,
                    native,
                )  # fmt: skip
            )
            cpu_before = server.cpu_seconds()
            result = asyncio.run(
                _ingest(
                    server.port,
                    key,
                    args.seconds,
                    args.connections,
                    f"{label}-run",
                    args.batch,
                    secret,
                    args.idempotency_keys,
                    native,
                )  # fmt: skip
            )
            cpu_ms = (server.cpu_seconds() - cpu_before) * 1000 / max(result["orders"], 1)
            lag = asyncio.run(_status_lag(server.port, key, result["ids"], args.lag_events))
            rss = server.rss_mb()
        finally:
            server.stop()
    rate_ok = "OK " if result["rate"] >= TARGET_RATE else "MISS"
    p99_ok = "OK " if result["p99_ms"] < TARGET_P99_MS else "MISS"
    lag_ok = "OK " if lag["p99_ms"] < TARGET_LAG_MS else "MISS"
    how = "one order per request" if args.batch == 1 else f"{args.batch} orders per request"
    if args.batch == 1 and args.idempotency_keys:
        how += " with an Idempotency-Key"
    if args.channel and not native:
        how = "one Taobao-style delivery per channel webhook request, X-OrderFlow-Signature"
    if native:
        how = "one Shopify orders/create webhook per request, signed the Shopify way"
    print(f"\n== {label}: gunicorn {args.workers} workers x {args.threads} threads, "
          f"{args.connections} connections, {how}, {args.seconds:.0f} s")  # fmt: skip
    print(f"  ingest      {result['rate']:8.0f} orders/s  [{rate_ok}] target {TARGET_RATE:.0f}")
    print(
        f"  latency     p50 {result['p50_ms']:6.1f} ms  p90 {result['p90_ms']:6.1f} ms  "
        f"p99 {result['p99_ms']:6.1f} ms  [{p99_ok}] target p99 < {TARGET_P99_MS:.0f} ms"
    )
    print(f"  errors      {result['errors'] or 'none'} of {result['requests']} requests "
          "(latency is per request)")  # fmt: skip
    for status, body in result["first_error"].items():
        print(f"              first {status}: {body}")
    cores = os.cpu_count() or 1
    print(
        f"  server CPU  {cpu_ms:.2f} ms per order: at most {cores * 1000 / cpu_ms:.0f} "
        f"orders/s on {cores} cores with nothing else running"
    )
    print(
        f"  status lag  p50 {lag['p50_ms']:6.1f} ms  p99 {lag['p99_ms']:6.1f} ms over "
        f"{lag['events']} events  [{lag_ok}] target < {TARGET_LAG_MS:.0f} ms"
    )
    print(f"  peak RSS    server {rss[0]:.0f} MiB (all processes), "
          f"{rss[1]:.0f} MiB the largest process")  # fmt: skip
    return {"label": label, **{k: v for k, v in result.items() if k not in ("ids", "first_error")}, "lag": lag,
            "rss_mb": rss[0], "cpu_ms": cpu_ms}  # fmt: skip


PAID_FLOW = "bench-paid"


async def _create_orders(port: int, key: str, count: int, prefix: str) -> list[int]:
    """Create ``count`` orders, 20 per ``POST /api/v1/orders/batch``, all in state
    ``created`` (the samples arrive paid); return their ids."""
    samples = _orders()
    ids: list[int] = []
    todo = iter(range(0, count, 20))

    async def worker() -> None:
        conn = Conn(port, key)
        await conn.open()
        for start in todo:
            docs = [{**samples[n % len(samples)], "external_id": f"{prefix}-{n:08d}",
                     "status": "created"}
                    for n in range(start, min(start + 20, count))]  # fmt: skip
            body = simplejson.dumps({"orders": docs}, use_decimal=True).encode()
            status, payload = await conn.call("POST", "/api/v1/orders/batch", body)
            if status != 201:
                raise SystemExit(f"creating orders failed: {status} {payload[:300]!r}")
            ids.extend(item["id"] for item in json.loads(payload)["items"])
        conn.writer.close()

    await asyncio.gather(*(worker() for _ in range(3)))
    return ids


async def _post_status(port: int, key: str, order_ids: list[int], seconds: float,
                       connections: int, prefix: str) -> dict[str, Any]:  # fmt: skip
    """One ERP ``PAID`` event per order until the orders or ``seconds`` run out."""
    latencies: list[float] = []
    errors: dict[int, int] = {}
    first_error: dict[int, str] = {}
    started_runs: dict[int, int] = {}
    todo = iter(order_ids)
    stop_at = time.perf_counter() + seconds
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    async def worker() -> None:
        conn = Conn(port, key)
        await conn.open()
        for order_id in todo:
            if time.perf_counter() >= stop_at:
                break
            event = {"source": "erp", "event_id": f"{prefix}-{order_id}", "code": "PAID",
                     "occurred_at": stamp, "order": {"id": order_id}}  # fmt: skip
            began = time.perf_counter()
            status, payload = await conn.call(
                "POST", "/api/v1/status-events", json.dumps(event).encode()
            )
            latencies.append(time.perf_counter() - began)
            if status == 201:
                started_runs[order_id] = json.loads(payload)["runs_started"]
            else:
                errors[status] = errors.get(status, 0) + 1
                first_error.setdefault(status, payload[:300].decode("utf-8", "replace"))
        conn.writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - began
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) > 1 else [0.0] * 99
    return {
        "events": len(started_runs),
        "requests": len(latencies),
        "elapsed": elapsed,
        "rate": len(started_runs) / elapsed,
        "runs_rate": sum(started_runs.values()) / elapsed,
        "started": started_runs,
        "p50_ms": q[49] * 1000,
        "p90_ms": q[89] * 1000,
        "p99_ms": q[98] * 1000,
        "errors": errors,
        "first_error": first_error,
    }


def _paid_runs(url: str, instance: str) -> dict[int, int]:
    """Runs of the ``order.paid`` flow per order, counted in the database."""
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance})
    database = get_db(app)
    with database.session() as db:
        rows = db.execute(
            select(Run.order_id, func.count(Run.id))
            .join(FlowVersion)
            .where(FlowVersion.flow.has(key=PAID_FLOW))
            .group_by(Run.order_id)
        ).all()
    database.dispose()
    return dict(rows)


def _publish_paid_flow(url: str, instance: str) -> None:
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance})
    database = get_db(app)
    doc = json.loads((FLOWS / "on_paid.flow.json").read_text(encoding="utf-8"))
    in_transaction(database, lambda db: flows.import_flow(db, None, doc, publish_now=True))
    database.dispose()


def measure_status(label: str, url: str, args: argparse.Namespace) -> dict[str, Any]:
    """The ``status`` scenario: status events with no ``order.paid`` flow (the baseline),
    then the same number with one live, each starting a run."""
    n = args.status_orders
    with tempfile.TemporaryDirectory(prefix="of-api-bench-") as instance:
        key, _ = _prepare(url, instance)
        server = Server(url, instance, args.workers, args.threads)
        phases = {}
        try:
            ids = asyncio.run(_create_orders(server.port, key, 2 * n + 200, f"{label}-st"))
            # Warm-up: every worker loads the status tables and the event path once.
            asyncio.run(_post_status(server.port, key, ids[:200], 2.0, args.connections,
                                     "warm"))  # fmt: skip
            for phase, orders in (("baseline", ids[200 : 200 + n]), ("runs", ids[200 + n :])):
                if phase == "runs":
                    _publish_paid_flow(url, instance)
                cpu_before = server.cpu_seconds()
                result = asyncio.run(_post_status(server.port, key, orders, args.seconds,
                                                  args.connections, phase))  # fmt: skip
                result["cpu_ms"] = (server.cpu_seconds() - cpu_before) * 1000 / max(
                    result["requests"], 1)  # fmt: skip
                phases[phase] = result
            rss = server.rss_mb()
        finally:
            server.stop()
        counted = _paid_runs(url, instance)
    base, runs = phases["baseline"], phases["runs"]
    print(f"\n== {label}: status events starting runs, gunicorn {args.workers} workers x "
          f"{args.threads} threads, {args.connections} connections, one ERP PAID event per "
          f"request, up to {args.seconds:.0f} s or {n} events per phase")  # fmt: skip
    print(f"  {'':12}{'no order.paid flow':>22}{'order.paid flow live':>24}{'ratio':>8}")
    rows = [
        ("events/s", base["rate"], runs["rate"], "{:.0f}"),
        ("runs/s", base["runs_rate"], runs["runs_rate"], "{:.0f}"),
        ("p50 ms", base["p50_ms"], runs["p50_ms"], "{:.1f}"),
        ("p90 ms", base["p90_ms"], runs["p90_ms"], "{:.1f}"),
        ("p99 ms", base["p99_ms"], runs["p99_ms"], "{:.1f}"),
        ("CPU ms/event", base["cpu_ms"], runs["cpu_ms"], "{:.2f}"),
    ]
    for name, before, after, fmt in rows:
        ratio = f"{after / before:.2f}x" if before else "-"
        print(f"  {name:12}{fmt.format(before):>22}{fmt.format(after):>24}{ratio:>8}")
    for phase, result in phases.items():
        print(f"  {phase:12}{result['events']} events in {result['elapsed']:.1f} s, errors "
              f"{result['errors'] or 'none'} of {result['requests']} requests")  # fmt: skip
        for status, body in result["first_error"].items():
            print(f"              first {status}: {body}")
    answered = runs["started"]
    exact = (
        all(v == 1 for v in answered.values())
        and counted == dict.fromkeys(answered, 1)
        and not any(base["started"].values())
    )
    print(f"  check       {sum(answered.values())} runs_started answered, "
          f"{sum(counted.values())} runs of {PAID_FLOW} on {len(counted)} orders in the "
          f"database: {'OK, one run per event' if exact else 'MISMATCH'}")  # fmt: skip
    print(f"  peak RSS    server {rss[0]:.0f} MiB (all processes), "
          f"{rss[1]:.0f} MiB the largest process")  # fmt: skip
    return {"label": label, "baseline": base, "runs": runs, "exact": exact, "rss_mb": rss[0]}


def _pg_database() -> str | None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = f"of_api_bench_{os.getpid()}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as err:  # no server: the section says so and is skipped
        print(f"\n== PostgreSQL skipped: {str(err).splitlines()[0]}")
        return None
    finally:
        admin.dispose()
    return PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"


def _drop_pg(url: str) -> None:
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)'))
    admin.dispose()


# The two ways systems send orders, each with the server shape that suits it: a channel
# webhook posts one order per request (many connections; many threads per worker, so that
# orders arriving together share a transaction); an ERP or a queue consumer posts batches
# (few connections, fewer threads so a worker is not split between requests).
_SINGLE = {"batch": 1, "connections": 24, "workers": 2, "threads": 12}
SCENARIOS = {
    "single": {**_SINGLE, "channel": False, "status": False},
    "batch": {
        "batch": 20,
        "connections": 3,
        "workers": 3,
        "threads": 2,
        "channel": False,
        "status": False,
    },  # fmt: skip
    # Channel webhooks, signed the platform's way or OrderFlow's (``--signature``).
    "channel": {**_SINGLE, "channel": True, "status": False},
    # Status events come one per request, like channel webhooks: the same server shape.
    "status": {**_SINGLE, "channel": False, "status": True},
}
DEFAULT_SCENARIOS = ("single", "batch")


def _scenarios(args: argparse.Namespace) -> list[argparse.Namespace]:
    """The scenarios to run; any of --batch/--connections/--workers/--threads given on the
    command line overrides that setting in each of them."""
    names = list(DEFAULT_SCENARIOS) if args.scenario == "both" else [args.scenario]
    runs = []
    for name in names:
        settings = dict(SCENARIOS[name])
        for key in settings:
            if getattr(args, key, None) is not None:
                settings[key] = getattr(args, key)
        runs.append(argparse.Namespace(**{**vars(args), **settings}))
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--scenario", choices=[*SCENARIOS, "both"], default="both",
                        help="single: one order per request; batch: 20 per request; "
                             "channel: one signed delivery per channel webhook request; "
                             "status: status events that start runs")  # fmt: skip
    parser.add_argument("--signature", choices=["shopify", "orderflow"], default="shopify",
                        help="channel scenario: Shopify's own X-Shopify-Hmac-Sha256 and "
                             "X-Shopify-Webhook-Id (default), or X-OrderFlow-Signature")  # fmt: skip
    parser.add_argument("--workers", type=int)
    parser.add_argument("--threads", type=int)
    parser.add_argument("--connections", type=int)
    parser.add_argument("--lag-events", type=int, default=100)
    parser.add_argument("--batch", type=int,
                        help="orders per request: 1 posts /orders, more posts /orders/batch")  # fmt: skip
    parser.add_argument("--idempotency-keys", action="store_true",
                        help="single orders carry an Idempotency-Key header")  # fmt: skip
    parser.add_argument("--status-orders", type=int, default=3000,
                        help="status scenario: orders created for each timed phase")  # fmt: skip
    parser.add_argument("--skip-pg", action="store_true")
    parser.add_argument("--skip-sqlite", action="store_true")
    args = parser.parse_args()
    print(f"OrderFlow API benchmark on {os.cpu_count()} cores (client and server share them)")
    for run in _scenarios(args):
        if not args.skip_sqlite:
            with tempfile.TemporaryDirectory(prefix="of-api-db-") as folder:
                bench = measure_status if run.status else measure
                bench("SQLite", f"sqlite:///{folder}/orderflow.db", run)
        if not args.skip_pg:
            url = _pg_database()
            if url:
                try:
                    (measure_status if run.status else measure)("PostgreSQL", url, run)
                finally:
                    _drop_pg(url)
    client_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"\nload generator peak RSS {client_rss:.0f} MiB")


if __name__ == "__main__":
    main()
