"""A server killed with SIGKILL mid-run loses nothing: after a restart its timers fire once
and the run finishes (SQLite queue by default, Redis when REDIS_URL is set); a server killed
while it is inside the transactions of orders coming in leaves each order either wholly stored
with its run or not stored at all, and the client's retry stores it once."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import threading
import time
from datetime import timedelta

import simplejson
from sqlalchemy import func, select

from app.db import get_db, in_transaction
from app.models import Order, Run, RunEvent, RunTimer, utcnow
from app.orders import services as orders
from app.users import services as users

from .flows_fixtures import flow_doc, order_doc, publish
from .test_queue import BIN, _env, _free_port, _stop, _wait_ready


def _serve(app_config, port, log):
    cmd = [str(BIN), "serve", "--port", str(port), "--workers", "1"]
    return subprocess.Popen(cmd, env=_env(app_config), stdout=log, stderr=subprocess.STDOUT)


def test_sigkill_mid_run_loses_nothing(app, app_config, tmp_path):
    database = get_db(app)
    doc = flow_doc(
        "cool-off",
        [{"id": "start", "type": "start"}, {"id": "wait", "type": "timer", "config": {"duration": "3s"}},
         {"id": "done", "type": "end", "config": {"outcome": "released"}}],
        [("start", "wait"), ("wait", "done")],
    )  # fmt: skip
    in_transaction(database, lambda db: publish(db, doc))
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = _serve(app_config, port, log)
    try:
        _wait_ready(port, server)
        _, _, (run,) = in_transaction(database, lambda db: orders.ingest(db, order_doc("K1")))
        assert run.status == "waiting"
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        time.sleep(4)  # the timer comes due while no server runs
        with database.session() as db:
            assert db.get(Run, run.id).status == "waiting"
            assert db.scalars(select(RunTimer.status)).one() == "pending"

        server = _serve(app_config, port, log)
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:
            with database.session() as db:
                status = db.get(Run, run.id).status
            if status == "completed":
                break
            time.sleep(0.3)
        assert status == "completed"
        time.sleep(1)  # a second wake-up (schedule + recovery sweep) must not fire it again
        with database.session() as db:
            done = db.get(Run, run.id)
            assert done.outcome == "released"
            assert db.scalars(select(RunTimer.status)).one() == "fired"
            fired = (
                select(func.count())
                .select_from(RunEvent)
                .where(RunEvent.run_id == run.id, RunEvent.kind == "event_received")
            )
            assert db.scalar(fired) == 1
            assert done.finished_at - done.started_at >= timedelta(seconds=3)
            assert done.finished_at <= utcnow()
    finally:
        if server.poll() is None:
            _stop(server)
        log.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


def _post_order(port: int, key: str, external_id: str) -> int | None:
    """POST one order; the status, or None when the server died with the request in flight."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        body = simplejson.dumps(order_doc(external_id), use_decimal=True)
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
        conn.request("POST", "/api/v1/orders", body=body, headers=headers)
        return conn.getresponse().status
    except (ConnectionError, http.client.HTTPException, OSError):
        return None
    finally:
        conn.close()


def test_sigkill_inside_intake_transactions_stores_each_order_once_or_not_at_all(
    app, app_config, tmp_path
):
    database = get_db(app)
    doc = flow_doc(
        "intake",
        [{"id": "start", "type": "start"},
         {"id": "mark", "type": "set", "config": {"fields": [
             {"path": "vars.big", "expression": "order.amount > 50"}]}},
         {"id": "wait", "type": "timer", "config": {"duration": "2s"}},
         {"id": "done", "type": "end", "config": {"outcome": "accepted"}}],
        [("start", "mark"), ("mark", "wait"), ("wait", "done")],
    )  # fmt: skip

    def setup(db):  # type: ignore[no-untyped-def]
        publish(db, doc)
        return users.create_api_key(db, None, name="intake", scopes=["orders:write"])[1]

    key = in_transaction(database, setup)
    port = _free_port()
    log = (tmp_path / "serve.log").open("w")
    server = _serve(app_config, port, log)
    answers: dict[str, int | None] = {}
    stop = threading.Event()

    def client(n: int) -> None:
        i = 0
        while not stop.is_set():
            external_id = f"K-{n}-{i}"
            answers[external_id] = _post_order(port, key, external_id)
            if answers[external_id] is None:
                return
            i += 1

    try:
        _wait_ready(port, server)
        clients = [threading.Thread(target=client, args=(n,)) for n in range(4)]
        for t in clients:
            t.start()
        time.sleep(2.5)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        stop.set()
        for t in clients:
            t.join(timeout=30)
        in_flight = sorted(k for k, v in answers.items() if v is None)
        assert in_flight, "no request was in flight when the server was killed"
        assert all(v in (None, 201) for v in answers.values())
        with database.session() as db:
            # Nothing half-written: every stored order has its one run, and that run has
            # its snapshot and its audit trail.
            assert db.scalar(select(func.count()).select_from(Run).where(Run.status == "new")) == 0
            stored = db.scalar(select(func.count()).select_from(Order))
            assert db.scalar(select(func.count()).select_from(Run)) == stored
            started = (
                select(func.count()).select_from(RunEvent).where(RunEvent.kind == "run_started")
            )
            assert db.scalar(started) == stored

        server = _serve(app_config, port, log)
        _wait_ready(port, server)
        retried = {k: _post_order(port, key, k) for k in in_flight}  # the client tries again
        assert set(retried.values()) <= {200, 201}
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with database.session() as db:
                waiting = db.scalar(
                    select(func.count()).select_from(Run).where(Run.status != "completed")
                )
            if waiting == 0:
                break
            time.sleep(0.3)
        with database.session() as db:
            ids = sorted(db.scalars(select(Order.external_id)))
            assert ids == sorted(answers)  # every order sent is stored, each exactly once
            outcomes = db.scalars(select(Run.outcome)).all()
            assert len(outcomes) == len(ids) and set(outcomes) == {"accepted"}
            fired = (
                select(func.count()).select_from(RunEvent).where(RunEvent.kind == "event_received")
            )
            assert db.scalar(fired) == len(ids)  # each timer fired once
    finally:
        stop.set()
        if server.poll() is None:
            _stop(server)
        log.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
