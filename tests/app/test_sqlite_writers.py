"""Concurrent writers: every write endpoint from several threads at once (in this process, and
over HTTP to real gunicorn processes), and reference rows and failed logins against gunicorn,
answer without a 5xx and lose nothing.

On SQLite a transaction that read first and writes later is refused at once ("database is
locked") when another writer committed in between; these tests keep every writer (request
sessions of POST/PUT/PATCH/DELETE, the approval page's read marks, the command line) taking
the write lock first and waiting for it, GET requests reading without it, and a lock that
outlasts the busy timeout answered 503 with Retry-After (docs/adr/0006).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from sqlalchemy import event, select

from app.cli import cli
from app.db import get_db, in_transaction
from app.models import ReferenceRow, ReferenceTable
from app.reference import services as reference

from .conftest import CSRF_RE, USING_PG
from .test_queue import _env, _free_port, _stop, _wait_ready
from .write_requests import REQUESTS, World, build_world

THREADS = 4
WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}
# Forms without CSRF tokens, no rate limits, and unexpected errors answered with a 500 as in
# production instead of raised into the test.
WRITERS_CONFIG = {"WTF_CSRF_ENABLED": False, "RATELIMIT_API": "", "PROPAGATE_EXCEPTIONS": False}


def _write_endpoints(app: Any) -> set[str]:
    return {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.methods and rule.methods & WRITE_METHODS and rule.endpoint != "static"
    }


def _together(count: int, work: Any) -> list[Any]:
    """``work(i)`` for each i below ``count`` in threads released at once; their results."""
    barrier = threading.Barrier(count)
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        barrier.wait()
        results[i] = work(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return results


def test_every_write_endpoint_is_listed(app):
    assert _write_endpoints(app) == set(REQUESTS)


def test_every_write_endpoint_answers_concurrent_writers_without_a_5xx(app):
    app.config.update(WRITERS_CONFIG)
    world = build_world(app, get_db(app), THREADS)
    # Everyone signs out last, so that every other page is still reached signed in.
    endpoints = sorted(set(REQUESTS) - {"auth.logout"})

    def writer(i: int) -> list[tuple[str, int, str]]:
        client = app.test_client()
        signed_in = client.post("/login", data={"username": world.admins[i],
                                                "password": "correct-horse"})  # fmt: skip
        order = random.Random(i).sample(endpoints, len(endpoints)) + ["auth.logout"]
        answers = [("sign-in", signed_in.status_code, signed_in.get_data(as_text=True)[:300])]
        for n, endpoint in enumerate(order):
            answers.append((endpoint, *_send(client, world, endpoint, i * 1000 + n)))
        return answers

    answers = [a for per_thread in _together(THREADS, writer) for a in per_thread]
    server_errors = Counter(e for e, s, _ in answers if s >= 500)
    first = next((f"{e}: {s} {body[:300]}" for e, s, body in answers if s >= 500), "")
    assert server_errors == {}, f"{server_errors.total()} of {len(answers)} were 5xx; {first}"
    # The requests are valid: most of them are carried out, not refused.
    done = Counter(e for e, s, _ in answers if s < 400)
    assert len(done) >= len(REQUESTS) * 3 // 4, sorted(set(REQUESTS) - set(done))


def _send(client: Any, world: World, endpoint: str, n: int) -> tuple[int, str]:
    method, path, kwargs = REQUESTS[endpoint](world, n)
    kwargs.setdefault("headers", {}).setdefault("Accept-Language", "en")
    try:
        response = client.open(path, method=method, **kwargs)
    except Exception as err:  # an error page that failed itself: a server answers 500
        return 500, repr(err)
    return response.status_code, response.get_data()[:2000].decode(errors="replace")


def test_reference_rows_and_failed_logins_from_threads(app):
    app.config.update(WRITERS_CONFIG)
    world = build_world(app, get_db(app), 1)
    headers = {"Authorization": f"Bearer {world.api_key}"}

    def post_rows(i: int) -> list[int]:
        client = app.test_client()
        table = ("carriers", "customers")[i % 2]
        return [
            client.post(f"/api/v1/reference-tables/{table}/rows", headers=headers,
                        json={"rows": [{"code": f"T{i}-{n}"}]}).status_code
            for n in range(20)
        ]  # fmt: skip

    def wrong_login(i: int) -> int:
        return (
            app.test_client()
            .post("/login", data={"username": "victim", "password": f"wrong-{i}"})
            .status_code
        )

    rows = [s for per_thread in _together(THREADS, post_rows) for s in per_thread]
    logins = _together(16, wrong_login)  # each checks an argon2 hash: CPU-bound, so few
    assert (Counter(rows), Counter(logins)) == ({200: THREADS * 20}, {401: 16})
    with get_db(app).session() as db:
        stored = db.scalars(select(ReferenceRow.key).join(ReferenceTable)).all()
    assert sorted(stored) == sorted(f"T{i}-{n}" for i in range(THREADS) for n in range(20))


@pytest.mark.skipif(USING_PG, reason="embedded mode: several processes sharing a SQLite file")
def test_gunicorn_workers_sharing_a_sqlite_file(app, app_config, tmp_path):
    """Embedded mode's database (a SQLite file) written by several gunicorn processes with
    threads, as the README deploys them: no 5xx, every accepted row stored. SQLite only: on
    PostgreSQL the same requests run in the API tests above."""
    world = build_world(app, get_db(app), 1)
    port = _free_port()
    env = {**_env(app_config), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-m", "gunicorn", "-w", "3", "-k", "gthread", "--threads", "4",
               "-b", f"127.0.0.1:{port}", "app:create_app()"]  # fmt: skip
    with (tmp_path / "gunicorn.log").open("w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, server)
        results = _together(10, lambda i: _hammer(port, world, i))
    finally:
        _stop(server)
    problems = (tmp_path / "gunicorn.log").read_text()[-3000:]
    rows = [r for per_thread in results[:6] for r in per_thread]
    logins = [status for per_thread in results[6:] for status, _ in per_thread]
    assert (Counter(s for s, _ in rows), Counter(logins)) == ({200: 90}, {401: 12}), problems
    with get_db(app).session() as db:
        stored = set(db.scalars(select(ReferenceRow.key)))
    assert {key for _, key in rows} <= stored


def _hammer(port: int, world: World, i: int) -> list[tuple[int, str]]:
    """Threads 0-5 post 15 reference rows each, the others 3 wrong passwords each."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    answers = []
    try:
        if i < 6:
            headers = {"Authorization": f"Bearer {world.api_key}",
                       "Content-Type": "application/json"}  # fmt: skip
            for n in range(15):
                key = f"G{i}-{n}"
                body = json.dumps({"rows": [{"code": key}]})
                table = ("carriers", "customers")[i % 2]
                conn.request("POST", f"/api/v1/reference-tables/{table}/rows", body, headers)
                answers.append((_status(conn), key))
            return answers
        conn.request("GET", "/login")
        response = conn.getresponse()
        page = response.read().decode()
        cookie = response.getheader("Set-Cookie", "").split(";")[0]
        match = CSRF_RE.search(page)
        assert match
        token = match.group(1) or match.group(2)
        headers = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        for n in range(3):
            form = urllib.parse.urlencode(
                {"username": "victim", "password": f"bad{n}", "csrf_token": token}
            )
            conn.request("POST", "/login", form, headers)
            answers.append((_status(conn), ""))
        return answers
    finally:
        conn.close()


