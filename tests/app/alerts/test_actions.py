"""Alerts that act: a webhook called once per opening, the ``alert.opened`` event for flows,
and ``orderflow alerts evaluate --now``."""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from app.alerts import actions
from app.cli import cli
from app.db import in_transaction
from app.errors import ValidationError
from app.metrics.refresh import refresh
from app.models import Alert, AlertRule, Flow, FlowVersion, OutboxMessage, Run
from app.orders.services import ingest
from app.runs import outbox
from app.signing import sign
from flow_engine import validate_flow

from ..api.conftest import Api, make_key  # noqa: F401  (fixture)
from ..conftest import csrf_token
from ..flows_fixtures import flow_doc, order_doc, publish
from ..webhook_server import Receiver
from .test_kinds import _reserve_flow
from .test_pages import FORM

SHANGHAI = ZoneInfo("Asia/Shanghai")
DAY1 = datetime(2026, 11, 10, 12, 0, tzinfo=SHANGHAI)
STREAK = {"dataset": "stockouts", "measure": "count", "group_by": "sku", "op": ">=", "threshold": 1,
          "period": "day", "periods": 3}  # fmt: skip


@pytest.fixture
def stockouts(database):
    """DRILL-8 runs out on three days in a row (Nov 10, 11, 12, Shanghai time)."""
    in_transaction(database, lambda db: publish(db, _reserve_flow()))
    for n in range(3):
        doc = order_doc(f"S{n}", lines=[{"sku": "DRILL-8", "qty": 2, "price": 10}])
        moment = DAY1 + timedelta(days=n)
        in_transaction(database, lambda db, d=doc, t=moment: ingest(db, d, now=t))
    refresh(database)


def _hooks(database):
    with database.session() as db:
        query = select(OutboxMessage).where(OutboxMessage.kind == "webhook")
        return list(db.scalars(query.order_by(OutboxMessage.id)))


def _deliver_pending(database):
    for message in _hooks(database):
        if message.status == "pending":
            assert outbox.deliver(database, message.id, now=message.next_attempt_at) == "sent"


def test_a_webhook_is_called_once_per_opening(app, database, stockouts, make_rule, evaluate):
    with Receiver() as receiver:
        key = make_rule("streak", STREAK, actions={"webhook": {"url": receiver.url}})
        opened = DAY1 + timedelta(days=2, hours=2)
        for minutes in (0, 5, 10):  # the alert stays open across three evaluations
            evaluate(key, opened + timedelta(minutes=minutes))
            _deliver_pending(database)
        (alert,) = _alerts(database)
        (call,) = receiver.requests
        headers, body = call["headers"], call["body"]
        assert headers["idempotency-key"] == f"alert:{alert.id}:1:webhook"
        stamp = headers["x-orderflow-signature"].split(",")[0].removeprefix("t=")
        assert headers["x-orderflow-signature"] == sign(
            app.config["WEBHOOK_SECRET"], int(stamp), body
        )
        sent = json.loads(body)
        assert sent["type"] == "alert.opened" and sent["id"] == f"alert:{alert.id}:1"
        data = sent["alert"]
        assert data["rule"]["key"] == key and data["rule"]["name"] == {
            "zh": "规则1",
            "en": "Rule 1",
        }
        assert data["level"] == "warning" and data["opening"] == 1
        assert data["opened_at"] == "2026-11-12T14:00:00+08:00"
        assert data["metric"] == {"value": 3, "op": ">=", "threshold": 1,
                                  "details": {"periods": 3, "period": "day"}}  # fmt: skip
        assert data["skus"] == ["DRILL-8"] and data["group_by"] == "sku"
        assert [o["external_id"] for o in data["orders"]] == ["S0", "S1", "S2"]
        # A day without a stock-out closes it; the streak seen again opens it again.
        assert evaluate(key, DAY1 + timedelta(days=4, hours=2)).resolved == [alert.id]
        assert evaluate(key, opened + timedelta(minutes=20)).reopened == [alert.id]
        evaluate(key, opened + timedelta(minutes=25))
        _deliver_pending(database)
        assert len(receiver.requests) == 2
        again = receiver.requests[1]
        assert again["headers"]["idempotency-key"] == f"alert:{alert.id}:2:webhook"
        assert json.loads(again["body"])["alert"]["opening"] == 2
    assert [m.status for m in _hooks(database)] == ["sent", "sent"]


