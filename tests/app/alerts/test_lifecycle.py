"""Dedup, notices, cooldown, auto-resolve and acknowledgement, with an injected clock."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.alerts import services
from app.db import in_transaction
from app.models import Alert, AlertRule, OutboxMessage, utcnow

from ..dashboard.scenario import H, M

RATE = {"dataset": "orders", "measure": "rate", "numerator": "order.manual", "group_by": "channel",
        "window": "1d", "op": ">", "threshold": 30, "min_rows": 1}  # fmt: skip


def _alerts(database):
    with database.session() as db:
        return list(db.scalars(select(Alert).order_by(Alert.id)))


def _notices(database):
    """Notices about alerts (approval tasks of the scenario have notices of their own)."""
    with database.session() as db:
        query = select(OutboxMessage).where(
            OutboxMessage.kind == "notify", OutboxMessage.effect_id.like("alert:%")
        )
        return list(db.scalars(query.order_by(OutboxMessage.id)))


@pytest.fixture
def rule(make_rule):
    return make_rule("aggregate", RATE, cooldown_seconds=3600, severity="critical",
                     recipients=[{"role": "supervisor"}, {"user": "wangmin"}], channels=["inbox", "wecom"])  # fmt: skip


def test_one_open_alert_per_rule_and_key_and_one_notice(database, scenario, rule, evaluate):
    breach = scenario.at(2 * H)
    evaluate(rule, breach)
    evaluate(rule, breach + 5 * M)
    (alert,) = _alerts(database)
    assert (
        alert.status == "open" and alert.occurrences == 1 and alert.last_seen_at == breach + 5 * M
    )
    (notice,) = _notices(database)
    assert notice.status == "pending" and notice.effect_id == f"alert:{alert.id}:1"
    payload = notice.payload
    assert payload["recipients"] == [{"role": "supervisor"}, {"user": "wangmin"}]
    assert payload["channels"] == ["inbox", "wecom"] and payload["alert_id"] == alert.id
    assert (
        payload["message"]["zh"].startswith("【严重】")
        and f"/alerts/{alert.id}" in payload["message"]["en"]
    )


def test_cooldown_reopens_quietly_then_a_new_alert_is_told(database, scenario, rule, evaluate):
    evaluate(rule, scenario.at(2 * H))
    (alert,) = _alerts(database)
    # Clears when the orders leave the window; comes back (a replayed day) 20 minutes later.
    evaluate(rule, scenario.at(30 * H))
    assert _alerts(database)[0].status == "resolved"
    evaluate(rule, scenario.at(2 * H + 20 * M))
    (again,) = _alerts(database)
    assert again.id == alert.id and again.status == "open" and again.occurrences == 2
    assert len(_notices(database)) == 1  # inside the hour of cooldown: no second notice
    evaluate(rule, scenario.at(30 * H))
    with database.session() as db:  # resolved long enough ago: past the cooldown
        db.get(Alert, alert.id).resolved_at = scenario.at(2 * H + 20 * M) - 2 * H
        db.get(Alert, alert.id).notified_at = scenario.at(2 * H + 20 * M) - 2 * H
        db.commit()
    evaluate(rule, scenario.at(2 * H + 30 * M))
    alerts = _alerts(database)
    assert [a.status for a in alerts] == ["resolved", "open"] and len(_notices(database)) == 2


def test_without_auto_resolve_an_alert_stays_open(database, scenario, make_rule, evaluate):
    key = make_rule("aggregate", RATE, auto_resolve=False)
    evaluate(key, scenario.at(2 * H))
    assert evaluate(key, scenario.at(30 * H)).resolved == []
    assert _alerts(database)[0].status == "open"


def test_acknowledged_alerts_stay_quiet_and_still_resolve(
    database, scenario, rule, evaluate, make_user
):
    evaluate(rule, scenario.at(2 * H))
    user = make_user("wangmin", roles=("supervisor",))

    def ack(db):
        return services.acknowledge(
            db, user, services.get_alert(db, _alerts(database)[0].id), now=scenario.at(3 * H)
        )

    in_transaction(database, ack)
    evaluate(rule, scenario.at(3 * H + M))
    (alert,) = _alerts(database)
    assert (alert.status, alert.acknowledged_by) == ("acknowledged", "wangmin")
    assert len(_notices(database)) == 1
    evaluate(rule, scenario.at(30 * H))
    assert _alerts(database)[0].status == "resolved"
    with pytest.raises(Exception, match="already resolved"):
        in_transaction(
            database, lambda db: services.resolve(db, user, services.get_alert(db, alert.id))
        )


def test_evaluate_due_respects_the_interval_and_records_errors(database, scenario, rule):
    now = utcnow()
    first = services.evaluate_due(database, now=now)
    assert [r.key for r in first] == [rule] and first[0].error is None
    assert services.evaluate_due(database, now=now + M / 2) == []  # every 60 s: not due yet
    assert [r.key for r in services.evaluate_due(database, now=now + 2 * M)] == [rule]
    with database.session() as db:
        broken = db.scalars(select(AlertRule).where(AlertRule.key == rule)).one()
        broken.definition = {**broken.definition, "numerator": "order.nope"}
        db.commit()
    result = services.evaluate_due(database, now=now + 3 * M, force=True)
    assert result[0].error is not None
    with database.session() as db:
        assert db.scalars(select(AlertRule.last_error).where(AlertRule.key == rule)).one()


def test_the_notice_reaches_the_recipients_in_app(database, scenario, rule, evaluate, make_user):
    from app.models import Notification
    from app.runs import outbox

    make_user("wangmin", roles=("supervisor",))
    make_user("zhao", roles=("supervisor",))
    evaluate(rule, scenario.at(2 * H))
    (notice,) = _notices(database)
    assert outbox.deliver(database, notice.id) == "sent"
    with database.session() as db:
        got = {n.user_id: n for n in db.scalars(select(Notification))}
        assert len(got) == 2  # the supervisors, wangmin named twice counts once
        body = next(iter(got.values())).body
    assert "tmall" in body and "/alerts/" in body
