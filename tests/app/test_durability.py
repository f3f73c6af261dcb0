"""A server killed with SIGKILL mid-run loses nothing: after a restart its timers fire once
and the run finishes (SQLite queue by default, Redis when REDIS_URL is set)."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from datetime import timedelta

from sqlalchemy import func, select

from app.db import get_db, in_transaction
from app.models import Run, RunEvent, RunTimer, utcnow
from app.orders import services as orders

from .flows_fixtures import flow_doc, order_doc, publish
from .test_queue import BIN, _env, _free_port, _wait_ready


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
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
        log.close()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
