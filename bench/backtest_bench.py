"""Backtest benchmark: replay stored orders against a draft and the live version.

Builds a SQLite database with the sample routing flow published, its reference data and
stock, and the largest order count asked for (copies of the sample orders with varied
channels, amounts and customers, spread over a quarter). The draft lowers the approval
threshold and turns credit checks stricter, so paths, outcomes and approvers change.

Each measurement runs in a fresh process (so its peak memory is its own) and they alternate
per size, so a loaded machine weighs on both sides alike:

- ``old``: the backtest as it was: every order loaded at once, each simulation turned into
  its full JSON report and the path, outcome and choices read from that;
- ``new``: what the backtest job runs: keyset batches of 500 orders, the outcome read from
  the snapshot and audit trail, compiled flows reused;
- ``new-2p``: the same with the batches shared by two worker processes.

Prints, per size, seconds and peak memory above the process's start-up of each and the same-run ratio old/new. The
figures are this machine's on this run; the ratios are what carries to another machine.

    .venv/bin/python bench/backtest_bench.py [--sizes 1000,10000,100000] [--old-max 100000]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import record  # noqa: E402

CHANNELS = ["taobao", "tmall", "jd", "douyin", "pinduoduo", "wechat", "b2b", "shopify"]


def _draft(doc: dict) -> dict:
    draft = json.loads(json.dumps(doc))
    for node in draft["nodes"]:
        if node["id"] == "large":
            node["config"]["expression"] = "order.amount >= 8000"
    return draft


def build(path: Path, n: int) -> None:
    """The database at ``path``: flow, reference data, stock and ``n`` orders."""
    from sqlalchemy import insert, update

    from app import create_app
    from app.db import get_db, in_transaction
    from app.migrate import upgrade
    from app.models import InventoryItem, Order
    from tests.app.flows_fixtures import load_reference, publish, routing_doc, routing_ref
    from tests.app.flows_fixtures import routing_samples as samples

    url = f"sqlite:///{path}"
    upgrade(url)
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(path.parent)})
    database = get_db(app)
    doc = routing_doc()

    def load(db: Any) -> None:
        load_reference(db, routing_ref())
        publish(db, doc)
        db.execute(update(InventoryItem).where(InventoryItem.on_hand > 0).values(on_hand=10**6))
        db.flush()
        from app.flows import services as flows

        flow = flows.get_flow(db, doc["key"])
        flow.draft = _draft(doc)

    in_transaction(database, load)
    rng = random.Random(21)
    base = [json.loads(json.dumps(s["order"], default=float)) for s in samples()]
    start = datetime(2026, 7, 1, tzinfo=UTC)
    rows = []
    for i in range(n):
        data = dict(rng.choice(base))
        data["external_id"] = f"BT{i:07d}"
        data["channel"] = rng.choice(CHANNELS)
        data["amount"] = round(rng.uniform(50, 40000), 2)
        created = start + timedelta(seconds=i * 90 * 86400 // max(n, 1))
        rows.append(
            {"channel": data["channel"], "external_id": data["external_id"],
             "tracking_id": f"t{i:010d}", "status": "created", "amount": data["amount"],
             "data": data, "created_at": created, "updated_at": created}
        )  # fmt: skip
    with database.engine.begin() as conn:
        for at in range(0, n, 5000):
            conn.execute(insert(Order), rows[at : at + 5000])


def child(mode: str, path: Path, n: int) -> dict[str, float]:
    """One measurement in this process: seconds, peak RSS and what changed."""
    from sqlalchemy import select

    from app import create_app
    from app.db import get_db
    from app.flows import backtest
    from app.flows import services as flows
    from app.inventory.services import available_for
    from app.models import Order
    from app.org.directory import directory_cache
    from app.reference.services import reference_cache
    from app.runs.services import enrich_customer

    app = create_app({"DATABASE_URL": f"sqlite:///{path}", "INSTANCE_PATH": str(path.parent)})
    database = get_db(app)
    with app.app_context(), database.session() as db:
        flow = flows.get_flow(db, "order-routing")
        base = _rss_mb()
        _reset_peak()
        t0 = time.perf_counter()
        changed = 0
        if mode == "old":
            replay = backtest.prepare(db, flow)
            orders = list(
                db.scalars(
                    select(Order).order_by(Order.created_at.desc(), Order.id.desc()).limit(n)
                )
            )
            skus = {ln.get("sku") for o in orders for ln in o.data.get("lines") or ()}
            ref = {**reference_cache.get(db), "org": directory_cache.get(db),
                   "inventory": available_for(db, [s for s in skus if s])}  # fmt: skip
            for o in orders:
                doc = enrich_customer(o.data, ref)
                a = backtest.full_report_outcome(replay.published, o, doc, ref, replay.rivals)
                b = backtest.full_report_outcome(replay.draft, o, doc, ref, replay.rivals)
                changed += bool(backtest._changes(a, b))
        else:
            from app.flows import backtest_job

            impact = backtest_job.Impact()
            workers = 2 if mode == "new-2p" else 1
            for batch in backtest_job.replay(db, flow, None, last=n, workers=workers):
                impact.merge(batch.impact)
            changed = impact.changed
        seconds = time.perf_counter() - t0
    return {"seconds": seconds, "peak_mb": _peak_mb() - base, "changed": changed}


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    return _status_mb("VmHWM")


def _reset_peak() -> None:
    """Start the peak (VmHWM) over from now: the app's own start-up is not the backtest's."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:  # not Linux: the peak then includes the start-up
        pass


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000")
    parser.add_argument("--old-max", type=int, default=100_000, help="largest size run the old way")
    parser.add_argument("--modes", default="old,new,new-2p")
    parser.add_argument("--child", nargs=3, metavar=("MODE", "DB", "N"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, db, n = args.child
        print(json.dumps(child(mode, Path(db), int(n))))
        return
    sizes = [int(s) for s in args.sizes.split(",")]
    modes = args.modes.split(",")
    path = Path(tempfile.mkdtemp(prefix="of-backtest-bench-")) / "bench.db"
    t0 = time.perf_counter()
    build(path, max(sizes))
    print(f"database: {max(sizes)} orders built in {time.perf_counter() - t0:.1f} s ({path})")
    print(
        f"{'orders':>8} {'mode':>7} {'seconds':>8} {'orders/s':>9} {'+peak MB':>8} {'changed':>8}"
    )
    for n in sizes:
        got: dict[str, dict[str, float]] = {}
        for mode in modes:
            if mode == "old" and n > args.old_max:
                continue
            out = subprocess.run(
                [sys.executable, __file__, "--child", mode, str(path), str(n)],
                check=True, capture_output=True, text=True, cwd=ROOT,
            )  # fmt: skip
            got[mode] = r = json.loads(out.stdout.strip().splitlines()[-1])
            record(f"backtest {n} orders {mode} seconds", r["seconds"], better="lower")
            print(
                f"{n:>8} {mode:>7} {r['seconds']:>8.2f} {n / r['seconds']:>9.0f}"
                f" {r['peak_mb']:>8.0f} {r['changed']:>8}",
                flush=True,
            )
        if "old" in got:
            for mode in ("new", "new-2p"):
                if mode in got:
                    ratio = got["old"]["seconds"] / got[mode]["seconds"]
                    mem = got["old"]["peak_mb"] / got[mode]["peak_mb"]
                    print(f"{n:>8} ratio old/{mode}: {ratio:.2f}x faster, {mem:.2f}x less memory")
    print("Figures: this machine, this run. Quote the ratios.")


if __name__ == "__main__":
    main()
