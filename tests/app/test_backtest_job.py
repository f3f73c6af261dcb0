"""Backtest jobs: the fast outcome reading against the full report, the impact summary,
progress, cancel, resuming after a worker died, and the editor endpoints."""

from __future__ import annotations

import copy
import json
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from app.db import get_db, in_transaction
from app.flows import backtest as bt
from app.flows import backtest_job as jobs
from app.flows import services
from app.models import BacktestChange, BacktestJob, utcnow
from app.orders import services as orders

from .editor.helpers import Json, review_doc
from .flows_fixtures import (
    load_reference,
    order_doc,
    publish,
    routing_doc,
    routing_ref,
    routing_samples,
)


@pytest.fixture
def reviewed(app):
    """The review flow live at 5000; five orders, two of them above it."""
    database = get_db(app)
    in_transaction(database, lambda db: publish(db, review_doc(threshold="5000")))
    for n, amount in enumerate(["1200.00", "4800.00", "5200.00", "9900.00", "3000.00"]):
        in_transaction(database, lambda db, n=n, a=amount: orders.ingest(db, order_doc(f"B{n}", a)))
    return database


def _job(database, doc, last=50):
    def make(db):
        return jobs.start(
            db, services.get_flow(db, "large-order-review"), doc, last=last, user_id=None
        ).id

    return in_transaction(database, make)


def _get(database, job_id):
    with database.session() as db:
        return jobs.job_dict(jobs.get_job(db, job_id))


def test_impact_counts_changed_orders_and_the_workload_per_role(reviewed):
    job_id = _job(reviewed, review_doc(threshold="3000"))
    assert jobs.run_job_now(reviewed, job_id) == "done"
    job = _get(reviewed, job_id)
    summary = job["summary"]
    # >= 3000 now also asks finance for 4800 and 3000: two orders change.
    assert (job["done"], job["total"], job["percent"]) == (5, 5, 100)
    assert summary["orders"] == 5 and summary["changed"] == 2
    assert summary["counts"] == {
        "path": 2, "outcome": 2, "fields": 0, "warehouse": 0, "approver": 2
    }  # fmt: skip
    assert summary["workload"] == [
        {"kind": "role", "who": "finance", "before": 2, "after": 4, "delta": 2}
    ]
    with reviewed.session() as db:
        page = jobs.changes_page(db, jobs.get_job(db, job_id))
    assert sorted(i["external_id"] for i in page["items"]) == ["B1", "B4"]
    item = page["items"][0]
    assert item["published"]["outcome"] == "accepted" and item["draft"]["waiting_at"] == ["finance"]


def _stop_after_first_batch(monkeypatch, action):
    commit = jobs._commit_batch
    seen = []

    def spy(database, job_id, *rest):
        out = commit(database, job_id, *rest)
        seen.append(_get(database, job_id)["done"])
        if len(seen) == 1:
            action(database, job_id)
        return commit.__globals__["in_transaction"](
            database,
            lambda db: "cancel" if db.get(BacktestJob, job_id).cancel_requested else out,
        )

    monkeypatch.setattr(bt, "BATCH", 2)
    monkeypatch.setattr(jobs, "_commit_batch", spy)
    return seen


def test_progress_is_committed_batch_by_batch(reviewed, monkeypatch):
    seen = _stop_after_first_batch(monkeypatch, lambda *_: None)
    job_id = _job(reviewed, review_doc(threshold="3000"))
    assert jobs.run_job_now(reviewed, job_id) == "done"
    assert seen == [2, 4, 5]


def test_a_cancelled_job_stops_at_the_next_batch(reviewed, monkeypatch):
    def cancel(database, job_id):
        in_transaction(database, lambda db: jobs.cancel(db, jobs.get_job(db, job_id)))

    seen = _stop_after_first_batch(monkeypatch, cancel)
    job_id = _job(reviewed, review_doc(threshold="3000"))
    assert jobs.run_job_now(reviewed, job_id) == "cancelled"
    job = _get(reviewed, job_id)
    assert (seen, job["status"], job["done"]) == ([2], "cancelled", 2)
    assert job["finished_at"] is not None


class WorkerKilled(BaseException):
    """A worker process dying mid-job (nothing in the job catches it)."""


