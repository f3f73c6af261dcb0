"""The demo's webhooks: delivered over HTTP to the built-in demo receiver, no dead letters."""

from __future__ import annotations

import json
import time

from sqlalchemy import select

from app.bundles import receiver
from app.bundles.demo import load_demo
from app.db import get_db, get_session
from app.models import AllowedHost, OutboxMessage
from app.runs import outbox
from app.signing import sign
from tests.app.conftest import csrf_token
from tests.browser.serving import serving


def test_demo_webhooks_reach_the_demo_receiver_and_nothing_is_dead(make_app, make_user):
    # Only the demo's own allowlist entry may let the webhooks out.
    app = make_app(DEMO_RECEIVER=True, OUTBOX_ALLOWED_HOSTS="")
    before = len(receiver.recent())
    with serving(app) as base, app.app_context():
        load_demo(app, receiver_base=base)
        database = get_db(app)
        with database.session() as db:
            pending = list(db.scalars(select(OutboxMessage.id).order_by(OutboxMessage.id)))
        results = [outbox.deliver(database, message_id) for message_id in pending]
        with database.session() as db:
            messages = list(db.scalars(select(OutboxMessage)))
            hosts = {h.host: h.note for h in db.scalars(select(AllowedHost))}
    webhooks = [m for m in messages if m.kind == "webhook"]
    assert len(webhooks) == 5
    assert {m.payload["url"] for m in webhooks} == {f"{base}/demo/receiver/erp"}
    assert [m for m in messages if m.status == outbox.DEAD] == []
    assert {m.status for m in webhooks} == {outbox.SENT} and "dead" not in results
    assert hosts == {"127.0.0.1": receiver.NOTE}
    got = receiver.recent()[: len(receiver.recent()) - before]
    assert len(got) == 5 and {g["receiver"] for g in got} == {"erp"}
    assert {g["idempotency_key"] for g in got} == {m.effect_id for m in webhooks}
    assert all(g["body"]["po_number"] for g in got)

    make_user("boss", roles=("admin",))
    client = app.test_client()
    client.post(
        "/login",
        data={"username": "boss", "password": "correct-horse", "csrf_token": csrf_token(client)},
    )
    page = client.get("/admin/outbox/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Demo receiver" in page and "No dead letters." in page
    assert got[0]["idempotency_key"] in page


def test_receiver_refuses_a_wrong_signature_and_is_off_by_default(app, make_app):
    demo = make_app(DEMO_RECEIVER=True)
    body = json.dumps({"po_number": "PO-1"}).encode()
    signed = sign("not-the-secret", int(time.time()), body)
    answer = demo.test_client().post(
        "/demo/receiver/erp", data=body, headers={"X-OrderFlow-Signature": signed}
    )
    assert answer.status_code == 401
    good = sign(demo.config["WEBHOOK_SECRET"], int(time.time()), body)
    answer = demo.test_client().post(
        "/demo/receiver/erp", data=body, headers={"X-OrderFlow-Signature": good}
    )
    assert answer.status_code == 200 and answer.get_json()["received"] is True
    assert app.test_client().post("/demo/receiver/erp", data=body).status_code == 404
    with app.app_context():
        assert get_session().scalars(select(AllowedHost)).first() is None
