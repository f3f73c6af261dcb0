"""Overlap before publish, and exclusive groups at intake and in the backtest."""

from __future__ import annotations

import pytest

from app.db import get_db, in_transaction
from app.flows import backtest, overlap
from app.flows import services as flows
from app.models import Run
from app.orders import services as orders
from app.runs.services import runs_of_order

from .flows_fixtures import order_doc, publish
from .overlap_fixtures import OVER, approval_flow, load_history


@pytest.fixture
def history(app):
    return load_history(get_db(app))


def test_overlap_counts_the_recent_orders_both_flows_would_ask_approval_for(history):
    with history.session() as db:
        report = overlap.overlap_report(db, flows.get_flow(db, "big-orders"))
    assert (report.orders, report.draft_runs, report.errors) == (200, OVER, 0)
    review, quiet = report.overlaps
    assert (review.flow, review.both_match, review.both_run) == ("finance-review", OVER, OVER)
    assert review.kinds == {"approval": OVER, "webhook": 0, "reservation": 0, "set_field": OVER}
    assert review.fields == set()  # each sets its own field
    assert (quiet.flow, quiet.both_run, quiet.kinds["approval"]) == ("quiet", OVER, 0)
    assert report.elapsed_ms > 0


def test_overlap_reports_the_fields_both_write(history):
    draft = approval_flow("big-orders")
    draft["nodes"][1]["config"]["fields"][0]["path"] = "order.custom.finance_review"
    with history.session() as db:
        report = overlap.overlap_report(db, flows.get_flow(db, "big-orders"), draft, last=50)
    assert report.orders == 50 and report.overlaps[0].fields == {"order.custom.finance_review"}


def test_a_shared_exclusive_group_means_only_the_first_runs(history):
    in_transaction(
        history, lambda db: publish(db, approval_flow("finance-review", group="large", priority=5))
    )
    with history.session() as db:
        flow = flows.get_flow(db, "big-orders")
        report = overlap.overlap_report(db, flow, approval_flow("big-orders", group="large"))
        review = next(o for o in report.overlaps if o.flow == "finance-review")
        assert (review.both_match, review.both_run, review.kinds["approval"]) == (OVER, 0, 0)
        assert (review.exclusive_group, review.first) == ("large", "finance-review")
        assert report.draft_runs == 0  # the live flow of the group goes first on every order
        first = approval_flow("big-orders", group="large", priority=9)
        report = overlap.overlap_report(db, flow, first)
    assert report.draft_runs == OVER
    assert next(o for o in report.overlaps if o.flow == "finance-review").first == "big-orders"


# -- exclusive groups at intake ---------------------------------------------------------


@pytest.mark.parametrize(
    ("groups", "started"),
    [
        ((("large", 1), ("large", 7)), {"b-flow"}),  # higher priority goes first
        ((("large", 3), ("large", 3)), {"a-flow"}),  # equal: by flow key
        ((("large", 1), ("other", 1)), {"a-flow", "b-flow"}),  # different groups: both
        ((("large", 1), (None, 0)), {"a-flow", "b-flow"}),  # outside any group: both
    ],
)
@pytest.mark.parametrize("batch", [False, True], ids=["single", "batch"])
def test_exclusive_group_starts_one_run_per_order(app, groups, started, batch):
    database = get_db(app)
    (ga, pa), (gb, pb) = groups
    in_transaction(database, lambda db: publish(db, approval_flow("a-flow", group=ga, priority=pa)))
    in_transaction(database, lambda db: publish(db, approval_flow("b-flow", group=gb, priority=pb)))
    docs = [order_doc("X1", "6000.00"), order_doc("X2", "100.00")]
    if batch:
        results = in_transaction(database, lambda db: orders.ingest_many(db, docs))
    else:
        results = [in_transaction(database, lambda db, d=d: orders.ingest(db, d)) for d in docs]
    with database.session() as db:
        big, small = (runs_of_order(db, order.id) for order, _, _ in results)
        assert {r.snapshot["flow_key"] for r in big} == started
        assert small == []
        # Batch rows reserved for the flow that did not start are gone.
        assert db.query(Run).count() == len(started)


def test_backtest_applies_the_exclusive_group(history):
    in_transaction(
        history, lambda db: publish(db, approval_flow("finance-review", group="large", priority=5))
    )
    with history.session() as db:
        flow = flows.get_flow(db, "big-orders")
        behind = backtest.backtest(db, flow, approval_flow("big-orders", group="large"), last=200)
        ahead = approval_flow("big-orders", group="large", priority=9)
        assert backtest.backtest(db, flow, ahead, last=200).changed == OVER
    # Not live and never first of its group: the draft starts on no order either.
    assert behind.changed == 0
    in_transaction(history, lambda db: publish(db, approval_flow("big-orders")))
    with history.session() as db:
        flow = flows.get_flow(db, "big-orders")
        report = backtest.backtest(db, flow, approval_flow("big-orders", group="large"), last=200)
    assert report.changed == OVER
    assert {(d.published.triggered, d.draft.triggered) for d in report.diffs} == {(True, False)}
    assert {d.draft.excluded_by for d in report.diffs} == {"finance-review"}


@pytest.mark.parametrize(("priority", "first"), [(0, "finance-review"), (9, None)])
def test_a_paired_backtest_keeps_the_exclusive_group(history, priority, first):
    """Live and draft in one group, only a node changed: the two are walked together, and
    where another flow of the group goes first neither version starts."""
    for doc in (approval_flow("finance-review", group="large", priority=5),
                approval_flow("big-orders", group="large", priority=priority)):  # fmt: skip
        in_transaction(history, lambda db, doc=doc: publish(db, doc))
    draft = approval_flow("big-orders", group="large", priority=priority)
    draft["nodes"][3]["config"]["outcome"] = "signed_off"  # the approved end, renamed
    outcomes = []
    with history.session() as db:
        replay = backtest.prepare(db, flows.get_flow(db, "big-orders"), draft)
        assert replay.apart == {"done"}  # paired: only a node differs
        for rows in backtest.order_batches(db, 200):
            ref = backtest.batch_ref(db, rows)
            outcomes += [(b, a) for _o, b, a in backtest.replay_batch(replay, rows, ref)]
    over = [(b, a) for b, a in outcomes if b.triggered or b.excluded_by]
    assert len(outcomes) == 200 and len(over) == OVER
    for before, after in over:
        assert before.excluded_by == after.excluded_by == first
        assert before.triggered is after.triggered is (first is None)
        if first is None:  # both start and wait at the approval: nothing decided differs
            assert before.waiting_at == after.waiting_at == ("ok",)