def test_a_job_whose_worker_died_resumes_behind_its_cursor(reviewed, monkeypatch):
    def die(*_):
        raise WorkerKilled

    _stop_after_first_batch(monkeypatch, die)
    job_id = _job(reviewed, review_doc(threshold="3000"))
    with pytest.raises(WorkerKilled):
        jobs.run_job_now(reviewed, job_id)
    job = _get(reviewed, job_id)
    assert (job["status"], job["done"], job["stalled"]) == ("running", 2, False)
    monkeypatch.undo()
    assert jobs.run_job_now(reviewed, job_id) == "running"  # not stalled: left to its worker
    in_transaction(
        reviewed,
        lambda db: db.execute(
            update(BacktestJob).values(updated_at=utcnow() - timedelta(minutes=3))
        ),
    )
    assert _get(reviewed, job_id)["stalled"] is True  # the editor says so
    assert jobs.resume_stalled_now(reviewed) == [job_id]  # queued again ...
    assert jobs.run_job_now(reviewed, job_id) == "done"  # ... and a worker takes it
    job = _get(reviewed, job_id)
    assert (job["done"], job["summary"]["orders"], job["summary"]["changed"]) == (5, 5, 2)
    with reviewed.session() as db:
        ids = db.scalars(select(BacktestChange.external_id)).all()
    assert sorted(ids) == ["B1", "B4"]  # each changed order once


def test_a_job_refuses_a_count_out_of_range_with_an_example(reviewed):
    with pytest.raises(Exception) as err:
        _job(reviewed, review_doc(threshold="3000"), last=0)
    assert "100000" in str(err.value)


def test_fast_reading_equals_the_full_report_over_varied_orders(app):
    """Property-style: random orders through the routing flow (switch, decision table,
    route, approval, reservation, webhook) and a changed draft; every outcome read from the
    snapshot equals the one read from the full JSON report."""
    database = get_db(app)
    doc = routing_doc()
    in_transaction(database, lambda db: (load_reference(db, routing_ref()), publish(db, doc)))
    draft = json.loads(json.dumps(doc))
    for node in draft["nodes"]:
        if node["id"] == "large":
            node["config"]["expression"] = "order.amount >= 3000"
    rng = random.Random(7)
    base = [s["order"] for s in routing_samples()]
    for i in range(120):
        data = copy.deepcopy(rng.choice(base))
        data["external_id"] = f"P{i:04d}"
        data["channel"] = rng.choice(["taobao", "jd", "b2b", "shopify", "douyin", "wechat"])
        data["amount"] = Decimal(f"{rng.uniform(10, 60000):.2f}")
        data["urgent"] = rng.random() < 0.2
        in_transaction(database, lambda db, d=data: orders.ingest(db, d))
    with database.session() as db:
        replay = bt.prepare(db, services.get_flow(db, doc["key"]), draft)
        kinds, changed, shared = set(), 0, 0
        for rows in bt.order_batches(db, 500, size=37):
            ref = bt.batch_ref(db, rows)
            for order in rows:
                doc_in = bt.enrich_customer(order.data, ref)
                pair = []
                for flow in (replay.published, replay.draft):
                    fast = bt._outcome(flow, order, doc_in, ref, replay.rivals)
                    full = bt.full_report_outcome(flow, order, doc_in, ref, replay.rivals)
                    assert fast.to_dict() == full.to_dict(), order.external_id
                    pair.append((fast, full))
                    kinds.add((fast.outcome, fast.status, bool(fast.approvers), bool(fast.routes)))
                (fast_a, full_a), (fast_b, full_b) = pair
                assert bt._changes(fast_a, fast_b) == bt._changes(full_a, full_b)
                changed += bool(bt._changes(fast_a, fast_b))
                # What the job runs: both versions in one paired simulation.
                paired = bt._paired(replay, order, doc_in, ref)
                if paired is not None:
                    shared += 1
                    assert (paired[0].to_dict(), paired[1].to_dict()) == (
                        full_a.to_dict(),
                        full_b.to_dict(),
                    ), order.external_id
                [(_o, before, after)] = bt.replay_batch(replay, [order], ref)
                assert (before.to_dict(), after.to_dict()) == (full_a.to_dict(), full_b.to_dict())
    assert len(kinds) >= 3 and changed  # the fixture reaches different ends, and changes
    assert replay.apart == {"large"} and shared >= 100  # paired wherever the flow starts


