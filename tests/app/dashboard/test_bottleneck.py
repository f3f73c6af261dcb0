"""Bottleneck figures of the scenario's flow: per node and edge, by hand."""

from __future__ import annotations

import pytest

from app.clock import zone
from app.dashboard import bottleneck, ranges
from app.models import utcnow

from .scenario import H, M


def _heat(database, **args):
    with database.session() as db:
        s = bottleneck.scope(db, "fulfil", args.pop("version", None))
        return bottleneck.heatmap(
            db, s, ranges.parse(args or {"range": "7d"}, utcnow(), zone()), utcnow()
        )


def test_nodes_and_edges(database, scenario):
    heat = _heat(database)
    assert heat["versions"] == [1] and not heat["estimated"]
    qc, load, approve = heat["nodes"]["qc"], heat["nodes"]["load"], heat["nodes"]["approve"]
    # QC release: A waited 2:00:10, B 2:50:30, C 1:41:00 (after its approval); D, E still wait.
    assert qc["waits"] == 3 and qc["passes"] == 3
    assert qc["p50"] == 7210.0  # A
    assert qc["p90"] == pytest.approx(7210 + 0.8 * (10230 - 7210))
    assert qc["waiting"] == 2
    assert qc["oldest_hours"] == pytest.approx(
        (utcnow() - scenario.at(90 * M)).total_seconds() / 3600, abs=0.02
    )
    # Loading after QC: A 4:00:10, B 1:04:30, C 3:59:40 -> the 4-hour gap.
    assert load["p50"] == 14380.0 and load["p90"] == pytest.approx(14404.0)
    assert approve["p50"] == 4500.0 and approve["branches"] == {"approved": 2}
    assert heat["nodes"]["big"]["branches"] == {"false": 3, "true": 2}
    assert heat["nodes"]["big"]["waits"] == 0 and heat["nodes"]["big"]["p50"] is None
    edges = {(e["from"], e["to"]): e for e in heat["edges"]}
    assert edges[("start", "big")]["volume"] == 5
    assert edges[("big", "qc")]["volume"] == 3 and edges[("big", "approve")]["volume"] == 2
    assert edges[("approve", "no")]["volume"] == 0
    # QC release to loading: the time spent on the edge is the wait for loading.
    assert edges[("qc", "load")]["timed"] == 3 and edges[("qc", "load")]["p50"] == 14380.0
    assert edges[("big", "qc")]["timed"] == 2 and edges[("approve", "qc")]["p50"] == 6060.0


def test_estimates_from_rollups_match_the_exact_figures_closely(database, scenario, monkeypatch):
    monkeypatch.setattr(bottleneck, "EXACT_LIMIT", 0)
    heat = _heat(database)
    assert heat["estimated"]
    # Three loading waits of about four hours: the estimate lands in their 9 %-wide bucket.
    assert heat["nodes"]["load"]["p50"] == pytest.approx(14380.0, rel=0.05)


def test_slowest_orders_at_a_node(database, scenario):
    with database.session() as db:
        s = bottleneck.scope(db, "fulfil", None)
        r = ranges.parse({"range": "7d"}, utcnow(), zone())
        found = bottleneck.slowest(db, s, "qc", r, utcnow())
    assert [row["external_id"] for row in found["finished"]] == ["B", "A", "C"]
    assert found["finished"][0]["seconds"] == 10230.0
    assert [row["external_id"] for row in found["waiting"]] == ["E", "D"]


def test_pages_and_json(client, scenario, make_user, login):
    make_user("sv", roles=("supervisor",))
    login("sv")
    page = client.get("/dashboard/flows/fulfil?range=7d").get_data(as_text=True)
    assert 'id="heat-data"' in page and 'data-node="qc"' in page
    heat = client.get("/dashboard/flows/fulfil/heatmap.json?range=7d").json
    assert heat["nodes"]["load"]["p50"] == 14380.0
    fragment = client.get(
        "/dashboard/flows/fulfil/nodes/qc?range=7d", headers={"HX-Request": "true"}
    )
    html = fragment.get_data(as_text=True)
    assert fragment.status_code == 200 and html.index(">B<") < html.index(">A<")
    assert client.get("/dashboard/flows/fulfil/nodes/nope").status_code == 404
    assert client.get("/dashboard/flows/none").status_code == 404
    assert client.get("/dashboard/flows").status_code == 200


def test_versions_are_read_separately(database, scenario):
    assert _heat(database, version="all")["nodes"]["qc"]["waits"] == 3
    with pytest.raises(Exception, match="no version 7"):
        _heat(database, version="7")


def test_after_loading_the_order_waits_no_more(database, scenario):
    from app.metrics.refresh import refresh

    from .scenario import report

    report(database, scenario, "E", "wms", "PACKED", 3 * H, 1, "E-p")
    refresh(database)
    heat = _heat(database)
    assert heat["nodes"]["qc"]["waiting"] == 1 and heat["nodes"]["load"]["waiting"] == 1


@pytest.mark.parametrize(
    ("language", "approval", "wait", "end"),
    [("zh-CN", "审批", "等待事件", "结束"), ("en-US", "Approval", "Wait for event", "End")],
)
def test_the_node_table_names_node_types_in_the_readers_language(
    client, scenario, make_user, login, language, approval, wait, end
):
    make_user("sv", roles=("supervisor",))
    login("sv")
    page = client.get("/dashboard/flows/fulfil?range=7d", headers={"Accept-Language": language})
    html = page.get_data(as_text=True)
    table = html[html.index('data-testid="heat-table"') : html.index("</table>")]
    assert f'<span class="muted">{approval}</span>' in table
    assert f'<span class="muted">{wait}</span>' in table
    assert f'<span class="muted">{end}</span>' in table
    assert '<span class="muted">approval</span>' not in table
    assert '<span class="muted">wait_event</span>' not in table