def _alerts(database):
    with database.session() as db:
        return list(db.scalars(select(Alert).order_by(Alert.id)))


@pytest.mark.parametrize(
    ("url", "code", "english"),
    [
        ("ftp://erp.example.com/hook", "invalid", "does not start with http:// or https://"),
        ("https://erp.exa mple.com/hook", "invalid", "contains a space"),
        ("https://buy.example.net/hook", "not_allowed", "buy.example.net is not on the outbound"),
    ],
)
def test_a_webhook_address_is_checked_at_save(database, make_rule, url, code, english):
    with pytest.raises(ValidationError) as caught:
        make_rule("streak", STREAK, actions={"webhook": {"url": url}})
    fields = caught.value.fields
    assert list(fields) == ["actions.webhook.url"]
    message = str(fields["actions.webhook.url"])
    assert english in message and "actions.webhook.url" in message and "example.com" in message
    with database.session() as db:
        assert db.scalars(select(AlertRule)).first() is None


def test_the_rule_form_shows_the_refusal_in_chinese(client, database, make_user, login):
    make_user("sv", roles=("supervisor",))
    login("sv")
    zh = {"Accept-Language": "zh-CN"}
    page = client.get("/alerts/rules/new", headers=zh).get_data(as_text=True)
    assert 'name="webhook_url"' in page and "alert.opened" in page
    form = {**FORM, "csrf_token": csrf_token(client, "/alerts/rules/new"),
            "webhook_url": "https://buy.example.net/hook", "start_flows": "on"}  # fmt: skip
    answer = client.post("/alerts/rules/new", data=form, headers=zh)
    text = answer.get_data(as_text=True)
    assert answer.status_code == 422 and "不在出站白名单" in text and "buy.example.net" in text
    with database.session() as db:
        assert db.scalars(select(AlertRule)).first() is None
    form["webhook_url"] = "http://127.0.0.1:9/hook"
    assert client.post("/alerts/rules/new", data=form).status_code == 302
    with database.session() as db:
        saved = db.scalars(select(AlertRule)).one()
        assert saved.actions == {"webhook": {"url": "http://127.0.0.1:9/hook"}, "start_flows": True}


def test_alert_opened_event_once_per_opening(database, stockouts, make_rule, evaluate, caplog):
    key = make_rule("streak", STREAK, actions={"start_flows": True})
    opened = DAY1 + timedelta(days=2, hours=2)
    with caplog.at_level(logging.INFO, logger="app.alerts.actions"):
        evaluate(key, opened)
        evaluate(key, opened + timedelta(minutes=5))
    (alert,) = _alerts(database)
    emitted = [r for r in caplog.records if "starting flows on alert.opened" in r.getMessage()]
    assert len(emitted) == 1 and f"alert:{alert.id}:1" in emitted[0].getMessage()
    with database.session() as db:
        event = actions.alert_opened_event(db, db.get(Alert, alert.id))
    assert set(event) == {"type", "id", "alert", "order_id"}
    assert event["type"] == "alert.opened" and event["id"] == f"alert:{alert.id}:1"
    assert event["order_id"] is None  # a streak is about a SKU, not one order
    assert event["alert"]["rule"]["key"] == key and event["alert"]["key"] == "DRILL-8"
    assert event["alert"]["opened_at"].endswith("+08:00")


def test_flows_accept_alert_opened_as_their_trigger():
    doc = flow_doc("on-alert", [{"id": "start", "type": "start"},
                                {"id": "done", "type": "end", "config": {"outcome": "seen"}}],
                   [("start", "done")])  # fmt: skip
    doc["trigger"] = {"event": "alert.opened"}
    assert [i for i in validate_flow(doc) if i.severity == "error"] == []


