"""Approvals inbox against the organisation: statements and time per inbox page, with 1,000
and with 10,000 open tasks in the same run.

    .venv/bin/python bench/inbox_bench.py [--sizes 1000,10000] [--repeat 20]

Uses a fresh SQLite database in a temporary folder (PostgreSQL when DATABASE_URL is set).
The open tasks are spread over every way a task can be someone's: by name, by a business
role (unscoped and scoped by warehouse), by department, and by name of a colleague who is
away with the reader as delegate. The reader holds finance, is the warehouse lead of SH-01
and belongs to the department ops, so about half of the tasks are theirs. For each size it
reads the first and a middle page of the inbox (50 rows, each row's "why it is yours" and
"on behalf of" worked out) and the header count, counting the SQL statements each sends:
the statements must not grow with the number of tasks or rows.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

KINDS = [
    # (assignee, role, scope, department, why) -- who the task is for
    (None, "finance", "", None, {"zh": "财务", "en": "Finance"}),
    (None, "warehouse_lead", "SH-01", None, {"zh": "仓库主管 · SH-01", "en": "Warehouse lead · SH-01"}),
    (None, "warehouse_lead", "BJ-01", None, {"zh": "仓库主管 · BJ-01", "en": "Warehouse lead · BJ-01"}),
    (None, None, None, "ops", {"zh": "运营部成员", "en": "Member of Operations"}),
    ("reader", None, None, None, {"zh": "指定给本人", "en": "Assigned to you by name"}),
    ("away", None, None, None, {"zh": "指定给本人", "en": "Assigned to you by name"}),
    ("other", None, None, None, {"zh": "指定给本人", "en": "Assigned to you by name"}),
    (None, "customer_service", "", None, {"zh": "客服", "en": "Customer service"}),
]  # fmt: skip


def _setup(database: Any) -> int:
    """People, roles and one flow version; returns the version id."""
    from app.db import in_transaction
    from app.flows import services as flows
    from app.models import BusinessRole, Department, FlowVersion, RoleHolder, User, utcnow
    from app.users import services as users
    from flow_engine import CURRENT_FORMAT_VERSION

    for name in ("reader", "away", "other", "cs"):
        in_transaction(
            database,
            lambda db, n=name: users.create_user(
                db, None, username=n, password="correct-horse", roles=("approver",)
            ),
        )

    def org(db: Any) -> int:
        people = {u.username: u for u in db.query(User)}
        ops = Department(key="ops", name_zh="运营部", name_en="Operations")
        db.add(ops)
        roles = {}
        for key, zh, en, table in (
            ("finance", "财务", "Finance", None),
            ("warehouse_lead", "仓库主管", "Warehouse lead", "warehouses"),
            ("customer_service", "客服", "Customer service", None),
        ):
            roles[key] = BusinessRole(key=key, name_zh=zh, name_en=en, scope_table=table)
            db.add(roles[key])
        db.flush()
        people["reader"].department_id = ops.id
        for role, user, scope in (
            ("finance", "reader", ""),
            ("warehouse_lead", "reader", "SH-01"),
            ("warehouse_lead", "other", "BJ-01"),
            ("customer_service", "cs", ""),
        ):
            db.add(RoleHolder(role_id=roles[role].id, user_id=people[user].id, scope=scope))
        now = utcnow()
        away = people["away"]
        away.away_from, away.away_until = now - timedelta(days=1), now + timedelta(days=7)
        away.away_delegate = "reader"
        doc = {
            "format_version": CURRENT_FORMAT_VERSION,
            "key": "bench-inbox",
            "name": {"zh": "收件箱基准", "en": "Inbox bench"},
            "trigger": {"event": "order.created"},
            "nodes": [
                {"id": "start", "type": "start", "config": {}, "position": {"x": 0, "y": 0}},
                {"id": "review", "type": "approval", "position": {"x": 100, "y": 0},
                 "config": {"assignees": [{"role": "finance"}]}},
                {"id": "ok", "type": "end", "config": {"outcome": "accepted"},
                 "position": {"x": 200, "y": 0}},
                {"id": "no", "type": "end", "config": {"outcome": "refused"},
                 "position": {"x": 200, "y": 100}},
            ],
            "edges": [{"id": "e1", "from": "start", "to": "review"},
                      {"id": "e2", "from": "review", "to": "ok", "branch": "approved"},
                      {"id": "e3", "from": "review", "to": "no", "branch": "rejected"}],
        }  # fmt: skip
        flows.import_flow(db, None, doc, publish_now=True)
        db.flush()
        return db.query(FlowVersion).one().id

    return in_transaction(database, org)


def _fill(database: Any, version_id: int, start: int, count: int) -> None:
    """``count`` more open tasks, each on its own order and run, inserted in bulk."""
    from sqlalchemy import insert

    from app.models import ApprovalTask, Order, Run, utcnow

    now = utcnow()
    with database.session() as db:
        orders = [
            {"channel": "bench", "external_id": f"PO-{i:06d}", "tracking_id": uuid.uuid4().hex,
             "status": "created", "amount": 20000 + i, "created_at": now, "updated_at": now,
             "data": {"external_id": f"PO-{i:06d}", "currency": "CNY",
                      "customer": {"id": f"C-{i % 97}", "name": "华南贸易"}}}
            for i in range(start, start + count)
        ]  # fmt: skip
        order_ids = db.execute(insert(Order).returning(Order.id), orders).scalars().all()
        runs = [
            {"flow_version_id": version_id, "order_id": oid, "status": "waiting", "snapshot": {},
             "lock_version": 1, "current_nodes": ["review"], "started_at": now, "updated_at": now}
            for oid in order_ids
        ]  # fmt: skip
        run_ids = db.execute(insert(Run).returning(Run.id), runs).scalars().all()
        tasks = []
        for n, run_id in enumerate(run_ids):
            assignee, role, scope, department, why = KINDS[(start + n) % len(KINDS)]
            tasks.append(
                {"task_key": f"a-{start + n}", "run_id": run_id, "node_id": "review",
                 "assignee": assignee, "role": role, "scope": scope, "department": department,
                 "why": why, "status": "pending", "due_at": now + timedelta(minutes=start + n),
                 "payload": {"reason": {"zh": "金额超过 20,000", "en": "Above 20,000"},
                             "checks": [{"name": "credit", "passed": n % 3 != 0}]}}
            )  # fmt: skip
        db.execute(insert(ApprovalTask), tasks)
        db.commit()


class Counter:
    def __init__(self, engine: Any) -> None:
        from sqlalchemy import event

        self.count = 0
        event.listen(engine, "before_cursor_execute", self._hit)

    def _hit(self, *_: Any) -> None:
        self.count += 1


def _measure(database: Any, counter: Counter, repeat: int, page: int) -> dict[str, Any]:
    from app.approvals import queries
    from app.users import services as users

    times, statements, rows, total = [], 0, 0, 0
    for _ in range(repeat):
        with database.session() as db:
            reader = users.get_user(db, "reader")
            before = counter.count
            began = time.perf_counter()
            found = queries.inbox(db, reader, language="zh", page=page)
            times.append((time.perf_counter() - began) * 1000)
            statements = counter.count - before
            rows, total = len(found.rows), found.total
            whys = {r.why for r in found.rows} | {r.for_name for r in found.rows if r.for_name}
    with database.session() as db:
        reader = users.get_user(db, "reader")
        before = counter.count
        began = time.perf_counter()
        pending = queries.pending_count(db, reader)
        count_ms = (time.perf_counter() - began) * 1000
        count_statements = counter.count - before
    assert pending == total, (pending, total)
    return {
        "page": page,
        "rows": rows,
        "total": total,
        "statements": statements,
        "p50": statistics.median(times),
        "max": max(times),
        "count_ms": count_ms,
        "count_statements": count_statements,
        "whys": sorted(w for w in whys if w),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1000,10000")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]

    instance = Path(tempfile.mkdtemp(prefix="of-inbox-bench-"))
    config = {"INSTANCE_PATH": str(instance), "SECRET_KEY": "bench",
              "QUEUE_NAME": f"bench-{uuid.uuid4().hex[:8]}"}  # fmt: skip
    if not os.environ.get("DATABASE_URL"):
        config["DATABASE_URL"] = f"sqlite:///{instance / 'orderflow.db'}"
    from app import create_app
    from app.db import get_db
    from app.migrate import upgrade

    upgrade(config.get("DATABASE_URL") or os.environ["DATABASE_URL"])
    app = create_app(config)
    backend = "PostgreSQL" if os.environ.get("DATABASE_URL") else "SQLite"
    with app.app_context():
        database = get_db(app)
        version_id = _setup(database)
        counter = Counter(database.engine)
        print(f"inbox page of 50 rows, {backend}, {args.repeat} reads each")
        print(f"{'open tasks':>10} {'page':>5} {'theirs':>7} {'rows':>5} {'SQL/page':>8} "
              f"{'p50 ms':>8} {'max ms':>8} {'count ms':>9} {'SQL/count':>9}")  # fmt: skip
        filled = 0
        for size in sizes:
            _fill(database, version_id, filled, size - filled)
            filled = size
            for page in (1, 20):
                m = _measure(database, counter, args.repeat, page)
                print(f"{size:>10} {m['page']:>5} {m['total']:>7} {m['rows']:>5} "
                      f"{m['statements']:>8} {m['p50']:>8.1f} {m['max']:>8.1f} "
                      f"{m['count_ms']:>9.1f} {m['count_statements']:>9}")  # fmt: skip
        print("why shown on the last page read:", ", ".join(m["whys"]))


if __name__ == "__main__":
    main()