def test_the_editor_starts_polls_pages_and_cancels_a_job(app, reviewed, client, login, make_user):
    make_user("wang", roles=("supervisor",))
    login("wang")
    editor = Json(client)
    bad = editor.post("/flows/large-order-review/backtests", {"last": 0})
    assert bad.status_code == 422 and "100000" in json.dumps(bad.get_json(), ensure_ascii=False)
    started = editor.post(
        "/flows/large-order-review/backtests", {"doc": review_doc(threshold="3000"), "last": 5000}
    )
    assert started.status_code == 202
    job_id = started.get_json()["id"]
    jobs.run_job_now(get_db(app), job_id)  # what the worker does
    job = editor.get(f"/flows/backtests/{job_id}").get_json()
    assert (job["status"], job["done"], job["summary"]["changed"]) == ("done", 5, 2)
    page = editor.get(f"/flows/backtests/{job_id}/changes?page=1").get_json()
    assert len(page["items"]) == 2 and page["total"] == 2
    assert editor.get(f"/flows/backtests/{job_id}/changes?page=x").status_code == 422
    assert editor.get("/flows/backtests/999/changes").status_code == 404
    queued = editor.post("/flows/large-order-review/backtests", {"last": 3}).get_json()
    cancelled = editor.post(f"/flows/backtests/{queued['id']}/cancel", {}).get_json()
    assert cancelled["status"] in ("cancelled", "done")


def test_two_processes_replay_what_one_does(reviewed, monkeypatch):
    monkeypatch.setattr(bt, "BATCH", 2)
    draft = review_doc(threshold="3000")
    with reviewed.session() as db:
        flow = services.get_flow(db, "large-order-review")
        one = list(jobs.replay(db, flow, draft, last=5))
        two = list(jobs.replay(db, flow, draft, last=5, workers=2))
    assert [b.tail for b in one] == [b.tail for b in two]
    assert [b.changed for b in one] == [b.changed for b in two]
    assert [b.impact.to_dict() for b in one] == [b.impact.to_dict() for b in two]
    assert sum(b.impact.orders for b in two) == 5 and any(b.changed for b in two)


def test_the_command_line_runs_a_job_and_prints_the_impact(reviewed, app_config, tmp_path):
    from click.testing import CliRunner

    from app.cli import cli

    draft = tmp_path / "draft.json"
    draft.write_text(json.dumps(review_doc(threshold="3000")), encoding="utf-8")
    env = {
        "ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
        "DATABASE_URL": app_config["DATABASE_URL"],
        "SECRET_KEY": "test",
    }
    args = ["flow", "backtest", "large-order-review", "--last", "50", "--job", "--here"]
    result = CliRunner().invoke(cli, [*args, "--draft", str(draft)], env=env)
    assert result.exit_code == 0, result.output
    assert "done: 5 orders, 2 change" in result.output
    assert "role finance: 2 -> 4 approvals" in result.output
    with reviewed.session() as db:
        assert db.scalars(select(BacktestJob.status)).one() == "done"


def test_a_run_whose_job_was_resumed_elsewhere_stops(reviewed, monkeypatch):
    def resumed_elsewhere(database, job_id):
        in_transaction(
            database,
            lambda db: db.execute(update(BacktestJob).values(claim="another-worker")),
        )

    seen = _stop_after_first_batch(monkeypatch, resumed_elsewhere)
    job_id = _job(reviewed, review_doc(threshold="3000"))
    assert jobs.run_job_now(reviewed, job_id) == "superseded"
    # The second batch found the claim gone: not counted, not stored.
    assert seen == [2, 2] and _get(reviewed, job_id)["done"] == 2


@pytest.mark.parametrize(
    ("orders", "cores", "load", "expected"),
    [
        (100_000, 2, 0.2, 2),  # an idle 2-core machine: a second process pays
        (100_000, 2, 1.6, 1),  # a busy one: it measured slower
        (100_000, 8, 5.0, 2),
        (100_000, 1, 0.0, 1),
        (10_000, 2, 0.2, 2),
        (5_000, 8, 0.0, 1),  # too few orders to pay for starting it
    ],
)
def test_a_second_process_only_where_a_core_is_free(monkeypatch, orders, cores, load, expected):
    monkeypatch.setattr(jobs.os, "cpu_count", lambda: cores)
    monkeypatch.setattr(jobs.os, "getloadavg", lambda: (load, load, load))
    assert jobs.processes_for(orders) == expected
