"""The demo's order history: weeks of orders over several channels with a promotion peak,
completed runs, decided approvals, deliveries and costs, so every dashboard panel, the
bottleneck view and the backtest have data on first start; and no dead letters."""

from __future__ import annotations

import random
from collections import Counter
from datetime import timedelta

from sqlalchemy import func, select

from app.bundles import history
from app.bundles.demo import load_demo
from app.clock import zone
from app.dashboard import bottleneck, panels, ranges
from app.db import get_db, in_transaction
from app.flows import backtest, services
from app.models import ApprovalTask, Order, OutboxMessage, Run, RunEvent, utcnow
from app.runs import outbox


def test_demo_history_fills_every_panel_and_leaves_no_dead_letters(app):
    with app.app_context():
        load_demo(app, receiver_base="http://127.0.0.1:9")
        database = get_db(app)
        with database.session() as db:
            past = list(
                db.execute(
                    select(Order.created_at, Order.channel).where(Order.external_id.like("H-%"))
                )
            )
            first = min(at for at, _ in past)
            assert utcnow() - first >= timedelta(days=21)
            per_channel = Counter(channel for _, channel in past)
            assert len(per_channel) >= 5 and min(per_channel.values()) >= 10
            # The promotion: its busiest day has at least twice the orders of a median day.
            per_day = sorted(Counter(at.date() for at, _ in past).values())
            assert per_day[-1] >= 2 * per_day[len(per_day) // 2]

            decided = db.execute(
                select(ApprovalTask.status, ApprovalTask.decided_at, ApprovalTask.due_at).where(
                    ApprovalTask.decided_at.is_not(None)
                )
            ).all()
            assert {s for s, _, _ in decided} == {"approved", "rejected"}
            assert any(at > due for _, at, due in decided)  # some decided late
            assert any(at <= due for _, at, due in decided)
            # Runs are finished the engine's way: started, nodes passed, completed.
            completed = db.scalar(
                select(func.count()).select_from(RunEvent).where(RunEvent.kind == "run_completed")
            )
            assert completed >= len(past) // 2
            assert db.scalar(select(func.count()).select_from(Run).where(Run.status == "completed"))

            r = ranges.parse({"range": "30d"}, utcnow(), zone())
            figures = {key: spec.compute(db, r).as_dict() for key, spec in panels.PANELS.items()}
            assert figures["orders"]["total"]["orders"] >= len(past) * 0.8
            assert figures["unit_cost"]["total"]["orders"] > 0
            assert figures["unit_cost"]["total"]["unit_cost"] > 0
            on_time = figures["on_time"]["total"]
            assert on_time["base"] > 100 and 50 < on_time["rate"] < 100  # some late
            assert figures["status_lag"]["total"]
            assert figures["approval_turnaround"]["total"]
            assert figures["manual_rate"]["total"]["count"] > 0
            assert figures["self_service"]["total"]

            scope = bottleneck.scope(db, "large-order-finance-review", None)
            heat = bottleneck.heatmap(db, scope, r, utcnow())
            assert heat["nodes"]["finance"]["waits"] > 10

            flow = services.get_flow(db, "large-order-finance-review")
            live = services.live_version(db, flow)
            assert live is not None
            report = backtest.backtest(db, flow, live.doc, last=100)
            assert report.orders == 100

            assert (
                db.scalars(select(OutboxMessage).where(OutboxMessage.status == outbox.DEAD)).all()
                == []
            )

        # Loading again adds nothing.
        assert in_transaction(database, history.load_history) == 0


def test_the_history_is_the_same_every_time():
    models = {"tmall": [{"lines": [{"sku": "A", "price": 10, "qty": 2}], "customer": {"id": "C"}}]}
    now = utcnow().replace(minute=0, second=0, microsecond=0)

    def plan() -> list:
        rows = history._plan_orders(random.Random(history.SEED), models, now)
        return [(p["row"]["external_id"], p["row"]["created_at"], p["row"]["amount"]) for p in rows]

    assert plan() == plan() and len(plan()) > 28
