"""Outbound delivery: the host allowlist, retries against a loopback server that fails then
succeeds, the dead-letter page and replay."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from app.db import get_db, in_transaction
from app.models import OutboxMessage, utcnow
from app.orders import services as orders
from app.runs import outbox, tasks

from ..conftest import csrf_token
from ..flows_fixtures import flow_doc, order_doc, publish
from ..webhook_server import Receiver


def _flow(url: str) -> dict:
    return flow_doc(
        "notify",
        [{"id": "start", "type": "start"},
         {"id": "call", "type": "webhook", "config": {"url": url, "body": {"id": "order.external_id"}}},
         {"id": "done", "type": "end", "config": {"outcome": "sent"}}],
        [("start", "call"), ("call", "done")],
    )  # fmt: skip


@pytest.fixture
def database(app):
    return get_db(app)


def _message(database) -> OutboxMessage:
    with database.session() as db:
        return db.scalars(select(OutboxMessage)).one()


@pytest.fixture
def admin_client(client, make_user, login):
    make_user("root", roles=("admin",))
    login("root")
    return client


def test_a_host_not_on_the_allowlist_is_never_contacted(app, make_app):
    app = make_app(OUTBOX_ALLOWED_HOSTS="")
    database = get_db(app)
    with Receiver() as receiver:
        in_transaction(database, lambda db: publish(db, _flow(receiver.url)))
        in_transaction(database, lambda db: orders.ingest(db, order_doc("AL1")))
        with app.app_context():
            assert outbox.deliver(database, _message(database).id) == "dead"
        assert receiver.requests == []
        dead = _message(database)
        assert "'127.0.0.1' is not on the allowlist" in dead.last_error
        assert dead.attempts == 1

        in_transaction(database, lambda db: outbox.add_allowed_host(db, "root", "127.0.0.1"))
        in_transaction(database, lambda db: outbox.replay(db, dead.id))
        with app.app_context():
            assert outbox.deliver(database, dead.id) == "sent"
    assert len(receiver.requests) == 1


@pytest.mark.parametrize(
    ("pattern", "host", "allowed"),
    [("erp.example.com", "erp.example.com", True), ("erp.example.com", "example.com", False),
     ("*.example.com", "wms.example.com", True), ("*.example.com", "example.com", False),
     ("*.example.com", "evil-example.com", False), ("10.0.0.5", "10.0.0.5", True)],
)  # fmt: skip
def test_host_patterns(pattern, host, allowed):
    assert outbox._host_matches(host, pattern) is allowed


def test_retries_against_a_failing_then_healthy_server(app, database):
    with Receiver(statuses=[503, 500]) as receiver:
        in_transaction(database, lambda db: publish(db, _flow(receiver.url)))
        in_transaction(database, lambda db: orders.ingest(db, order_doc("RT1")))
        moment = utcnow()
        with app.app_context():
            results = []
            for _ in range(3):
                results.append(outbox.deliver(database, _message(database).id, now=moment))
                moment = _message(database).next_attempt_at
    assert results == ["retry", "retry", "sent"]
    assert len(receiver.requests) == 3
    assert {r["headers"]["idempotency-key"] for r in receiver.requests} == {
        _message(database).effect_id
    }


def test_dead_letters_page_lists_and_replays(app, database, admin_client):
    with Receiver(statuses=[400]) as receiver:
        in_transaction(database, lambda db: publish(db, _flow(receiver.url)))
        in_transaction(database, lambda db: orders.ingest(db, order_doc("DL1")))
        message_id = _message(database).id
        with app.app_context():
            assert outbox.deliver(database, message_id) == "dead"
        page = admin_client.get("/admin/outbox/").get_data(as_text=True)
        assert f'data-testid="dead-{message_id}"' in page and "HTTP 400" in page
        token = csrf_token(admin_client, "/admin/outbox/")
        app.config["QUEUE_IMMEDIATE"] = True
        response = admin_client.post(
            f"/admin/outbox/{message_id}/replay", data={"csrf_token": token}
        )
        assert response.status_code == 302
        replayed = _message(database)
        assert replayed.attempts == 0 or replayed.status == "sent"
        with app.app_context():
            tasks.sweep_now()
        assert _message(database).status == "sent"
    assert len(receiver.requests) == 2
    again = admin_client.post(f"/admin/outbox/{message_id}/replay", data={"csrf_token": token})
    assert again.status_code == 302
    assert "只有死信消息可以重发。" in admin_client.get("/admin/outbox/").get_data(as_text=True)


def test_allowlist_managed_from_the_admin_page(admin_client):
    token = csrf_token(admin_client, "/admin/outbox/")
    admin_client.post("/admin/outbox/hosts", data={"csrf_token": token, "host": "ERP.example.com",
                                                   "note": "ERP"})  # fmt: skip
    bad = admin_client.post("/admin/outbox/hosts", data={"csrf_token": token,
                                                         "host": "http://x/y"})  # fmt: skip
    assert bad.status_code == 302
    page = admin_client.get("/admin/outbox/").get_data(as_text=True)
    assert "<code>erp.example.com</code>" in page
    host_id = re.search(r"/admin/outbox/hosts/(\d+)/delete", page).group(1)
    admin_client.post(f"/admin/outbox/hosts/{host_id}/delete", data={"csrf_token": token})
    assert "<code>erp.example.com</code>" not in admin_client.get("/admin/outbox/").get_data(
        as_text=True
    )


def test_outbox_pages_need_the_permission(client, make_user, login):
    make_user("viewer1", roles=("viewer",))
    login("viewer1")
    assert client.get("/admin/outbox/").status_code == 403


def test_channels_managed_from_the_integrations_page(admin_client):
    token = csrf_token(admin_client, "/admin/outbox/")
    created = admin_client.post("/admin/outbox/channels", data={
        "csrf_token": token, "key": "dy-shop", "name": "抖音小店", "kind": "douyin",
        "order_channel": "douyin"})  # fmt: skip
    page = created.get_data(as_text=True)
    secret = re.search(r'data-testid="channel-secret">([^<]+)<', page).group(1)
    assert len(secret) >= 32
    assert "/api/v1/channels/dy-shop/webhook" in page
    listing = admin_client.get("/admin/outbox/").get_data(as_text=True)
    assert 'data-testid="channel-dy-shop"' in listing and secret not in listing
    channel_id = re.search(r"/admin/outbox/channels/(\d+)/toggle", listing).group(1)
    admin_client.post(f"/admin/outbox/channels/{channel_id}/toggle", data={"csrf_token": token})
    paused = admin_client.post("/api/v1/channels/dy-shop/webhook", json={})
    assert paused.status_code == 404
    bad = admin_client.post("/admin/outbox/channels", data={
        "csrf_token": token, "key": "Bad Key", "kind": "douyin", "order_channel": "douyin"})  # fmt: skip
    assert bad.status_code == 302
