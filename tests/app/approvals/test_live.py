"""The live approver pages over HTTP: version-stamped polls (an empty 204 while nothing changed,
after a constant number of statements), one-tap decisions from the inbox with a clear refusal
when another approver was first, and the inbox cards' wording."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from flask.testing import FlaskClient
from sqlalchemy import event, select

from app.db import get_db, in_transaction
from app.models import Flow
from app.orders import services as orders

from ...app.conftest import csrf_token
from ..flows_fixtures import order_doc, publish
from .helpers import CHECKS, approval_doc, approver, run_of, start, tasks_of

V = re.compile(r'name="v" value="([0-9a-f]+)"')
POLL = {"HX-Request": "true"}


def _client(app, name: str) -> FlaskClient:
    client = app.test_client()
    token = csrf_token(client)
    client.post("/login", data={"username": name, "password": "correct-horse", "csrf_token": token})
    return client


def _version(client: FlaskClient, path: str) -> str:
    found = V.findall(client.get(path).get_data(as_text=True))  # the nav's poller's comes first
    assert len(found) == 2, f"no live version on {path}"
    return found[-1]


@contextmanager
def _statements(app) -> Iterator[list[str]]:
    database = get_db(app)
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args):  # type: ignore[no-untyped-def]
        seen.append(statement)

    event.listen(database.engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(database.engine, "before_cursor_execute", count)


def _polls(app, client: FlaskClient, task_key: str) -> dict[str, int]:
    """Statements of one unchanged poll of the inbox, the task page and the badges."""
    paths = {"inbox": "/approvals/", "task": f"/approvals/{task_key}"}
    versions = {k: _version(client, p) for k, p in paths.items()}
    page = client.get("/approvals/").get_data(as_text=True)  # the nav's poller: its own version
    badges = re.search(
        r'"/approvals/badges"[^>]*><input type="hidden" name="v" value="(\w+)"', page
    )
    assert badges, "no badges poller"
    counts = {}
    for name, path, version in (*((k, paths[k], versions[k]) for k in paths),
                                ("badges", "/approvals/badges", badges.group(1))):  # fmt: skip
        with _statements(app) as seen:
            response = client.get(path, query_string={"v": version}, headers=POLL)
        assert response.status_code == 204, (name, response.status_code)
        counts[name] = len(seen)
    return counts


def test_unchanged_polls_answer_204_after_the_same_few_statements(app):
    db = get_db(app)
    approver(db, "li")
    doc = approval_doc(checks=CHECKS)
    first = start(db, doc, external_id="PO-1")
    li = _client(app, "li")
    (task,) = tasks_of(db, first.id)
    few = _polls(app, li, task.task_key)
    for i in range(2, 12):
        start(db, doc, external_id=f"PO-{i}")
    many = _polls(app, li, task.task_key)
    assert few == many, (few, many)
    assert max(many.values()) <= 4, many  # the signed-in user, then one stamp statement


def test_a_change_elsewhere_changes_the_version_and_the_page(app):
    db = get_db(app)
    approver(db, "li")
    doc = approval_doc()
    start(db, doc, external_id="PO-1")
    li = _client(app, "li")
    version = _version(li, "/approvals/")
    start(db, doc, external_id="PO-2")
    response = li.get("/approvals/", query_string={"v": version}, headers=POLL)
    assert response.status_code == 200
    shown = response.get_data(as_text=True)
    assert "PO-1" in shown and "PO-2" in shown
    assert "<html" not in shown  # the list only, not the page


def test_inbox_render_costs_the_same_for_few_and_many_tasks(app):
    db = get_db(app)
    approver(db, "li")
    doc = approval_doc(checks=CHECKS)
    start(db, doc, external_id="PO-1")
    start(db, doc, external_id="PO-2")
    li = _client(app, "li")
    li.get("/approvals/", headers=POLL)
    with _statements(app) as few:
        li.get("/approvals/", headers=POLL)
    for i in range(3, 15):
        start(db, doc, external_id=f"PO-{i}")
    with _statements(app) as many:
        assert "PO-14" in li.get("/approvals/", headers=POLL).get_data(as_text=True)
    assert len(few) == len(many), (len(few), len(many))


def _decide(client: FlaskClient, task_key: str, decision: str, comment: str = "") -> str:
    token = csrf_token(client, "/approvals/")
    response = client.post(
        f"/approvals/{task_key}/decide",
        data={"decision": decision, "comment": comment, "back": "inbox", "csrf_token": token},
    )
    assert response.status_code == 302
    assert response.headers["Location"].endswith("/approvals/")  # back to the list
    return client.get("/approvals/").get_data(as_text=True)


def test_approve_from_the_inbox_in_one_tap(app):
    db = get_db(app)
    approver(db, "li", locale="zh")
    run = start(db, approval_doc(), external_id="PO-1")
    li = _client(app, "li")
    (task,) = tasks_of(db, run.id)
    assert 'data-testid="card-approve"' in li.get("/approvals/").get_data(as_text=True)
    page = _decide(li, task.task_key, "approved")
    assert "已同意" in page and "PO-1" not in page.split('id="ap-list"')[1].split("</ul>")[0]
    assert run_of(db, run.id).outcome == "accepted"


def test_reject_from_the_inbox_without_a_reason_is_refused_by_name(app):
    db = get_db(app)
    approver(db, "li", locale="zh")
    run = start(db, approval_doc(), external_id="PO-7")
    li = _client(app, "li")
    (task,) = tasks_of(db, run.id)
    page = _decide(li, task.task_key, "rejected")
    assert "PO-7：驳回时必须填写意见。" in page  # which order, and what is missing
    assert run_of(db, run.id).status == "waiting"
    page = _decide(li, task.task_key, "rejected", "账期不符")
    assert run_of(db, run.id).outcome == "refused"


def test_two_approvers_deciding_at_once_one_wins_the_other_is_told(app):
    db = get_db(app)
    approver(db, "li", locale="zh")
    approver(db, "wang", locale="zh")
    doc = approval_doc(assignees=[{"user": "li"}, {"user": "wang"}], mode="any")
    run = start(db, doc, external_id="PO-9")
    tasks = {t.assignee: t.task_key for t in tasks_of(db, run.id)}
    clients = {name: _client(app, name) for name in tasks}
    tokens = {name: csrf_token(c, "/approvals/") for name, c in clients.items()}
    both = threading.Barrier(2)
    answers: dict[str, int] = {}

    def tap(name: str) -> None:
        both.wait()
        decision = "approved" if name == "li" else "rejected"
        answers[name] = clients[name].post(
            f"/approvals/{tasks[name]}/decide",
            data={"decision": decision, "comment": "不行", "back": "inbox",
                  "csrf_token": tokens[name]},
        ).status_code  # fmt: skip

    threads = [threading.Thread(target=tap, args=(name,)) for name in tasks]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert answers == {"li": 302, "wang": 302}
    shown = {name: c.get("/approvals/").get_data(as_text=True) for name, c in clients.items()}
    won = [n for n, page in shown.items() if "已由" not in page]
    assert len(won) == 1, shown
    (lost,) = set(tasks) - set(won)
    assert f"PO-9：已由 {won[0].title()} 处理" in shown[lost]
    assert run_of(db, run.id).outcome == ("accepted" if won == ["li"] else "refused")


def test_a_card_without_a_customer_name_shows_no_lone_dot(app):
    db = get_db(app)
    approver(db, "li", locale="zh")

    def setup(unit):  # type: ignore[no-untyped-def]
        doc = approval_doc()
        if unit.scalars(select(Flow).where(Flow.key == doc["key"])).first() is None:
            publish(unit, doc)

    in_transaction(db, setup)
    in_transaction(
        db, lambda unit: orders.ingest(unit, order_doc("PO-X", "25000.00", customer={"id": "C-2"}))
    )
    li = _client(app, "li")
    page = li.get("/approvals/").get_data(as_text=True)
    (line,) = re.findall(r'<span class="ap-line2">(.*?)</span>', page)
    assert not line.strip().startswith("·"), line