def test_evaluate_now_opens_what_holds_at_that_time(
    app, app_config, database, stockouts, make_rule
):
    key = make_rule("streak", STREAK)
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": "test"}  # fmt: skip
    runner = CliRunner()
    today = runner.invoke(cli, ["alerts", "evaluate", "--rule", key], env=env)
    assert today.exit_code == 0 and f"{key}: 0 opened" in today.output
    then = runner.invoke(
        cli, ["alerts", "evaluate", "--rule", key, "--now", "2026-11-12T14:00:00+08:00"], env=env
    )
    assert then.exit_code == 0 and f"{key}: 1 opened" in then.output, then.output
    (alert,) = _alerts(database)
    assert alert.created_at == datetime(2026, 11, 12, 6, 0, tzinfo=ZoneInfo("UTC"))
    everything = runner.invoke(
        cli, ["alerts", "evaluate", "--now", "2026-11-12T15:00:00+08:00"], env=env
    )
    assert everything.exit_code == 0 and f"{key}: 0 opened, 1 still open" in everything.output
    for bad in ("2026-12-01 09:00", "tomorrow"):
        refused = runner.invoke(cli, ["alerts", "evaluate", "--now", bad], env=env)
        assert refused.exit_code == 2
        assert "ISO 8601 time with an offset" in refused.output
        assert "2026-12-01T09:00:00+08:00" in refused.output


def test_the_api_shows_a_rules_actions(client, make_key, make_rule):  # noqa: F811
    key = make_rule("streak", STREAK, actions={"webhook": {"url": "http://127.0.0.1:9/h"}})
    api = Api(client, make_key(("alerts:read",)))
    body = api.get(f"/alert-rules/{key}").json
    assert body["actions"] == {"webhook": {"url": "http://127.0.0.1:9/h"}, "start_flows": False}
    spec = client.get("/api/v1/openapi.json").json
    rule = spec["components"]["schemas"]["AlertRule"]["properties"]
    assert set(rule["actions"]["properties"]) == {"webhook", "start_flows"}


def test_a_refused_call_is_retried_with_the_same_key(database, stockouts, make_rule, evaluate):
    with Receiver(statuses=[503]) as receiver:
        key = make_rule("streak", STREAK, actions={"webhook": {"url": receiver.url}})
        evaluate(key, DAY1 + timedelta(days=2, hours=2))
        (message,) = _hooks(database)
        assert outbox.deliver(database, message.id, now=message.next_attempt_at) == "retry"
        (message,) = _hooks(database)
        assert outbox.deliver(database, message.id, now=message.next_attempt_at) == "sent"
    first, second = receiver.requests
    assert first["headers"]["idempotency-key"] == second["headers"]["idempotency-key"]
    assert first["body"] == second["body"]


def test_an_alert_about_one_order_starts_its_alert_opened_flows_once(database, make_rule, evaluate):
    flow = flow_doc("on-alert", [{"id": "start", "type": "start"},
                                 {"id": "done", "type": "end", "config": {"outcome": "seen"}}],
                    [("start", "done")])  # fmt: skip
    flow["trigger"] = {"event": "alert.opened"}
    in_transaction(database, lambda db: publish(db, flow))
    doc = order_doc("BIG", "9000")
    order = in_transaction(database, lambda db: ingest(db, doc, now=DAY1))[0]
    refresh(database, now=DAY1)
    key = make_rule("order", {"condition": "order.amount > 5000"}, actions={"start_flows": True})
    evaluate(key, DAY1 + timedelta(minutes=5))
    evaluate(key, DAY1 + timedelta(minutes=10))  # still open: no second start
    with database.session() as db:
        started = db.scalars(
            select(Run.outcome)
            .join(FlowVersion, FlowVersion.id == Run.flow_version_id)
            .join(Flow, Flow.id == FlowVersion.flow_id)
            .where(Run.order_id == order.id, Flow.key == "on-alert")
        ).all()
    assert started == ["seen"]
