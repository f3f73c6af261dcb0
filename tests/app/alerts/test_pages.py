"""The alert inbox and rule pages: what viewers see, what supervisors can do."""

from __future__ import annotations

from sqlalchemy import select

from app.models import Alert, AlertRule, utcnow

from ..conftest import csrf_token
from ..dashboard.scenario import H

FORM = {
    "key": "manual.share", "name_zh": "人工干预率过高", "name_en": "Manual share", "kind": "aggregate",
    "severity": "warning", "d_dataset": "orders", "d_measure": "rate", "d_numerator": "order.manual",
    "d_group_by": "channel", "d_window": "1d", "d_op": ">", "d_threshold": "30", "d_min_rows": "1",
    "recipients": "role:supervisor\nuser:wangmin", "channels": ["inbox", "email"], "cooldown_minutes": "30",
    "every_seconds": "60", "auto_resolve": "on", "enabled": "on",
}  # fmt: skip


def test_supervisor_creates_previews_and_evaluates_a_rule(
    client, database, scenario, make_user, login
):
    make_user("sv", roles=("supervisor",))
    login("sv")
    token = csrf_token(client, "/alerts/rules/new")
    bad = client.post(
        "/alerts/rules/new", data={**FORM, "d_numerator": "order.manul", "csrf_token": token}
    )
    assert bad.status_code == 422 and "order.manual" in bad.get_data(as_text=True)  # did you mean
    preview = client.post(
        "/alerts/rules/preview", data={**FORM, "d_window": "31d", "csrf_token": token}
    )
    assert "tmall" in preview.get_data(as_text=True)
    assert client.post("/alerts/rules/new", data={**FORM, "csrf_token": token}).status_code == 302
    with database.session() as db:
        rule = db.scalars(select(AlertRule).where(AlertRule.key == "manual.share")).one()
        assert rule.recipients == [{"role": "supervisor"}, {"user": "wangmin"}]
        assert rule.cooldown_seconds == 1800 and rule.definition["threshold"] == 30
    page = client.get("/alerts/rules/manual.share").get_data(as_text=True)
    assert "order.manual" in page and "manual.share" in page
    client.post("/alerts/rules/manual.share/evaluate", data={"csrf_token": token})
    # Evaluated now: the scenario's orders are older than a day, so nothing is open.
    with database.session() as db:
        assert db.scalars(select(Alert)).first() is None


def test_inbox_detail_and_acknowledge(
    client, database, scenario, make_rule, evaluate, make_user, login
):
    key = make_rule(
        "stuck", {"subject": "order_status", "states": ["created"], "longer_than": "1d"}
    )
    evaluate(key, utcnow())
    make_user("viewer1", roles=("viewer",))
    login("viewer1")
    inbox = client.get("/alerts/").get_data(as_text=True)
    with database.session() as db:
        alert = db.scalars(select(Alert)).one()
    assert f"/alerts/{alert.id}" in inbox and 'data-testid="tab-open"' in inbox
    detail = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert ">D<" in detail and ">E<" in detail and ">A<" not in detail
    token = csrf_token(client, f"/alerts/{alert.id}")
    assert (
        client.post(f"/alerts/{alert.id}/acknowledge", data={"csrf_token": token}).status_code
        == 403
    )
    make_user("sv", roles=("supervisor",))
    client.post("/logout", data={"csrf_token": token})
    login("sv")
    token = csrf_token(client, f"/alerts/{alert.id}")
    assert (
        client.post(f"/alerts/{alert.id}/acknowledge", data={"csrf_token": token}).status_code
        == 302
    )
    with database.session() as db:
        assert db.get(Alert, alert.id).status == "acknowledged"
    assert "tab-acknowledged" in client.get("/alerts/?status=acknowledged").get_data(as_text=True)
    rows = client.get("/alerts/?status=all&q=nothing-like-this", headers={"HX-Request": "true"})
    assert "<html" not in rows.get_data(as_text=True)
    client.post(
        "/alerts/bulk", data={"csrf_token": token, "action": "resolve", "alert": [str(alert.id)]}
    )
    with database.session() as db:
        assert db.get(Alert, alert.id).status == "resolved"


def test_header_counts_open_alerts(
    client, database, scenario, make_rule, evaluate, make_user, login
):
    key = make_rule(
        "stuck", {"subject": "order_status", "states": ["created"], "longer_than": "1d"}
    )
    evaluate(key, scenario.at(40 * H))
    make_user("boss", roles=("admin",))
    login("boss")
    assert 'data-testid="open-alerts">1<' in client.get("/").get_data(as_text=True)
