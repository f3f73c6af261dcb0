"""Acting nodes: set, tag, webhook, notify, alert, merge."""

from __future__ import annotations

from datetime import timedelta

from flow_engine import (
    COMPLETED,
    INCIDENT,
    WAITING,
    EffectResult,
    Retry,
    TimerFired,
    step,
)
from tests.flow_engine.helpers import NOW, chain, effects, node, run, sample_order


def test_set_writes_order_customer_and_vars_without_touching_the_input():
    doc = chain(
        node(
            "s",
            "set",
            fields=[
                {"path": "order.status", "expression": '"allocated"'},
                {
                    "path": "customer.outstanding",
                    "expression": "customer.outstanding + order.amount",
                },
                {"path": "vars.total_qty", "expression": "sum(l.qty for l in order.lines)"},
                {"path": "vars.double", "expression": "vars.total_qty * 2"},
            ],
        )
    )
    original = sample_order()
    _, result = run(doc, original)
    snap = result.snapshot
    assert snap.order["status"] == "allocated"
    assert snap.order["customer"]["outstanding"] == 3200
    assert snap.vars == {"total_qty": 3, "double": 6}
    assert original["status"] == "paid" and original["customer"]["outstanding"] == 2000
    assert snap.order["lines"] is original["lines"], "unchanged parts are shared, not copied"
    (audit,) = [a for a in result.audit if a.node_id == "s"]
    assert audit.data["changes"] == {
        "order.status": "allocated",
        "order.customer.outstanding": 3200,
        "vars.total_qty": 3,
        "vars.double": 6,
    }


def test_tag_adds_literal_and_computed_tags_once():
    doc = chain(
        node("t1", "tag", tags=["vip", "gift"]),
        node("t2", "tag", tags=["vip"], expression="order.channel"),
    )
    _, result = run(doc, sample_order(tags=["gift"]))
    assert result.snapshot.order["tags"] == ["gift", "vip", "taobao"]


def test_webhook_fire_and_forget_emits_an_outbox_effect():
    doc = chain(
        node(
            "hook",
            "webhook",
            url="https://erp.example.com/orders",
            body={"id": "order.external_id", "amount": "order.amount * 100"},
            headers={"X-Source": "orderflow"},
        )
    )
    _, result = run(doc)
    (hook,) = effects(result, "webhook")
    assert hook.payload["body"] == {"id": "TB1001", "amount": 120000}
    assert hook.payload["method"] == "POST" and not hook.awaited
    assert hook.id.startswith("R1:")
    assert result.snapshot.status == COMPLETED


def test_awaited_webhook_waits_for_the_result_and_stores_the_response():
    doc = chain(
        node("hook", "webhook", url="https://erp.example.com", await_response=True, store_as="erp")
    )
    flow, started = run(doc)
    assert started.snapshot.status == WAITING
    (hook,) = effects(started, "webhook")
    assert hook.awaited
    done = step(flow, started.snapshot, EffectResult(hook.id, "ok", {"erp_no": "SO-9"}), now=NOW)
    assert done.snapshot.status == COMPLETED
    assert done.snapshot.vars["erp"] == {"erp_no": "SO-9"}


def test_webhook_that_keeps_failing_becomes_an_incident_and_retry_calls_it_again():
    doc = chain(node("hook", "webhook", url="https://erp.example.com", await_response=True))
    flow, started = run(doc)
    (hook,) = effects(started, "webhook")
    failed = step(flow, started.snapshot, EffectResult(hook.id, "failed", {"http": 503}), now=NOW)
    snap = failed.snapshot
    assert snap.status == INCIDENT
    assert snap.incident.node_id == "hook" and snap.incident.code == "webhook_failed"
    retried = step(flow, snap, Retry(actor="ops"), now=NOW + timedelta(minutes=5))
    (again,) = effects(retried, "webhook")
    assert again.id != hook.id
    assert retried.snapshot.status == WAITING


def test_notify_resolves_roles_users_and_expressions():
    doc = chain(
        node(
            "n",
            "notify",
            to=[{"role": "ops"}, {"user": "u-li"}, {"expression": "customer.account_manager"}],
            channels=["wecom", "email"],
            message={"en": "Order {id} is late", "zh": "订单 {id} 已延误"},
            params={"id": "order.external_id"},
        )
    )
    _, result = run(doc)
    (note,) = effects(result, "notify")
    assert note.payload["recipients"] == [{"role": "ops"}, {"user": "u-li"}, {"user": "u-zhang"}]
    assert note.payload["channels"] == ["wecom", "email"]
    assert note.payload["params"] == {"id": "TB1001"}


def test_notify_with_nobody_to_tell_is_an_incident():
    doc = chain(
        node("n", "notify", to=[{"expression": "customer.account_manager"}], message={"en": "x"})
    )
    order = sample_order()
    order["customer"]["account_manager"] = None
    _, result = run(doc, order)
    assert result.snapshot.status == INCIDENT
    assert result.snapshot.incident.code == "no_assignee"


def test_alert_carries_severity_code_and_params():
    doc = chain(
        node(
            "a",
            "alert",
            severity="critical",
            code="stock.low",
            message={"en": "Low stock", "zh": "库存不足"},
            params={"sku": "order.lines[0].sku"},
        )
    )
    _, result = run(doc)
    (alert,) = effects(result, "alert")
    assert alert.payload["severity"] == "critical"
    assert alert.payload["params"] == {"sku": "SKU-A"}


def test_merge_holds_the_order_for_the_window_then_continues():
    doc = chain(node("m", "merge", window="30m"))
    flow, held = run(doc)
    (hint,) = effects(held, "merge")
    assert hint.payload["group_key"] == "C-1|CN|浙江|杭州||"
    (timer,) = effects(held, "schedule_timer")
    assert timer.payload["due"] == (NOW + timedelta(minutes=30)).isoformat()
    assert held.snapshot.status == WAITING
    done = step(flow, held.snapshot, TimerFired(timer.payload["timer_id"]), now=NOW)
    assert done.snapshot.status == COMPLETED
    assert done.snapshot.vars["merge"]["group_key"] == hint.payload["group_key"]


def test_merge_with_custom_key_and_zero_window_does_not_wait():
    doc = chain(node("m", "merge", window="0m", key='customer.id + "-" + order.channel'))
    _, result = run(doc)
    assert result.snapshot.status == COMPLETED
    assert effects(result, "merge")[0].payload["group_key"] == "C-1-taobao"
