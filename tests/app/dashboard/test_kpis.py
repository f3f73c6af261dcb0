"""Every dashboard panel on the fixed scenario, against figures worked out by hand (see
``scenario.py`` for the orders, approvals and status reports)."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, update

from app.clock import zone
from app.dashboard import compare, kpis, panels, ranges
from app.metrics.hooks import flush_lookups
from app.metrics.refresh import refresh
from app.models import FlowVersion, LookupHourly, utcnow

from .scenario import H, report


def _range(**args: str) -> ranges.Range:
    return ranges.parse(args, utcnow(), zone())


def _panels(database, **args: str) -> dict:
    with database.session() as db:
        r = _range(**args)
        return {key: spec.compute(db, r) for key, spec in panels.PANELS.items()}


def test_seven_days_of_the_scenario(database, scenario):
    p = _panels(database, range="7d")
    # 5 orders in 168 hours; 2 taobao, 2 tmall, 1 douyin.
    assert p["orders"].total == {"orders": 5, "per_hour": 0.03,
                                 "by_channel": {"douyin": 1, "taobao": 2, "tmall": 2}}  # fmt: skip
    assert sum(row["orders"] for row in p["orders"].series) == 5
    # Handling 5 each (25) + approval hours x 10: C waited 2 h (20), D 30 min (5) = 50 / 5.
    assert p["unit_cost"].total == {"unit_cost": 10.0, "orders": 5, "cost": 50.0}
    # C and D needed an approver: 2 of 5.
    assert p["manual_rate"].total == {"rate": 40.0, "count": 2, "base": 5}
    # Delivered with a promise: A on time, B two hours late, C on time.
    assert p["on_time"].total == {"rate": 66.67, "count": 2, "base": 3}
    # Lags 5 10 15 20 30 40 60 300 600: median 30; p95 at rank 7.6 -> 300 + 0.6 x 300.
    lag = p["status_lag"]
    assert not lag.estimated
    assert lag.total == {"count": 9, "p50": 30.0, "p95": 480.0}
    # Decisions after 2 h and 30 min: median 4500 s; p90 1800 + 0.9 x 5400.
    assert p["approval_turnaround"].total == {"count": 2, "p50": 4500.0, "p90": 6660.0}
    assert p["alerts_open"].total["open"] == 0
    assert p["self_service"].total == {"rate": None, "count": 0, "base": 0}


def test_last_day_only_counts_what_happened_in_it(database, scenario):
    p = _panels(database, range="24h")
    assert p["orders"].total["orders"] == 0  # placed 30 hours ago
    assert p["on_time"].total == {"rate": 66.67, "count": 2, "base": 3}  # delivered at 12-28 h
    # Received in the last 24 hours (from T0+7h): lags 40, 5, 15, 600 -> median (15+40)/2.
    assert p["status_lag"].total == {"count": 4, "p50": 27.5, "p95": 516.0}
    assert len(p["orders"].series) == 24


def test_channel_filter(database, scenario):
    p = _panels(database, range="7d", channel="taobao")
    assert p["orders"].total["orders"] == 2
    assert p["manual_rate"].total == {"rate": 0.0, "count": 0, "base": 2}
    assert p["on_time"].total == {"rate": 50.0, "count": 1, "base": 2}
    # taobao's reports: A 10 20 5, B 30 300 15 -> median of six (15 + 20) / 2.
    assert p["status_lag"].total["p50"] == 17.5
    both = _panels(database, range="7d", channel="taobao,douyin")
    assert both["orders"].total["orders"] == 3


def test_self_service_rate_counts_customer_lookups_against_staff_ones(
    app, client, database, scenario, make_user, login
):
    a, b = scenario.orders["A"], scenario.orders["B"]
    # Start from nothing: look-ups other tests made in this process may still be pending.
    flush_lookups(database)
    with database.session() as db:
        db.execute(delete(LookupHourly))
        db.commit()
    for tracking in (a.tracking_id, a.tracking_id, b.tracking_id):
        assert client.get(f"/track/{tracking}").status_code == 200
    client.get(
        f"/track/{a.tracking_id}", headers={"HX-Request": "true"}
    )  # live refresh: not counted
    make_user("cs", roles=("viewer",))
    login("cs")
    assert client.get(f"/orders/{scenario.id('C')}").status_code == 200
    flush_lookups(database)  # counts are written every few seconds, or by the next tick
    panel = _panels(database, range="24h")["self_service"]
    assert panel.total == {"rate": 75.0, "count": 3, "base": 4}


def test_before_and_after_a_publish(database, scenario):
    with database.session() as db:
        db.execute(update(FlowVersion).values(published_at=scenario.at(H)))
        db.commit()
        version = db.query(FlowVersion).one()
        result = compare.before_after(db, _range(range="7d"), version, utcnow())
    # 30 hours either side of T0+1h: A, B, C placed before (C needed approval); D, E after.
    assert result["window_hours"] == 30
    panels = result["panels"]
    assert panels["orders"]["before"]["orders"] == 3 and panels["orders"]["after"]["orders"] == 2
    assert panels["manual_rate"]["before"]["rate"] == pytest.approx(33.33)
    assert panels["manual_rate"]["after"]["rate"] == 50.0


def test_percentiles_come_from_histograms_when_ranges_are_large(database, scenario, monkeypatch):
    monkeypatch.setattr(kpis, "EXACT_LIMIT", 3)
    lag = _panels(database, range="7d")["status_lag"]
    assert lag.estimated
    # The median estimate stays within the histogram's 4.5 % of the exact 30 s.
    assert lag.total["p50"] == pytest.approx(30.0, rel=0.045)
    assert 300 <= lag.total["p95"] <= 600


def test_refresh_is_idempotent_and_picks_up_new_events(database, scenario):
    before = _panels(database, range="7d")
    assert refresh(database).events == 0  # nothing new: the figures stay as they are
    assert _panels(database, range="7d")["status_lag"].total == before["status_lag"].total
    report(database, scenario, "D", "wms", "PACKED", 5 * H, 120, "D-late")
    refreshed = refresh(database)
    assert refreshed.status_events == 1 and refreshed.rebuilt == 1
    lag = _panels(database, range="7d")["status_lag"].total
    # 120 s joins the nine lags: 5 10 15 20 30 40 60 120 300 600 -> median (30 + 40) / 2.
    assert lag["count"] == 10 and lag["p50"] == 35.0
