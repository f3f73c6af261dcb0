"""Acting nodes: set, tag, webhook, notify, alert, merge."""

from __future__ import annotations

from datetime import timedelta

from flow_engine import (
    COMPLETED,
    INCIDENT,
    WAITING,
    CancelRun,
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
    assert result.snapshot.incident.code == "no_recipient"


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


def _grouped(hint, closes_at, *, opened=True, orders=("TB1001",)):
    data = {"group_key": hint.payload["group_key"], "shipment": "SH-7",
            "closes_at": closes_at.isoformat(), "orders": list(orders), "opened": opened}  # fmt: skip
    return EffectResult(hint.id, "grouped", data)


def test_merge_opens_a_group_then_continues_when_its_window_closes():
    doc = chain(node("m", "merge", window="30m"))
    flow, held = run(doc)
    (hint,) = effects(held, "merge")
    assert hint.awaited and hint.payload["group_key"] == "C-1|CN|浙江|杭州||"
    assert hint.payload["until"] == (NOW + timedelta(minutes=30)).isoformat()
    assert held.snapshot.status == WAITING and not effects(held, "schedule_timer")
    grouped = step(flow, held.snapshot, _grouped(hint, NOW + timedelta(minutes=30)), now=NOW)
    (timer,) = effects(grouped, "schedule_timer")
    assert timer.payload["due"] == (NOW + timedelta(minutes=30)).isoformat()
    assert grouped.snapshot.vars["merge"]["shipment"] == "SH-7"
    later = NOW + timedelta(minutes=30)
    done = step(flow, grouped.snapshot, TimerFired(timer.payload["timer_id"]), now=later)
    assert done.snapshot.status == COMPLETED
    assert [e.payload for e in effects(done, "merge_closed")] == [{"shipment": "SH-7"}]


def test_merge_joining_an_open_group_waits_for_the_groups_closing_time_not_its_own():
    doc = chain(node("m", "merge", window="30m"))
    flow, held = run(doc)
    (hint,) = effects(held, "merge")
    closes = NOW + timedelta(minutes=12)  # the group was opened 18 minutes earlier
    answer = _grouped(hint, closes, opened=False, orders=("TB1000", "TB1001"))
    grouped = step(flow, held.snapshot, answer, now=NOW)
    (timer,) = effects(grouped, "schedule_timer")
    assert timer.payload["due"] == closes.isoformat()
    assert grouped.snapshot.vars["merge"]["orders"] == ["TB1000", "TB1001"]
    assert grouped.snapshot.vars["merge"]["opened"] is False


def test_merge_in_a_group_already_closed_continues_at_once():
    doc = chain(node("m", "merge", window="0m", key='customer.id + "-" + order.channel'))
    flow, held = run(doc)
    (hint,) = effects(held, "merge")
    assert hint.payload["group_key"] == "C-1-taobao"
    done = step(flow, held.snapshot, _grouped(hint, NOW), now=NOW)
    assert done.snapshot.status == COMPLETED
    assert effects(done, "merge_closed") and not effects(done, "schedule_timer")


def test_merge_answer_that_is_not_a_group_is_an_incident():
    flow, held = run(chain(node("m", "merge", window="30m")))
    (hint,) = effects(held, "merge")
    failed = step(flow, held.snapshot, EffectResult(hint.id, "failed", {}), now=NOW)
    assert failed.snapshot.status == INCIDENT
    assert failed.snapshot.incident.code == "merge_failed"


def test_a_cancelled_order_leaves_its_merge_group():
    flow, held = run(chain(node("m", "merge", window="30m")))
    (hint,) = effects(held, "merge")
    grouped = step(flow, held.snapshot, _grouped(hint, NOW + timedelta(minutes=30)), now=NOW)
    cancelled = step(flow, grouped.snapshot, CancelRun(actor="ops", reason="customer"), now=NOW)
    (left,) = effects(cancelled, "merge_left")
    assert left.payload == {"shipment": "SH-7", "order_id": "TB1001"}
    assert effects(cancelled, "cancel_timer")


def test_the_consignee_is_the_shipping_address_when_the_order_has_no_consignee_entry():
    """A notify to the order's consignee reaches the phone of the shipping address."""
    from flow_engine import compile_flow, start_run

    doc = {
        "format_version": 1, "key": "tell", "name": {"en": "Tell", "zh": "通知"},
        "trigger": {"event": "order.created"},
        "nodes": [
            {"id": "s", "type": "start"},
            {"id": "n", "type": "notify", "config": {
                "to": [{"contact": "consignee"}], "channels": ["sms"],
                "message": {"en": "Shipped", "zh": "已发货"}}},
            {"id": "e", "type": "end", "config": {"outcome": "told"}},
        ],
        "edges": [{"id": "a", "from": "s", "to": "n"}, {"id": "b", "from": "n", "to": "e"}],
    }  # fmt: skip
    order = {"external_id": "X1", "channel": "shopify", "amount": 1, "currency": "CNY",
             "shipping_address": {"name": "王芳", "phone": "13900001111"}}  # fmt: skip
    result = start_run(compile_flow(doc), order, run_id="r1", now=NOW, ref={"org": {}})
    (notify,) = [e for e in result.effects if e.kind == "notify"]
    assert notify.payload["recipients"][0]["phone"] == "13900001111"
    bare = start_run(compile_flow(doc), {**order, "shipping_address": {}}, run_id="r2", now=NOW)
    assert bare.snapshot.incident.code == "no_recipient"