def _status(connection: http.client.HTTPConnection) -> int:
    response = connection.getresponse()
    response.read()
    return response.status


@pytest.mark.skipif(USING_PG, reason="embedded mode: several processes sharing a SQLite file")
def test_every_write_endpoint_over_http_to_gunicorn_workers_without_a_5xx(
    app, app_config, tmp_path
):
    """Every write endpoint sent by signed-in threads over real HTTP, with CSRF tokens, to
    gunicorn processes with threads sharing the SQLite file, as the README deploys them."""
    world = build_world(app, get_db(app), THREADS)
    endpoints = sorted(set(REQUESTS) - {"auth.logout"})
    port = _free_port()
    env = {**_env(app_config), "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    command = [sys.executable, "-m", "gunicorn", "-w", "3", "-k", "gthread", "--threads", "4",
               "-b", f"127.0.0.1:{port}", "app:create_app()"]  # fmt: skip

    def writer(i: int) -> list[tuple[str, int, str]]:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
            login = {"username": world.admins[i], "password": "correct-horse",
                     "csrf_token": _csrf_token(client, "/login")}  # fmt: skip
            signed_in = client.post("/login", data=login)
            token = _csrf_token(client, "/account")
            order = random.Random(i).sample(endpoints, len(endpoints)) + ["auth.logout"]
            answers = [("sign-in", signed_in.status_code, signed_in.text[:300])]
            for n, endpoint in enumerate(order):
                request = REQUESTS[endpoint](world, i * 1000 + n)
                try:
                    response = client.send(_http_request(client, token, *request))
                except httpx.HTTPError as err:  # a worker that died mid-answer
                    answers.append((endpoint, 599, repr(err)))
                    continue
                answers.append((endpoint, response.status_code, response.text[:2000]))
            return answers

    with (tmp_path / "gunicorn.log").open("w") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_ready(port, server)
        answers = [a for per_thread in _together(THREADS, writer) for a in per_thread]
    finally:
        _stop(server)
    problems = (tmp_path / "gunicorn.log").read_text()[-3000:]
    server_errors = Counter(e for e, s, _ in answers if s >= 500)
    first = next((f"{e}: {s} {body[:300]}" for e, s, body in answers if s >= 500), "")
    assert server_errors == {}, f"{server_errors.total()} of {len(answers)}: {first}\n{problems}"
    # Valid requests with accepted CSRF tokens: most are carried out (a refused token is a 400).
    done = Counter(e for e, s, _ in answers if s < 400)
    assert len(done) >= len(REQUESTS) * 3 // 4, sorted(set(REQUESTS) - set(done))


