"""Approval notification latency: from the order that needs an approval to the email arriving
at the SMTP server, through the real path (ingest, run, task, outbox, background worker,
fan-out, SMTP). Target: under 2 s.

    .venv/bin/python bench/approval_latency_bench.py [--orders 40] [--pause 0.5] [--idle 0]

Runs an embedded worker as ``orderflow serve`` does (SQLite database and queue in a temporary
instance folder; PostgreSQL and Redis when DATABASE_URL / REDIS_URL are set) and an aiosmtpd
server on loopback. ``--idle`` waits that many seconds before each order, to measure a worker
that has been idle (the queue's polling backs off while nothing happens).
"""

from __future__ import annotations

import argparse
import email
import resource
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
import uuid
from email.policy import default
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


class Inbox:
    """Arrival time of each email by its order id."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.cond = threading.Condition()
        inbox = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):  # noqa: N802 (aiosmtpd API)
                message = email.message_from_bytes(envelope.content, policy=default)
                order = str(message["Subject"]).rsplit(" ", 1)[-1]
                with inbox.cond:
                    inbox.arrived.setdefault(order, time.perf_counter())
                    inbox.cond.notify_all()
                return "250 OK"

        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def wait_for(self, order: str, timeout: float = 30) -> float | None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while order not in self.arrived:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self.cond.wait(left)
            return self.arrived[order]


def _setup(database: Any, port: int) -> None:
    from app.db import in_transaction
    from app.flows import services as flows
    from app.notifications import messages
    from app.notifications import services as notifications
    from app.users import services as users
    from flow_engine import CURRENT_FORMAT_VERSION

    doc = {
        "format_version": CURRENT_FORMAT_VERSION,
        "key": "bench-approval",
        "name": {"zh": "大额审批", "en": "Large orders"},
        "trigger": {"event": "order.created"},
        "nodes": [
            {"id": "start", "type": "start", "config": {}},
            {"id": "review", "type": "approval",
             "config": {"assignees": [{"user": "li"}], "sla": {"duration": "24h"},
                        "checks": [{"name": "credit", "expression": "order.amount <= 50000"}]}},
            {"id": "ok", "type": "end", "config": {"outcome": "ok"}},
            {"id": "no", "type": "end", "config": {"outcome": "no"}},
            {"id": "late", "type": "end", "config": {"outcome": "late"}},
        ],
        "edges": [{"from": "start", "to": "review"}, {"from": "review", "to": "ok", "branch": "approved"},
                  {"from": "review", "to": "no", "branch": "rejected"},
                  {"from": "review", "to": "late", "branch": "timeout"}],
    }  # fmt: skip

    def work(db):  # type: ignore[no-untyped-def]
        users.create_user(db, None, username="li", password="bench-password", roles=["approver"],
                          email="li@example.com")  # fmt: skip
        flows.import_flow(db, None, doc, publish_now=True)
        notifications.save_channel(
            db, None, channel_id=None, name="mail", kind="email", enabled=True,
            events=["approval_needed"], settings={"host": "127.0.0.1", "port": str(port)},
        )  # fmt: skip
        # The subject ends with the order id, so arrivals can be matched to orders.
        messages.save(db, None, "email", "approval_needed", "zh", "待审批 {{ order_id }}",
                      "{{ link }}")  # fmt: skip

    in_transaction(database, work)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--orders", type=int, default=40)
    parser.add_argument("--pause", type=float, default=0.5, help="seconds between orders")
    parser.add_argument("--idle", type=float, default=0.0, help="idle seconds before each order")
    args = parser.parse_args()

    import os
    from decimal import Decimal

    tracemalloc.start()
    instance = Path(tempfile.mkdtemp(prefix="of-approval-bench-"))
    config = {
        "INSTANCE_PATH": str(instance),
        "QUEUE_NAME": f"bench-{uuid.uuid4().hex[:8]}",
        "SECRET_KEY": "bench",
    }
    if not os.environ.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{instance / 'orderflow.db'}"
    from app import create_app
    from app.db import get_db, in_transaction
    from app.migrate import upgrade
    from app.orders import services as orders
    from app.queue import start_embedded_consumer

    upgrade(config.get("DATABASE_URL") or os.environ["DATABASE_URL"])
    app = create_app(config)
    database = get_db(app)
    inbox = Inbox()
    inbox.controller.start()
    _setup(database, inbox.port)
    consumer, _ = start_embedded_consumer(2)
    latencies: list[float] = []
    lost = 0
    try:
        for i in range(args.orders):
            time.sleep(args.idle or args.pause)
            order_id = f"B{i:05d}"
            doc = {
                "external_id": order_id, "channel": "b2b", "currency": "CNY",
                "amount": Decimal("25000.00"), "customer": {"id": "C-1", "name": "华南贸易"},
                "lines": [{"sku": "SKU-1", "qty": 10, "price": Decimal("2500.00")}],
            }  # fmt: skip
            began = time.perf_counter()
            in_transaction(database, lambda db, d=doc: orders.ingest(db, d))
            arrived = inbox.wait_for(order_id)
            if arrived is None:
                lost += 1
            else:
                latencies.append(arrived - began)
    finally:
        consumer.stop(graceful=True)
        inbox.controller.stop()
    _, peak = tracemalloc.get_traced_memory()
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    latencies.sort()
    backend = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    queue = "Redis" if os.environ.get("REDIS_URL") else "SQLite"
    print(f"approval-needed → email at the SMTP server ({backend} database, {queue} queue, "
          f"embedded worker, {args.orders} orders, {args.idle or args.pause:.1f} s apart)")  # fmt: skip
    if latencies:
        p95 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.95))]
        print(f"  median {statistics.median(latencies) * 1000:7.0f} ms")
        print(f"  p95    {p95 * 1000:7.0f} ms")
        print(f"  max    {latencies[-1] * 1000:7.0f} ms")
        print(f"  under 2 s: {sum(1 for x in latencies if x < 2)}/{len(latencies)}")
    print(f"  lost: {lost}")
    print(f"  peak Python memory (tracemalloc) {peak / 1e6:.1f} MB, peak RSS {rss:.0f} MB")


if __name__ == "__main__":
    main()
