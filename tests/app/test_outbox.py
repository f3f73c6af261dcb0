"""Outbox delivery against a real HTTP server on loopback: signed, retried with backoff,
dead-lettered, and resuming runs that wait for the response."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import get_db, in_transaction
from app.models import OutboxMessage, Run, utcnow
from app.orders import services as orders
from app.runs import outbox, tasks

from .flows_fixtures import flow_doc, order_doc, publish
from .webhook_server import Receiver


def _webhook_flow(url: str, *, awaited: bool = False) -> dict:
    config = {"url": url, "body": {"order": "order.external_id", "amount": "order.amount"}}
    if awaited:
        config.update(await_response=True, store_as="wms")
    return flow_doc(
        "notify-wms",
        [{"id": "start", "type": "start"}, {"id": "call", "type": "webhook", "config": config},
         {"id": "done", "type": "end", "config": {"outcome": "sent"}}],
        [("start", "call"), ("call", "done")],
    )  # fmt: skip


@pytest.fixture
def database(app):
    return get_db(app)


def _message(database) -> OutboxMessage:
    with database.session() as db:
        return db.scalars(select(OutboxMessage)).one()


def test_failures_are_retried_with_backoff_then_delivered(app, database):
    with Receiver(statuses=[500, 503]) as receiver:
        in_transaction(database, lambda db: publish(db, _webhook_flow(receiver.url)))
        start = utcnow()
        in_transaction(database, lambda db: orders.ingest(db, order_doc("W1", "88.80"), now=start))
        message = _message(database)
        assert message.status == "pending"

        assert outbox.deliver(database, message.id, now=start) == "retry"
        first = _message(database)
        assert first.attempts == 1 and "HTTP 500" in first.last_error
        assert timedelta(seconds=7) < first.next_attempt_at - start < timedelta(seconds=13)

        assert outbox.deliver(database, message.id, now=start) == "skipped"  # not due yet
        with app.app_context():
            swept = tasks.sweep_now(now=first.next_attempt_at)
        assert swept["messages"] == 1 and swept["sent"] == 0
        second = _message(database)
        assert second.attempts == 2 and second.next_attempt_at - first.next_attempt_at > timedelta(
            seconds=15
        )

        with app.app_context():
            assert tasks.sweep_now(now=second.next_attempt_at)["sent"] == 1
        final = _message(database)
        assert final.status == "sent" and final.attempts == 3 and final.last_error is None

    assert len(receiver.requests) == 3
    request = receiver.requests[-1]
    assert json.loads(request["body"]) == {"order": "W1", "amount": 88.80}
    assert request["headers"]["idempotency-key"] == message.effect_id
    timestamp, signature = (
        p.split("=", 1)[1] for p in request["headers"]["x-orderflow-signature"].split(",")
    )
    # Receivers hold the webhook secret, never the key that signs sessions and approval links.
    assert app.config["WEBHOOK_SECRET"] != app.config["SECRET_KEY"]
    expected = hmac.new(
        app.config["WEBHOOK_SECRET"].encode(),
        f"{timestamp}.".encode() + request["body"],
        hashlib.sha256,
    )
    assert signature == expected.hexdigest()


def test_a_redirect_is_not_followed_to_a_host_nobody_checked(app, database):
    with Receiver() as elsewhere, Receiver(statuses=[307], location=elsewhere.url) as receiver:
        in_transaction(database, lambda db: publish(db, _webhook_flow(receiver.url)))
        in_transaction(database, lambda db: orders.ingest(db, order_doc("W9")))
        assert outbox.deliver(database, _message(database).id) == "dead"
    dead = _message(database)
    assert "HTTP 307" in dead.last_error and "not followed" in dead.last_error
    assert elsewhere.url in dead.last_error
    assert len(receiver.requests) == 1 and elsewhere.requests == []


def test_permanent_failure_goes_to_dead_letters(app, database):
    with Receiver(statuses=[400]) as receiver:
        in_transaction(database, lambda db: publish(db, _webhook_flow(receiver.url)))
        in_transaction(database, lambda db: orders.ingest(db, order_doc("W2")))
        assert outbox.deliver(database, _message(database).id) == "dead"
    dead = _message(database)
    assert dead.status == "dead" and "HTTP 400" in dead.last_error and len(receiver.requests) == 1


def test_retry_limit_dead_letters_an_unreachable_host(app, database):
    url = "http://127.0.0.1:9/unreachable"  # discard port: nothing listens
    in_transaction(database, lambda db: publish(db, _webhook_flow(url)))
    in_transaction(database, lambda db: orders.ingest(db, order_doc("W3")))
    moment = utcnow()
    results = []
    for _ in range(outbox.MAX_ATTEMPTS):
        results.append(outbox.deliver(database, _message(database).id, now=moment))
        moment = _message(database).next_attempt_at
    assert results[:-1] == ["retry"] * (outbox.MAX_ATTEMPTS - 1) and results[-1] == "dead"
    assert "cannot reach" in _message(database).last_error


def test_awaited_webhook_resumes_the_run_with_the_response(app, database):
    with Receiver(reply={"wms_order": "WMS-778"}) as receiver:
        in_transaction(database, lambda db: publish(db, _webhook_flow(receiver.url, awaited=True)))
        _, _, (run,) = in_transaction(database, lambda db: orders.ingest(db, order_doc("W4")))
        assert run.status == "waiting"
        assert outbox.deliver(database, _message(database).id) == "sent"
    with database.session() as db:
        done = db.get(Run, run.id)
        assert (done.status, done.outcome) == ("completed", "sent")
        assert done.snapshot["vars"]["wms"]["body"] == {"wms_order": "WMS-778"}


def test_awaited_webhook_that_dies_puts_the_run_in_incident(app, database):
    with Receiver(statuses=[422]) as receiver:
        in_transaction(database, lambda db: publish(db, _webhook_flow(receiver.url, awaited=True)))
        _, _, (run,) = in_transaction(database, lambda db: orders.ingest(db, order_doc("W5")))
        assert outbox.deliver(database, _message(database).id) == "dead"
    with database.session() as db:
        failed = db.get(Run, run.id)
        assert failed.status == "incident" and failed.incident["node_id"] == "call"


def test_a_message_is_claimed_once(app, database):
    with Receiver() as receiver:
        in_transaction(database, lambda db: publish(db, _webhook_flow(receiver.url)))
        in_transaction(database, lambda db: orders.ingest(db, order_doc("W6")))
        message_id = _message(database).id
        assert outbox.deliver(database, message_id) == "sent"
        assert outbox.deliver(database, message_id) == "skipped"
    assert len(receiver.requests) == 1


def _queue(database, payloads: list[dict]) -> list[int]:
    """Outbox messages as a flow saved before today's checks could have left them."""

    def add(db):
        rows = [
            OutboxMessage(kind="webhook", payload=p, effect_id=f"eff-{n}")
            for n, p in enumerate(payloads)
        ]
        db.add_all(rows)
        db.flush()
        return [r.id for r in rows]

    return in_transaction(database, add)


