"""Huey wiring: a task enqueued here runs in a real ``orderflow serve`` (embedded worker)
or ``orderflow worker`` process, on SQLite storage or on Redis when REDIS_URL is set."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from app.tasks import echo

BIN = Path(sys.executable).parent / "orderflow"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(app_config: dict) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        {
            "ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
            "DATABASE_URL": app_config["DATABASE_URL"],
            "ORDERFLOW_QUEUE_NAME": app_config["QUEUE_NAME"],
            "SECRET_KEY": app_config["SECRET_KEY"],
        }
    )
    return env


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _wait_ready(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError("server did not become ready")


@pytest.mark.parametrize("mode", ["embedded", "worker"])
def test_task_runs_in_the_other_process(app_config, make_app, mode, tmp_path):
    app = make_app()  # points the queue at the same storage as the process
    if mode == "embedded":
        port = _free_port()
        cmd = [str(BIN), "serve", "--port", str(port), "--workers", "1"]
    else:
        cmd = [str(BIN), "worker", "--workers", "1"]
    log = (tmp_path / "process.log").open("w")
    proc = subprocess.Popen(cmd, env=_env(app_config), stdout=log, stderr=subprocess.STDOUT)
    try:
        if mode == "embedded":
            _wait_ready(port, proc)
        with app.app_context():
            result = echo("订单 ping")
            value = result.get(blocking=True, timeout=30)
        assert value["value"] == "订单 ping"
        assert value["pid"] == proc.pid != os.getpid()
    finally:
        _stop(proc)
        log.close()
    output = (tmp_path / "process.log").read_text()
    assert "Traceback" not in output, output


def test_storage_follows_configuration(app_config, make_app):
    from huey.storage import RedisStorage, SqliteStorage

    from app.queue import huey

    make_app()
    expected = RedisStorage if os.environ.get("REDIS_URL") else SqliteStorage
    assert isinstance(huey.storage, expected)
    if expected is SqliteStorage:
        assert huey.storage.filename == str(Path(app_config["INSTANCE_PATH"]) / "queue.db")
