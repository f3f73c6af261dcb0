"""Runs persisted by the app: outcomes, version pinning, atomic steps, incidents, timers."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from app.db import get_db, in_transaction
from app.flows import services as flows
from app.models import Alert, ApprovalTask, Order, Run, RunEvent, RunTimer, utcnow
from app.orders import services as orders
from app.runs import services as runs
from app.runs import tasks
from flow_engine import ExternalEvent

from .flows_fixtures import (
    flow_doc,
    load_reference,
    order_doc,
    publish,
    routing_doc,
    routing_ref,
    routing_samples,
)


@pytest.fixture
def database(app):
    return get_db(app)


def ingest(database, doc, **kw):
    return in_transaction(database, lambda db: orders.ingest(db, doc, **kw))


def test_sample_orders_reach_their_expected_outcomes(app, database):
    def setup(db):
        load_reference(db, routing_ref())
        publish(db, routing_doc())

    in_transaction(database, setup)
    for sample in routing_samples():
        _, created, started = ingest(database, sample["order"])
        assert created and len(started) == 1
        run = started[0]
        if sample["expected_outcome"] == "approval":
            assert (run.status, run.current_nodes) == ("waiting", ["approve"]), sample["note"]
        else:
            assert (run.status, run.outcome) == ("completed", sample["expected_outcome"]), sample[
                "note"
            ]
        if "expected_warehouse" in sample and sample["expected_outcome"] == "routed":
            with database.session() as db:
                chosen = db.get(Run, run.id).snapshot["vars"]["route"]["chosen"]
            assert chosen == sample["expected_warehouse"], sample["note"]


def test_audit_trail_and_effects_are_stored_with_the_run(app, database):
    in_transaction(
        database, lambda db: (load_reference(db, routing_ref()), publish(db, routing_doc()))
    )
    sample = next(s for s in routing_samples() if s["expected_outcome"] == "routed")
    _, _, (run,) = ingest(database, sample["order"])
    with database.session() as db:
        events = list(
            db.scalars(select(RunEvent).where(RunEvent.run_id == run.id).order_by(RunEvent.seq))
        )
        seqs = [e.seq for e in events]
        assert seqs == sorted(set(seqs)) and len(seqs) >= 10
        passed = [e.node_id for e in events if e.kind == "node_passed"]
        assert passed[0] == "start" and "route" in passed and "wms" in passed
        from app.models import InventoryItem, OutboxMessage

        message = db.scalars(select(OutboxMessage).where(OutboxMessage.run_id == run.id)).one()
        assert message.kind == "webhook" and message.payload["url"].startswith(
            "https://wms.example.com/"
        )
        held = db.scalars(select(func.sum(InventoryItem.reserved))).one()
        assert held == sum(line["qty"] for line in sample["order"]["lines"])


def test_run_stays_on_the_version_it_started_with(app, database):
    def approval_flow(threshold: str) -> dict:
        return flow_doc(
            "big-orders",
            [
                {"id": "start", "type": "start"},
                {"id": "big", "type": "condition", "config": {"expression": f"order.amount > {threshold}"}},
                {"id": "ok", "type": "approval", "config": {"assignees": [{"role": "approver"}]}},
                {"id": "done", "type": "end", "config": {"outcome": "v" + threshold}},
                {"id": "no", "type": "end", "config": {"outcome": "rejected"}},
            ],
            [("start", "big"), ("big", "ok", "true"), ("big", "done", "false"), ("ok", "done", "approved"),
             ("ok", "no", "rejected"), ("ok", "no", "timeout")],
        )  # fmt: skip

    in_transaction(database, lambda db: publish(db, approval_flow("5000")))
    _, _, (first,) = ingest(database, order_doc("A1", "6000"))
    in_transaction(database, lambda db: publish(db, approval_flow("7000")))
    _, _, (second,) = ingest(database, order_doc("A2", "6000"))
    assert first.status == "waiting" and second.outcome == "v7000"

    from app.approvals.services import decide
    from app.users import services as users

    from .org_fixtures import user_holds_access_roles

    in_transaction(
        database,
        lambda db: user_holds_access_roles(
            db, users.create_user(db, None, username="li", password="password1", roles=["approver"])
        ),
    )
    with database.session() as db:
        key = db.scalars(select(ApprovalTask.task_key).where(ApprovalTask.run_id == first.id)).one()

    def approve(db):
        return decide(db, users.get_user(db, "li"), key, "approved")

    in_transaction(database, approve)
    with database.session() as db:
        done = db.get(Run, first.id)
        assert (done.status, done.outcome) == ("completed", "v5000")
        versions = {db.get(Run, r).flow_version_id for r in (first.id, second.id)}
        assert len(versions) == 2


def test_a_failing_step_leaves_nothing_behind(app, database, monkeypatch):
    doc = flow_doc(
        "alerting",
        [{"id": "start", "type": "start"},
         {"id": "warn", "type": "alert", "config": {"severity": "warning", "code": "big", "message": {"en": "x", "zh": "x"}}},
         {"id": "done", "type": "end", "config": {"outcome": "ok"}}],
        [("start", "warn"), ("warn", "done")],
    )  # fmt: skip
    in_transaction(database, lambda db: publish(db, doc))
    from app.runs import effects

    def broken(ctx, effect):
        raise RuntimeError("disk full")

    monkeypatch.setitem(effects.EFFECT_HANDLERS, "alert", broken)
    with pytest.raises(RuntimeError):
        ingest(database, order_doc("X1"))
    with database.session() as db:
        for model in (Order, Run, RunEvent, Alert):
            assert db.scalar(select(func.count()).select_from(model)) == 0, model


def test_incident_then_retry_with_corrected_data(app, database):
    doc = flow_doc(
        "per-unit",
        [{"id": "start", "type": "start"},
         {"id": "unit", "type": "set", "config": {"fields": [{"path": "vars.unit", "expression": "order.amount / order.custom.units"}]}},
         {"id": "done", "type": "end", "config": {"outcome": "priced"}}],
        [("start", "unit"), ("unit", "done")],
    )  # fmt: skip
    in_transaction(database, lambda db: publish(db, doc))
    _, _, (run,) = ingest(database, order_doc("U1", "100.00", custom={"units": 0}))
    assert run.status == "incident"
    assert run.incident["node_id"] == "unit"

    fixed = order_doc("U1", "100.00", custom={"units": 4})
    outcome = in_transaction(database, lambda db: runs.retry(db, run.id, actor="ops", order=fixed))
    assert (outcome.run.status, outcome.run.outcome) == ("completed", "priced")
    with database.session() as db:
        assert Decimal(str(db.get(Run, run.id).snapshot["vars"]["unit"]["$decimal"])) == Decimal(
            "25"
        )


def test_retry_is_refused_for_a_run_without_incident(app, database):
    from app.errors import ConflictError

    doc = flow_doc(
        "plain",
        [
            {"id": "start", "type": "start"},
            {"id": "done", "type": "end", "config": {"outcome": "ok"}},
        ],
        [("start", "done")],
    )
    in_transaction(database, lambda db: publish(db, doc))
    _, _, (run,) = ingest(database, order_doc("P1"))
    with pytest.raises(ConflictError):
        in_transaction(database, lambda db: runs.retry(db, run.id, actor="ops"))


def test_timer_fires_once_through_the_sweep(app, database):
    doc = flow_doc(
        "cool-off",
        [{"id": "start", "type": "start"}, {"id": "wait", "type": "timer", "config": {"duration": "2h"}},
         {"id": "done", "type": "end", "config": {"outcome": "released"}}],
        [("start", "wait"), ("wait", "done")],
    )  # fmt: skip
    in_transaction(database, lambda db: publish(db, doc))
    start = utcnow()
    _, _, (run,) = in_transaction(
        database, lambda db: orders.ingest(db, order_doc("T1"), now=start)
    )
    with database.session() as db:
        timer = db.scalars(select(RunTimer).where(RunTimer.run_id == run.id)).one()
        assert timer.status == "pending" and timer.due_at == start + timedelta(hours=2)

    with app.app_context():
        assert tasks.sweep_now(now=start + timedelta(hours=1))["timers"] == 0  # not due yet
        first = tasks.sweep_now(now=start + timedelta(hours=3))
        again = tasks.sweep_now(now=start + timedelta(hours=4))
        direct = tasks.fire_timer_now(timer.id, now=start + timedelta(hours=4))
    assert first == {"timers": 1, "fired": 1, "messages": 0, "sent": 0, "queued_started": 0}
    assert again["timers"] == 0 and direct == "gone"
    with database.session() as db:
        done = db.get(Run, run.id)
        assert (done.status, done.outcome) == ("completed", "released")
        fired = db.scalar(
            select(func.count())
            .select_from(RunEvent)
            .where(RunEvent.run_id == run.id, RunEvent.kind == "event_received")
        )
        assert fired == 1


def test_external_event_applied_twice_changes_nothing_the_second_time(app, database):
    doc = flow_doc(
        "ship",
        [{"id": "start", "type": "start"}, {"id": "shipped", "type": "wait_event", "config": {"event": "shipped", "timeout": "3d"}},
         {"id": "done", "type": "end", "config": {"outcome": "shipped"}}, {"id": "late", "type": "end", "config": {"outcome": "late"}}],
        [("start", "shipped"), ("shipped", "done", "received"), ("shipped", "late", "timeout")],
    )  # fmt: skip
    in_transaction(database, lambda db: publish(db, doc))
    _, _, (run,) = ingest(database, order_doc("S1"))
    first = in_transaction(
        database,
        lambda db: runs.apply_event(db, run.id, ExternalEvent("shipped", {"tracking": "SF1"})),
    )
    second = in_transaction(
        database,
        lambda db: runs.apply_event(db, run.id, ExternalEvent("shipped", {"tracking": "SF1"})),
    )
    assert first.accepted and not second.accepted
    with database.session() as db:
        r = db.get(Run, run.id)
        assert (r.status, r.outcome) == ("completed", "shipped")
        timers = db.scalars(select(RunTimer.status).where(RunTimer.run_id == run.id)).all()
        assert timers == ["cancelled"]


def test_same_order_twice_is_stored_once(app, database):
    doc = flow_doc(
        "plain",
        [
            {"id": "start", "type": "start"},
            {"id": "done", "type": "end", "config": {"outcome": "ok"}},
        ],
        [("start", "done")],
    )
    in_transaction(database, lambda db: publish(db, doc))
    first = ingest(database, order_doc("D1"))
    second = ingest(database, order_doc("D1"))
    assert first[1] is True and second[1] is False and second[2] == []
    assert first[0].id == second[0].id
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Run)) == 1


def _douyin_only() -> dict:
    """A flow that runs for douyin orders only."""
    return flow_doc(
        "douyin-only",
        [
            {"id": "start", "type": "start"},
            {"id": "done", "type": "end", "config": {"outcome": "ok"}},
        ],
        [("start", "done")],
        filter='order.channel == "douyin"',
    )


def test_trigger_filter_selects_orders(app, database):
    in_transaction(database, lambda db: publish(db, _douyin_only()))
    assert ingest(database, order_doc("F1"))[2] == []
    assert len(ingest(database, order_doc("F2", channel="douyin"))[2]) == 1


@pytest.mark.parametrize(
    ("doc", "path"),
    [
        ({"external_id": "X", "channel": "taobao", "currency": "CNY"}, "/"),
        ({"external_id": "X", "channel": "taobao", "currency": "CNY", "amount": "many"}, "/amount"),
        (
            {
                "external_id": "X",
                "channel": "taobao",
                "currency": "CNY",
                "amount": 1,
                "lines": [{"sku": 5}],
            },
            "/lines/0",
        ),
    ],
)
def test_invalid_orders_are_refused_with_paths(app, database, doc, path):
    from app.errors import ValidationError
    from app.orders import intake

    with pytest.raises(ValidationError) as err:
        in_transaction(database, lambda db: intake.receive(db, doc))
    assert any(d["path"].startswith(path) for d in err.value.details), err.value.details
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Order)) == 0


def test_publish_refuses_an_invalid_draft_and_keeps_the_live_version(app, database):
    from app.errors import ValidationError

    good = flow_doc(
        "f",
        [
            {"id": "start", "type": "start"},
            {"id": "done", "type": "end", "config": {"outcome": "ok"}},
        ],
        [("start", "done")],
    )
    in_transaction(database, lambda db: publish(db, good))
    bad = flow_doc(
        "f",
        [{"id": "start", "type": "start"}, {"id": "c", "type": "condition", "config": {"expression": "order.amout > 1"}},
         {"id": "done", "type": "end", "config": {"outcome": "ok"}}],
        [("start", "c"), ("c", "done", "true"), ("c", "done", "false")],
    )  # fmt: skip
    with pytest.raises(ValidationError) as err:
        in_transaction(database, lambda db: flows.import_flow(db, None, bad, publish_now=True))
    details = err.value.details
    assert any(
        d["node_id"] == "c" and d["dsl"] and "order.amount" in (d["dsl"].get("hint") or "")
        for d in details
    ), details
    with database.session() as db:
        flow = flows.get_flow(db, "f")
        assert flow.published_version == 1
        assert flows.live_version(db, flow).number == 1


def test_concurrent_draft_saves_do_not_overwrite_each_other(app, database):
    from app.errors import ConflictError

    doc = flow_doc(
        "f",
        [
            {"id": "start", "type": "start"},
            {"id": "done", "type": "end", "config": {"outcome": "ok"}},
        ],
        [("start", "done")],
    )
    flow = in_transaction(database, lambda db: flows.create_flow(db, None, doc))
    base = flow.draft_revision
    in_transaction(
        database,
        lambda db: flows.save_draft(
            db, None, flows.get_flow(db, "f"), {**doc, "description": "A"}, base_revision=base
        ),
    )
    with pytest.raises(ConflictError):
        in_transaction(
            database,
            lambda db: flows.save_draft(
                db, None, flows.get_flow(db, "f"), {**doc, "description": "B"}, base_revision=base
            ),
        )
    with database.session() as db:
        assert flows.get_flow(db, "f").draft["description"] == "A"


def test_batch_intake_matches_one_by_one(app, database):
    in_transaction(
        database, lambda db: (load_reference(db, routing_ref()), publish(db, routing_doc()))
    )
    samples = routing_samples()
    batch = in_transaction(
        database, lambda db: orders.ingest_many(db, [s["order"] for s in samples])
    )
    assert [created for _, created, _ in batch] == [True] * len(samples)
    for (_, _, started), sample in zip(batch, samples, strict=True):
        (run,) = started
        if sample["expected_outcome"] == "approval":
            assert run.status == "waiting", sample["note"]
        else:
            assert (run.status, run.outcome) == ("completed", sample["expected_outcome"]), sample[
                "note"
            ]
    again = in_transaction(
        database, lambda db: orders.ingest_many(db, [s["order"] for s in samples[:2]])
    )
    assert [created for _, created, _ in again] == [False, False]


def test_batch_keeps_only_the_runs_whose_trigger_matched(app, database):
    """A batch inserts a run row per order and live flow ahead; rows of orders the trigger
    filter turns away are gone after the commit, and each run carries its own id."""
    in_transaction(database, lambda db: publish(db, _douyin_only()))
    docs = [order_doc(f"T{i}", channel="douyin" if i % 2 else "taobao") for i in range(6)]
    batch = in_transaction(database, lambda db: orders.ingest_many(db, docs))
    assert [len(started) for _, _, started in batch] == [0, 1, 0, 1, 0, 1]
    with database.session() as db:
        stored = db.scalars(select(Run).order_by(Run.id)).all()
        assert [r.id for r in stored] == sorted(r.id for _, _, s in batch for r in s)
        assert {(r.status, r.outcome, r.lock_version) for r in stored} == {("completed", "ok", 2)}
        assert all(r.snapshot["run_id"] == str(r.id) for r in stored)
        channels = {db.get(Order, r.order_id).channel for r in stored}
        assert channels == {"douyin"}
        events = db.scalars(select(RunEvent.run_id).distinct()).all()
        assert sorted(events) == [r.id for r in stored]


def test_a_batch_costs_the_same_statements_whatever_its_size(app, database):
    """No statement per order: a batch of 15 orders sends as many statements as one of 5."""
    from sqlalchemy import event

    in_transaction(
        database, lambda db: (load_reference(db, routing_ref()), publish(db, routing_doc()))
    )
    sample = routing_samples()[0]["order"]
    counted: list[str] = []

    def count(conn, cursor, statement, *args):
        counted.append(statement)

    def batch(prefix: str, n: int) -> int:
        docs = [{**sample, "external_id": f"{prefix}{i}"} for i in range(n)]
        counted.clear()
        event.listen(database.engine, "before_cursor_execute", count)
        try:
            in_transaction(database, lambda db: orders.ingest_many(db, docs))
        finally:
            event.remove(database.engine, "before_cursor_execute", count)
        return len(counted)

    batch("W", 5)  # caches warmed
    small, large = batch("S", 5), batch("L", 15)
    assert small == large, "\n".join(s[:90] for s in counted)
    # Stock is taken after the run's other rows are written: concurrent batches wait on the
    # rows of popular items only from that statement to the commit.
    verbs = [" ".join(s.split()[:3]) for s in counted]
    take = verbs.index("UPDATE inventory SET")
    assert take > max(verbs.index("INSERT INTO run_events"), verbs.index("INSERT INTO outbox"))


def test_orders_in_one_batch_see_the_stock_the_earlier_ones_took(app, database):
    doc = flow_doc(
        "last-units",
        [{"id": "start", "type": "start"},
         {"id": "route", "type": "route", "config": {"table": "warehouses",
                                                      "constraints": ["active", "stock"]}},
         {"id": "hold", "type": "reserve_inventory", "config": {"warehouse": "vars.route.chosen"}},
         {"id": "ok", "type": "end", "config": {"outcome": "reserved"}},
         {"id": "short", "type": "end", "config": {"outcome": "short"}},
         {"id": "none", "type": "end", "config": {"outcome": "backorder"}}],
        [("start", "route"), ("route", "hold", "found"), ("route", "none", "none"),
         ("hold", "ok", "reserved"), ("hold", "short", "insufficient")],
    )  # fmt: skip
    ref = {"warehouses": [{"id": "GZ", "cost": 1}, {"id": "SH", "cost": 2}],
           "inventory": {"GZ": {"SKU-1": 1}, "SH": {"SKU-1": 1}}}  # fmt: skip
    in_transaction(database, lambda db: (load_reference(db, ref), publish(db, doc)))
    batch = in_transaction(
        database, lambda db: orders.ingest_many(db, [order_doc(f"L{i}") for i in range(3)])
    )
    outcomes = []
    with database.session() as db:
        for _, _, (run,) in batch:
            stored = db.get(Run, run.id)
            outcomes.append((stored.outcome, stored.snapshot["vars"]["route"]["chosen"]))
    # The second order sees GZ's last unit gone and takes SH's; the third finds none left.
    assert outcomes == [("reserved", "GZ"), ("reserved", "SH"), ("backorder", None)]


def test_batch_with_one_invalid_order_stores_nothing(app, database):
    from app.errors import ValidationError
    from app.orders import intake

    good, bad = order_doc("G1"), order_doc("G2", amount="1")
    bad["amount"] = "lots"
    with pytest.raises(ValidationError) as err:
        in_transaction(database, lambda db: intake.receive_many(db, [good, bad]))
    assert [d["path"] for d in err.value.details] == ["/orders/1/amount"]
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(Order)) == 0


def test_batch_with_idempotency_keys_answers_as_one_by_one(app, database):
    """Keys work in a batch (the group commit's path) as they do one order at a time: a
    repeated key answers with its order, a key reused for another order refuses the batch."""
    from app.errors import ConflictError
    from app.orders import intake

    in_transaction(database, lambda db: intake.receive(db, order_doc("I0"), idempotency_key="k0"))
    docs = [order_doc("I1"), order_doc("I0"), order_doc("I1"), order_doc("I2")]
    keys = ["k1", "k0", "k1", None]
    received = in_transaction(
        database, lambda db: intake.receive_many(db, docs, idempotency_keys=keys)
    )
    assert [(r.order.external_id, r.created, r.matched) for r in received] == [
        ("I1", True, None),
        ("I0", False, "idempotency_key"),  # stored before, under the same key
        ("I1", False, "idempotency_key"),  # earlier in this batch, under the same key
        ("I2", True, None),
    ]
    with pytest.raises(ConflictError) as err:
        in_transaction(
            database,
            lambda db: intake.receive_many(
                db, [order_doc("I3"), order_doc("I4")], idempotency_keys=["k3", "k1"]
            ),
        )
    assert err.value.code == "idempotency_key_reused"
    with database.session() as db:
        stored = dict(db.execute(select(Order.external_id, Order.idempotency_key)).all())
    assert stored == {"I0": "k0", "I1": "k1", "I2": None}  # I3 was refused with its batch


def test_customer_master_data_wins_over_the_order(app, database):
    from app.reference import services as reference

    doc = flow_doc(
        "gold-lane",
        [{"id": "start", "type": "start"}, {"id": "gold", "type": "condition", "config": {"expression": 'customer.tier == "platinum"'}},
         {"id": "vip", "type": "end", "config": {"outcome": "vip"}}, {"id": "std", "type": "end", "config": {"outcome": "standard"}}],
        [("start", "gold"), ("gold", "vip", "true"), ("gold", "std", "false")],
    )  # fmt: skip

    def setup(db):
        table = reference.ensure_table(db, "customers")
        reference.upsert_rows(db, table, [{"id": "C-1", "tier": "platinum", "credit_limit": 50000}])
        publish(db, doc)

    in_transaction(database, setup)
    _, _, (known,) = ingest(database, order_doc("M1"))  # the order says gold
    _, _, (unknown,) = ingest(database, order_doc("M2", customer={"id": "C-9", "tier": "gold"}))
    assert (known.outcome, unknown.outcome) == ("vip", "standard")


def test_alert_texts_are_filled_with_their_parameters(app, database):
    doc = flow_doc(
        "credit-alert",
        [{"id": "start", "type": "start"},
         {"id": "warn", "type": "alert", "config": {
             "severity": "warning", "code": "credit.over_limit",
             "message": {"en": "Order {order} is over the limit by {excess} ({unknown})", "zh": "订单 {order} 超出额度 {excess}"},
             "params": {"order": "order.external_id", "excess": "order.amount - 5000"}}},
         {"id": "done", "type": "end", "config": {"outcome": "held"}}],
        [("start", "warn"), ("warn", "done")],
    )  # fmt: skip
    in_transaction(database, lambda db: publish(db, doc))
    ingest(database, order_doc("AL1", "6200.50"))
    with database.session() as db:
        alert = db.scalars(select(Alert)).one()
    assert alert.title == "订单 AL1 超出额度 1200.50"
    assert alert.message == "Order AL1 is over the limit by 1200.50 ({unknown})"


def test_an_open_alert_counts_its_repeats_instead_of_adding_another(app, database):
    """One open alert per order and code: repeats in the same transaction and in later ones
    count in it; once it is resolved, the next one opens a new alert."""
    alert = {"severity": "warning", "code": "stock.recheck", "message": {"en": "recheck"}}
    doc = flow_doc(
        "recheck-loop",
        [{"id": "start", "type": "start"},
         {"id": "warn", "type": "alert", "config": alert},
         {"id": "warn_again", "type": "alert", "config": alert},
         {"id": "hold", "type": "wait_event", "config": {"event": "recheck", "timeout": "3d"}},
         {"id": "late", "type": "end", "config": {"outcome": "late"}}],
        [("start", "warn"), ("warn", "warn_again"), ("warn_again", "hold"),
         ("hold", "warn", "received"), ("hold", "late", "timeout")],
    )  # fmt: skip
    in_transaction(database, lambda db: publish(db, doc))
    _, _, (run,) = ingest(database, order_doc("RA1"))
    ingest(database, order_doc("RA2"))

    def recheck() -> None:
        in_transaction(database, lambda db: runs.apply_event(db, run.id, ExternalEvent("recheck")))

    def alerts() -> list[tuple[str, int]]:
        with database.session() as db:
            rows = db.scalars(select(Alert).where(Alert.run_id == run.id).order_by(Alert.id))
            return [(a.status, a.data["repeats"]) for a in rows]

    assert alerts() == [("open", 2)]  # twice in the transaction that started the run
    recheck()
    assert alerts() == [("open", 4)]
    with database.session() as db, db.begin():
        db.get(Alert, db.scalar(select(Alert.id).where(Alert.run_id == run.id))).status = "resolved"
    recheck()
    assert alerts() == [("resolved", 4), ("open", 2)]
    with database.session() as db:  # the other order has its own alert
        assert db.scalar(select(func.count()).select_from(Alert)) == 3