def _get(database, message_id: int) -> OutboxMessage:
    with database.session() as db:
        return db.get(OutboxMessage, message_id)


@pytest.mark.parametrize(
    ("broken", "shown"),
    [
        (lambda url: url.replace("/hook", "/a b"), "a b"),  # http.client: InvalidURL
        (lambda url: "http://127.0.0.1:99999/hook", "99999"),  # socket: OverflowError
    ],
)
def test_a_malformed_url_is_dead_lettered_and_the_rest_of_the_batch_is_sent(
    app, database, broken, shown
):
    with Receiver() as receiver:
        bad = broken(receiver.url)
        bad_id, good_id = _queue(database, [{"url": bad}, {"url": receiver.url}])
        with app.app_context():
            swept = tasks.sweep_now()
    assert swept["messages"] == 2 and swept["sent"] == 1
    dead = _get(database, bad_id)
    assert (dead.status, dead.attempts) == ("dead", 1)
    assert shown in dead.last_error and "URL" in dead.last_error
    assert _get(database, good_id).status == "sent" and len(receiver.requests) == 1


def test_any_exception_in_a_delivery_is_a_recorded_failure_until_dead(app, database):
    with Receiver() as receiver:
        # Headers stored as text, not an object: the deliverer fails with a plain TypeError
        # or AttributeError, not a DeliveryError.
        (message_id,) = _queue(database, [{"url": receiver.url, "headers": "X-A: 1"}])
        moment, results = utcnow(), []
        for _ in range(outbox.MAX_ATTEMPTS):
            results.append(outbox.deliver(database, message_id, now=moment))
            message = _get(database, message_id)
            assert message.status != "sending" and message.last_error
            moment = message.next_attempt_at
    assert results == ["retry"] * (outbox.MAX_ATTEMPTS - 1) + ["dead"]
    assert message.attempts == outbox.MAX_ATTEMPTS and "Error" in message.last_error
    assert receiver.requests == []


def test_stored_headers_never_replace_the_ones_the_outbox_sets(app, database):
    forged = {
        "X-OrderFlow-Signature": "t=1,v1=forged",
        "idempotency-key": "mine",
        "Content-Type": "text/plain",
        "X-OrderFlow-Event": "other",
        "Host": "elsewhere.example",
        "X-Tenant": "acme",
    }
    with Receiver() as receiver:
        (message_id,) = _queue(database, [{"url": receiver.url, "headers": forged}])
        assert outbox.deliver(database, message_id) == "sent"
    headers = receiver.requests[0]["headers"]
    assert headers["idempotency-key"] == "eff-0"
    assert headers["x-orderflow-signature"].startswith("t=") and "forged" not in str(headers)
    assert headers["content-type"].startswith("application/json")
    assert headers["host"].startswith("127.0.0.1") and "x-orderflow-event" not in headers
    assert headers["x-tenant"] == "acme"


def test_a_stored_header_http_refuses_is_a_permanent_failure(app, database):
    with Receiver() as receiver:
        payload = {"url": receiver.url, "headers": {"X-Note": "one\r\nX-Injected: 1"}}
        (message_id,) = _queue(database, [payload])
        assert outbox.deliver(database, message_id) == "dead"
    dead = _get(database, message_id)
    assert "cannot send" in dead.last_error and dead.attempts == 1
    assert receiver.requests == []
