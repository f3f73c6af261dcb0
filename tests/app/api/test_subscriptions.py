"""Outbound order event subscriptions, end to end: created through the API, fed by orders
and status events posted through the API, delivered by the outbox to a real HTTP receiver
on loopback, signed, once per event; paused, filtered, dead-lettered and replayed."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
import simplejson
from sqlalchemy import select

from app.db import get_db, in_transaction
from app.models import OutboxMessage
from app.runs import tasks

from ..conftest import csrf_token
from ..flows_fixtures import order_doc
from ..webhook_server import Receiver


@pytest.fixture
def admin_client(client, make_user, login):
    make_user("root", roles=("admin",))
    login("root")
    return client


def _order(api, external_id: str) -> dict:
    body = simplejson.dumps(order_doc(external_id), use_decimal=True)
    answer = api.post("/orders", data=body, content_type="application/json")
    assert answer.status_code == 201, answer.json
    return answer.json


def _paid(api, order: dict) -> None:
    answer = api.post("/status-events", json={
        "source": "erp", "event_id": f"pay-{order['external_id']}", "code": "PAYMENT_CONFIRMED",
        "occurred_at": "2026-12-06T10:00:00+08:00",
        "order": {"channel": order["channel"], "external_id": order["external_id"]},
    })  # fmt: skip
    assert answer.status_code == 201, answer.json


def _subscribe(api, url: str, events: list[str], **extra) -> dict:
    answer = api.post("/subscriptions", json={"name": "ERP", "url": url, "events": events, **extra})
    assert answer.status_code == 201, answer.json
    return answer.json


def _deliver(app) -> None:
    with app.app_context():
        tasks.sweep_now()


def _verify(request: dict, secret: str) -> dict:
    timestamp, signature = (
        p.split("=", 1)[1] for p in request["headers"]["x-orderflow-signature"].split(",")
    )
    signed = timestamp.encode() + b"." + request["body"]
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(signature, expected)
    return json.loads(request["body"])


def test_each_subscribed_event_arrives_once_signed(api, app):
    with Receiver() as receiver:
        sub = _subscribe(api, receiver.url, ["order.created", "order.status_changed"])
        order = _order(api, "E1")
        _paid(api, order)
        _deliver(app)
        _deliver(app)  # a second sweep sends nothing again
    bodies = [_verify(r, app.config["WEBHOOK_SECRET"]) for r in receiver.requests]
    assert [b["type"] for b in bodies] == ["order.created", "order.status_changed"]
    created, changed = bodies
    assert created["order"]["external_id"] == "E1" and created["order"]["id"] == order["id"]
    assert created["occurred_at"].endswith("+00:00")
    assert changed["data"]["from"] == "created" and changed["data"]["to"] == "paid"
    assert changed["order"]["status"] == "paid"
    keys = [r["headers"]["idempotency-key"] for r in receiver.requests]
    assert keys == [f"{b['id']}.{sub['id']}" for b in bodies]
    log = api.get(f"/subscriptions/{sub['id']}/deliveries").json["items"]
    assert [(d["type"], d["status"], d["attempts"], d["response_status"]) for d in log] == [
        ("order.status_changed", "sent", 1, 200), ("order.created", "sent", 1, 200),
    ]  # fmt: skip


def test_only_subscribed_events_and_active_subscriptions_get_messages(api, app):
    with Receiver() as wants_status, Receiver() as paused:
        _subscribe(api, wants_status.url, ["order.status_changed"])
        off = _subscribe(api, paused.url, ["order.created", "order.status_changed"])
        _order(api, "E2-before")  # this process now holds the subscriptions it read
        answer = api.patch(f"/subscriptions/{off['id']}", json={"active": False})
        assert answer.json["active"] is False
        order = _order(api, "E2")
        _paid(api, order)
        _deliver(app)
    assert [json.loads(r["body"])["type"] for r in wants_status.requests] == [
        "order.status_changed"
    ]
    assert [json.loads(r["body"])["order"]["external_id"] for r in paused.requests] == ["E2-before"]


def test_channel_filter_and_own_secret(api, app):
    with Receiver() as receiver:
        other = _subscribe(api, receiver.url, ["order.created"], channel="douyin")
        own = _subscribe(api, receiver.url, ["order.created"], own_secret=True)
        assert own["secret"].startswith("whsec_") and "secret" not in api.get(
            f"/subscriptions/{own['id']}").json  # fmt: skip
        _order(api, "E3")  # order_doc's channel is not douyin
        _deliver(app)
    (request,) = receiver.requests
    assert _verify(request, own["secret"])["order"]["external_id"] == "E3"
    assert api.get(f"/subscriptions/{other['id']}/deliveries").json["items"] == []


def test_dead_letter_is_replayed_from_the_delivery_log(api, app, admin_client):
    with Receiver(statuses=[410]) as receiver:
        sub = _subscribe(api, receiver.url, ["order.created"])
        _order(api, "E4")
        _deliver(app)
        (dead,) = api.get(f"/subscriptions/{sub['id']}/deliveries").json["items"]
        assert (dead["status"], dead["response_status"]) == ("dead", 410)
        assert "HTTP 410" in dead["last_error"]
        page = admin_client.get(f"/admin/outbox/subscriptions/{sub['id']}")
        assert page.status_code == 200 and b"HTTP 410" in page.data
        token = csrf_token(admin_client, f"/admin/outbox/subscriptions/{sub['id']}")
        answer = admin_client.post(
            f"/admin/outbox/subscriptions/{sub['id']}/replay/{dead['id']}",
            data={"csrf_token": token},
        )
        assert answer.status_code == 302
        _deliver(app)
    first, second = receiver.requests
    assert first["body"] == second["body"]
    assert first["headers"]["idempotency-key"] == second["headers"]["idempotency-key"]
    (sent,) = api.get(f"/subscriptions/{sub['id']}/deliveries").json["items"]
    assert (sent["status"], sent["response_status"]) == ("sent", 200)


def test_batch_intake_queues_one_message_per_new_order(api, app):
    with Receiver() as receiver:
        _subscribe(api, receiver.url, ["order.created"])
        docs = [order_doc(f"B{i}") for i in range(3)]
        body = simplejson.dumps({"orders": docs}, use_decimal=True)
        assert (
            api.post("/orders/batch", data=body, content_type="application/json").status_code == 201
        )
        api.post("/orders/batch", data=body, content_type="application/json")  # seen before
        _deliver(app)
    got = sorted(json.loads(r["body"])["order"]["external_id"] for r in receiver.requests)
    assert got == ["B0", "B1", "B2"]


@pytest.mark.parametrize(
    ("change", "path", "english", "chinese"),
    [
        ({"url": "https://erp.example.com/hook"}, "/url", "not on the outbound allowlist",
         "不在出站白名单"),
        ({"url": "ftp://127.0.0.1/x"}, "/url", "does not start with http:// or https://",
         "不是以 http:// 或 https:// 开头"),
        ({"events": ["order.paid"]}, "/events", "order.created, order.updated", "order.created"),
        ({"channel": "fax"}, "/channel", "A sales channel out of", "销售渠道"),
    ],
)  # fmt: skip
def test_bad_subscriptions_are_refused_in_both_languages(api, change, path, english, chinese):
    doc = {"name": "ERP", "url": "http://127.0.0.1:9/hook", "events": ["order.created"], **change}
    en = api.post("/subscriptions", json=doc)
    zh = api.post("/subscriptions", json=doc, headers={"Accept-Language": "zh"})
    assert en.status_code == zh.status_code == 422
    assert en.json["error"]["details"][0]["path"] == path
    assert english in en.json["error"]["message"] and chinese in zh.json["error"]["message"]
    assert api.get("/subscriptions").json["items"] == []


def test_delete_drops_unsent_messages_and_keeps_the_rest(api, app):
    sub = _subscribe(api, "http://127.0.0.1:9/hook", ["order.created"])
    _order(api, "E5")
    assert api.delete(f"/subscriptions/{sub['id']}").status_code == 200
    assert api.get(f"/subscriptions/{sub['id']}").status_code == 404
    database = get_db(app)
    left = in_transaction(database, lambda db: db.scalars(select(OutboxMessage)).all())
    assert left == []


def test_admin_page_creates_pauses_and_refuses_a_host_not_allowed(admin_client):
    base = "/admin/outbox/subscriptions/"
    token = csrf_token(admin_client, base)
    form = {"csrf_token": token, "name": "WMS", "events": ["order.created", "order.decided"]}
    refused = admin_client.post(base, data={**form, "url": "https://wms.example.com/in"})
    assert refused.status_code == 422
    assert "不在出站白名单" in refused.get_data(as_text=True)  # the admin's language: zh
    made = admin_client.post(base, data={**form, "url": "http://127.0.0.1:9/in"})
    assert made.status_code == 302
    page = admin_client.get(made.headers["Location"]).get_data(as_text=True)
    assert "http://127.0.0.1:9/in" in page and 'value="order.decided" checked' in page
    paused = admin_client.post(made.headers["Location"] + "/toggle", data={"csrf_token": token})
    assert paused.status_code == 302
    listing = admin_client.get(base).get_data(as_text=True)
    assert "WMS" in listing and ">暂停<" in listing
