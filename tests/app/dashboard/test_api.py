"""The figures for machines: the API (same numbers as the dashboard) and /metrics."""

from __future__ import annotations

import re

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import positive_data_acceptance

from app.api import views  # noqa: F401 (declares the operations)
from app.api.spec import OPERATIONS as API_OPERATIONS

from ..api.conftest import Api, make_key  # noqa: F401  (fixture)


@pytest.fixture
def api(client, make_key):  # noqa: F811
    return Api(client, make_key(("orders:read", "flows:read", "alerts:read")))


def test_dashboard_figures(api, scenario):
    body = api.get("/dashboard?range=7d").json
    assert body["range"]["label"] == "7d" and body["range"]["start"].endswith("Z")
    assert body["panels"]["manual_rate"]["total"] == {"rate": 40.0, "count": 2, "base": 5}
    assert body["panels"]["status_lag"]["total"]["p95"] == 480.0
    one = api.get("/dashboard/on_time?range=7d&channel=taobao").json
    assert one["total"] == {"rate": 50.0, "count": 1, "base": 2}
    assert api.get("/dashboard/nope").status_code == 404


def test_bad_ranges_are_refused_with_the_parameter(api):
    response = api.get("/dashboard?range=1y")
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["path"] == "?range"
    assert api.get("/dashboard?from=2026-11-09&to=2026-11-01").status_code == 422


def test_bottlenecks_costs_and_rules(api, scenario):
    heat = api.get("/flows/fulfil/bottlenecks?range=7d").json
    assert heat["nodes"]["qc"]["p50"] == 7210.0
    assert api.get("/flows/nope/bottlenecks").status_code == 404
    cost = api.get(f"/orders/{scenario.id('C')}/cost").json
    assert cost["total"] == 25.0  # handling 5 + 2 approval hours x 10
    assert {i["driver"]: i["amount"] for i in cost["items"]} == {
        "handling": 5.0,
        "approval_time": 20.0,
    }
    heatmap = api.get("/costs/heatmap?dimension=channel&range=7d").json
    assert {t["type"]: t["orders"] for t in heatmap["types"]} == {
        "taobao": 2,
        "tmall": 2,
        "douyin": 1,
    }
    assert api.get("/costs/heatmap?dimension=nope").status_code == 422
    assert api.get("/alert-rules").json == {"items": []}
    assert api.get("/alert-rules/none").status_code == 404


def test_scopes_apply(client, make_key, scenario):  # noqa: F811
    narrow = Api(client, make_key(("runs:read",)))
    assert narrow.get("/dashboard").status_code == 403
    assert client.get("/api/v1/dashboard").status_code == 401


def _samples(text: str) -> dict[str, float]:
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_prometheus_exposition(client, make_key, scenario):  # noqa: F811
    key = make_key(("alerts:read",))
    response = client.get("/metrics", headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200
    assert response.content_type.startswith("text/plain; version=0.0.4")
    text = response.get_data(as_text=True)
    assert re.search(r"^# TYPE orderflow_orders_total counter$", text, re.M)
    samples = _samples(text)
    assert samples['orderflow_orders_total{channel="taobao"}'] == 2
    assert samples["orderflow_status_lag_seconds_count"] == 0  # none received in the last hour
    assert samples['orderflow_alerts_open{severity="critical"}'] == 0
    assert samples['orderflow_tokens_waiting{node_type="wait_event"}'] == 2
    assert samples["orderflow_metrics_backlog_events"] == 0
    assert client.get("/metrics").status_code == 401
    other = make_key(("orders:read",))
    assert client.get("/metrics", headers={"Authorization": f"Bearer {other}"}).status_code == 403


FIGURES = {"dashboard_figures", "dashboard_panel", "flow_bottlenecks", "costs_heatmap",
           "order_cost", "list_alert_rules", "get_alert_rule"}  # fmt: skip
DASHBOARD_OPERATIONS = [
    f"{op.method.upper()} {op.path}" for op in API_OPERATIONS if op.op_id in FIGURES
]


@pytest.mark.parametrize("label", DASHBOARD_OPERATIONS)
def test_the_figures_keep_to_the_openapi_document(app, make_key, scenario, label):  # noqa: F811
    key = make_key(("orders:read", "flows:read", "alerts:read"))
    # Schemathesis sends many invalid keys on purpose and expects 401, not 429.
    app.config.update(RATELIMIT_API="", RATELIMIT_API_AUTH="", RATELIMIT_API_AUTH_ADDRESS="")
    operation = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app).find_operation_by_label(
        label
    )

    @given(case=operation.as_strategy())
    @settings(max_examples=8, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def check(case) -> None:
        case.call_and_validate(
            headers={"Authorization": f"Bearer {key}"}, excluded_checks=[positive_data_acceptance]
        )

    check()
