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


def _signed_with(request: dict, secret: str) -> bool:
    header = request["headers"]["x-orderflow-signature"]
    timestamp = int(re.match(r"t=(\d+),", header).group(1))
    return outbox.sign(secret, timestamp, request["body"]) == header


def test_a_host_with_its_own_secret_gets_webhooks_signed_with_it(app, make_app):
    app = make_app(OUTBOX_ALLOWED_HOSTS="", WEBHOOK_SECRET="shared-secret")
    database = get_db(app)
    with Receiver() as receiver:
        in_transaction(database, lambda db: publish(db, _flow(receiver.url)))
        host = in_transaction(
            database, lambda db: outbox.add_allowed_host(db, "root", "127.0.0.1", own_secret=True)
        )
        own = host.signing_secret
        assert own.startswith("whsec_") and len(own) > 40

        def deliver_one(external_id: str) -> dict:
            in_transaction(database, lambda db: orders.ingest(db, order_doc(external_id)))
            with database.session() as db:
                message_id = db.scalars(
                    select(OutboxMessage.id).order_by(OutboxMessage.id.desc())
                ).first()
            with app.app_context():
                assert outbox.deliver(database, message_id) == "sent"
            return receiver.requests[-1]

        first = deliver_one("OWN1")
        assert _signed_with(first, own) and not _signed_with(first, "shared-secret")

        # A new secret replaces the old one at once.
        rotated = in_transaction(database, lambda db: outbox.set_host_secret(db, host.id, own=True))
        second = deliver_one("OWN2")
        assert rotated.signing_secret != own
        assert _signed_with(second, rotated.signing_secret) and not _signed_with(second, own)

        # Back to the shared secret.
        in_transaction(database, lambda db: outbox.set_host_secret(db, host.id, own=False))
        assert _signed_with(deliver_one("OWN3"), "shared-secret")


def test_the_most_specific_allowlist_entry_gives_the_secret(app):
    def setup(db):
        wide = outbox.add_allowed_host(db, None, "*.example.com", own_secret=True)
        deeper = outbox.add_allowed_host(db, None, "*.wms.example.com", own_secret=True)
        exact = outbox.add_allowed_host(db, None, "erp.example.com")
        return wide.signing_secret, deeper.signing_secret, exact.signing_secret

    database = get_db(app)
    wide, deeper, exact = in_transaction(database, setup)
    assert exact is None
    with app.app_context(), database.session() as db:
        assert outbox.check_destination(db, "https://crm.example.com/x") == wide
        assert outbox.check_destination(db, "https://eu.wms.example.com/x") == deeper
        # The exact entry has no secret of its own: the shared secret signs, not the wildcard's.
        assert outbox.check_destination(db, "https://erp.example.com/x") is None
        with pytest.raises(outbox.DeliveryError, match="not on the allowlist"):
            outbox.check_destination(db, "https://example.org/x")


def test_host_secrets_managed_from_the_admin_page(admin_client):
    token = csrf_token(admin_client, "/admin/outbox/")
    made = admin_client.post("/admin/outbox/hosts", data={
        "csrf_token": token, "host": "tms.example.com", "own_secret": "on"})  # fmt: skip
    assert made.status_code == 200
    shown = re.search(r'data-testid="host-secret">(whsec_[^<]+)<', made.get_data(as_text=True))
    assert shown, "the new secret is shown once"
    page = admin_client.get("/admin/outbox/").get_data(as_text=True)
    assert shown.group(1) not in page  # and never again
    row = page[page.index('data-host="tms.example.com"') :]
    assert "专属密钥" in row[:600]
    host_id = re.search(r"/admin/outbox/hosts/(\d+)/secret", row).group(1)
    rotated = admin_client.post(f"/admin/outbox/hosts/{host_id}/secret",
                                data={"csrf_token": token, "own": "1"})  # fmt: skip
    again = re.search(r'data-testid="host-secret">(whsec_[^<]+)<', rotated.get_data(as_text=True))
    assert again and again.group(1) != shown.group(1)
    shared = admin_client.post(f"/admin/outbox/hosts/{host_id}/secret",
                               data={"csrf_token": token, "own": "0"})  # fmt: skip
    assert shared.status_code == 302
    with admin_client.application.app_context():
        from app.db import get_session
        from app.models import AllowedHost

        assert get_session().get(AllowedHost, int(host_id)).signing_secret is None
    missing = admin_client.post("/admin/outbox/hosts/9999/secret",
                                data={"csrf_token": token, "own": "1"})  # fmt: skip
    assert missing.status_code == 302
