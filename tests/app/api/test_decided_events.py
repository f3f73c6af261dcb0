"""``order.decided`` reaches subscribers however an approval is decided: by a person through
the API or in bulk, and by the approval's time limit (``on_timeout: approve`` or
``reject``), delivered by the outbox to a real HTTP receiver on loopback."""

from __future__ import annotations

import json
from datetime import timedelta

from app.approvals import services as approvals
from app.models import utcnow
from app.users import services as users

from ..approvals.helpers import (
    approval_doc,
    approver,
    as_user,
    db_of,
    deliver_all,
    run_of,
    start,
    tasks_of,
)
from ..webhook_server import Receiver


def _subscribe(api, url: str) -> dict:
    answer = api.post("/subscriptions", json={"name": "ERP", "url": url,
                                               "events": ["order.decided"]})  # fmt: skip
    assert answer.status_code == 201, answer.json
    return answer.json


def _decided(receiver: Receiver) -> list[dict]:
    bodies = [json.loads(r["body"]) for r in receiver.requests]
    return [b for b in bodies if b["type"] == "order.decided"]


def _only(doc: dict, external_id: str) -> dict:
    doc["trigger"]["filter"] = f'order.external_id == "{external_id}"'
    return doc


def test_an_approval_decided_by_its_time_limit_is_announced(app, api):
    db = db_of(app)
    approver(db, "li")
    t0 = utcnow()
    with Receiver() as receiver:
        _subscribe(api, receiver.url)
        approve = start(db, _only(approval_doc(sla={"duration": "1h", "on_timeout": "approve"}),
                                  "SLA-1"), external_id="SLA-1", now=t0)  # fmt: skip
        reject = start(db, _only(approval_doc("late-no", sla={"duration": "2h",
                                                              "on_timeout": "reject"}), "SLA-2"),
                       external_id="SLA-2", now=t0)  # fmt: skip
        deliver_all(app, t0 + timedelta(minutes=59))
        assert _decided(receiver) == []
        deliver_all(app, t0 + timedelta(hours=2, seconds=1))  # both deadlines pass
        deliver_all(app, t0 + timedelta(hours=2, seconds=2))
        deliver_all(app, t0 + timedelta(hours=2, seconds=3))  # nothing is sent twice
        bodies = sorted(_decided(receiver), key=lambda b: b["data"]["run_id"])
    assert (run_of(db, approve.id).outcome, run_of(db, reject.id).outcome) == (
        "accepted", "refused")  # fmt: skip
    assert [(b["order"]["external_id"], b["data"]["decision"], b["data"]["auto"],
             b["data"]["reason"], b["data"]["node_id"]) for b in bodies] == [
        ("SLA-1", "approved", True, "sla_timeout", "review"),
        ("SLA-2", "rejected", True, "sla_timeout", "review")]  # fmt: skip


def test_decisions_through_the_api_and_in_bulk_are_announced(app, api):
    db = db_of(app)
    approver(db, "li")
    with Receiver() as receiver:
        _subscribe(api, receiver.url)
        one = start(db, approval_doc(), external_id="API-1")
        two = start(db, approval_doc(), external_id="BULK-1")
        three = start(db, approval_doc(), external_id="BULK-2")
        # Through the API, with the approver's own key (being assigned is what allows deciding).
        key = as_user(db, "li", lambda s, u: users.create_api_key(
            s, u, name="li-decisions", scopes=["approvals:write"])[1])  # fmt: skip
        [task] = tasks_of(db, one.id)
        answer = app.test_client().post(
            f"/api/v1/approvals/{task.task_key}/decision",
            json={"decision": "approved"}, headers={"Authorization": f"Bearer {key}"})  # fmt: skip
        assert answer.status_code == 200, answer.json
        # In bulk, as the web's bulk decision does.
        keys = [tasks_of(db, r.id)[0].task_key for r in (two, three)]
        results = as_user(db, "li", lambda s, u: approvals.decide_many(
            s, u, keys, "rejected", comment="价格不对"))  # fmt: skip
        assert all(r.ok for r in results)
        deliver_all(app)
        bodies = _decided(receiver)
    got = sorted((b["order"]["external_id"], b["data"]["decision"], b["data"]["decided_by"])
                 for b in bodies)  # fmt: skip
    assert got == [("API-1", "approved", "li"), ("BULK-1", "rejected", "li"),
                   ("BULK-2", "rejected", "li")]  # fmt: skip