def _csrf_token(client: httpx.Client, path: str) -> str:
    match = CSRF_RE.search(client.get(path).text)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


def _http_request(client: httpx.Client, token: str, method: str, path: str,
                  kwargs: dict[str, Any]) -> httpx.Request:  # fmt: skip
    """A ``REQUESTS`` entry (Flask test client arguments) as an HTTP request: forms carry the
    CSRF token as a field, other bodies as the header the editor's scripts send."""
    headers = {"Accept-Language": "en", **kwargs.get("headers", {})}
    data = kwargs.get("data")
    if isinstance(data, dict):
        fields = {k: v for k, v in data.items() if not isinstance(v, tuple)}
        files = {k: (v[1], v[0]) for k, v in data.items() if isinstance(v, tuple)}
        return client.build_request(method, path, headers=headers, files=files or None,
                                    data={**fields, "csrf_token": token})  # fmt: skip
    headers["X-CSRFToken"] = token
    if "content_type" in kwargs:
        headers["Content-Type"] = kwargs["content_type"]
    return client.build_request(method, path, headers=headers, content=data,
                                json=kwargs.get("json"))  # fmt: skip


@contextlib.contextmanager
def _write_lock_held(app: Any) -> Iterator[None]:
    """Another process's write transaction, open for the duration of the block."""
    holder = sqlite3.connect(get_db(app).engine.url.database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        holder.execute("COMMIT")
        holder.close()


@pytest.mark.skipif(USING_PG, reason="SQLite's write lock")
def test_reads_go_on_and_writers_wait_while_another_writer_holds_the_lock(app):
    app.config.update(WRITERS_CONFIG)
    world = build_world(app, get_db(app), 1)
    api = {"Authorization": f"Bearer {world.api_key}"}
    client = app.test_client()
    client.post("/login", data={"username": world.admins[0], "password": "correct-horse"})
    posted: list[int] = []
    with _write_lock_held(app):
        started = time.monotonic()
        assert client.get("/api/v1/reference-tables", headers=api).status_code == 200
        check = {"source": "order.amount > 5", "kind": "condition"}
        assert client.post("/flows/editor/expression", json=check).get_json()["ok"] is True
        unknown = {"Authorization": "Bearer of_nokey_0123456789abcdef"}
        intake = app.test_client().post("/api/v1/orders", headers=unknown, json={})
        assert intake.status_code == 401
        # GETs, checks and API key checks (intake's first step) take no write lock.
        assert time.monotonic() - started < 2
        writer = threading.Thread(target=lambda: posted.append(client.post(
            "/api/v1/reference-tables/carriers/rows", headers=api,
            json={"rows": [{"code": "LATE"}]}).status_code))  # fmt: skip
        writer.start()
        writer.join(0.5)
        assert writer.is_alive()  # waiting for the lock, not refused
    writer.join(10)
    assert posted == [200]


@pytest.mark.skipif(USING_PG, reason="SQLite's write lock")
def test_a_lock_held_past_the_busy_timeout_is_a_503_with_retry_after(make_app):
    app = make_app(**WRITERS_CONFIG, SQLITE_BUSY_TIMEOUT=0.2)
    world = build_world(app, get_db(app), 1)
    api = {"Authorization": f"Bearer {world.api_key}", "Accept-Language": "en"}
    client = app.test_client()
    with _write_lock_held(app):
        rows = client.post("/api/v1/reference-tables/carriers/rows", headers=api,
                           json={"rows": [{"code": "X"}]})  # fmt: skip
        login = client.post("/login", data={"username": "victim", "password": "x"},
                            headers={"Accept-Language": "zh"})  # fmt: skip
    assert (rows.status_code, rows.headers["Retry-After"]) == (503, "1")
    assert rows.get_json()["error"] == {
        "code": "database_busy",
        "message": "The database is busy with other changes, so this one was not saved. "
        "Send it again in a moment.",
    }
    assert (login.status_code, login.headers["Retry-After"]) == (503, "1")
    assert "数据库正忙" in login.get_data(as_text=True)


def test_reference_cache_reads_while_a_table_is_created(app):
    """A table committed between the cache's two reads (PostgreSQL sees it in the second
    statement only) is read consistently, not a KeyError in the middle of an order."""
    database = get_db(app)

    def table_with_row(name: str) -> None:
        def work(db: Any) -> None:
            reference.upsert_rows(db, reference.ensure_table(db, name, key_field="code"),
                                  [{"code": name.upper()}])  # fmt: skip

        in_transaction(database, work)

    table_with_row("first")
    created: list[str] = []

    def commit_a_table_first(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if "FROM reference_rows" in statement and not created:
            created.append("second")
            table_with_row("second")

    event.listen(database.engine, "before_cursor_execute", commit_a_table_first)
    try:
        with database.session() as db:
            tables = reference.ReferenceCache().get(db)
    finally:
        event.remove(database.engine, "before_cursor_execute", commit_a_table_first)
    assert created == ["second"]
    assert tables["first"] == [{"code": "FIRST"}]


@pytest.mark.skipif(USING_PG, reason="SQLite's write lock")
def test_command_line_writers_wait_for_the_lock(app, app_config):
    """`orderflow user create` and `calendar seed` while the server is writing: they wait."""
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": "test"}  # fmt: skip
    commands = [["user", "create", "ops", "--role", "viewer", "--password", "correct-horse-1"],
                ["calendar", "seed", "2026"]]  # fmt: skip
    results: list[Any] = []
    for command in commands:
        runner = threading.Thread(
            target=lambda c=command: results.append(CliRunner().invoke(cli, c, env=env))
        )
        with _write_lock_held(app):
            runner.start()
            time.sleep(0.5)
            assert runner.is_alive()  # waiting for the lock, not refused
        runner.join(15)
    assert [(r.exit_code, r.output.split(":")[0]) for r in results] == [
        (0, "Created user ops with roles viewer\n"),
        (0, "2026"),
    ], [r.output for r in results]


@pytest.mark.skipif(USING_PG, reason="SQLite's write lock")
def test_an_approval_page_marks_its_notifications_read_after_waiting_for_the_lock(app):
    """The one GET page that writes (opening an approval reads its notifications)."""
    app.config.update(WRITERS_CONFIG)
    world = build_world(app, get_db(app), 1)
    client = app.test_client()
    client.post("/login", data={"username": world.admins[0], "password": "correct-horse"})
    answers: list[int] = []
    page = threading.Thread(
        target=lambda: answers.append(client.get(f"/approvals/{world.task_keys[0]}").status_code)
    )
    with _write_lock_held(app):
        page.start()
        time.sleep(0.5)
        assert page.is_alive()  # waiting for the lock, not refused
    page.join(10)
    assert answers == [200]
