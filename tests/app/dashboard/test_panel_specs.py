"""A dashboard panel is one :class:`PanelSpec` and its query function: a throw-away spec,
registered for one test, shows on the page with its title, figure, comparison, chart and
empty state, and is compared before and after a publish, with nothing else to change."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select, update

from app.clock import zone
from app.dashboard import compare, kpis, panels, ranges
from app.models import FlowVersion, Order, utcnow

from .scenario import H


def order_value(db, r: ranges.Range) -> kpis.Panel:
    """The amount of the orders placed in the range (no series: enough for the page)."""
    query = select(func.coalesce(func.sum(Order.amount), 0), func.count()).where(
        Order.created_at >= r.start, Order.created_at < r.end
    )
    if r.channels:
        query = query.where(Order.channel.in_(r.channels))
    amount, orders = db.execute(query).one()
    return kpis.Panel("order_value", "money", {"amount": float(amount), "orders": orders})


SPEC = panels.PanelSpec(
    "order_value",
    _l("Amount"),  # in the catalogue already: 金额
    order_value,
    format="money",
    figure="amount",
    note=(panels.Value("orders"), " ", _l("orders")),
    better="up",
    compared="amount",
    chart=(panels.Series("amount", _l("Amount"), "bar"),),
    empty=panels.Empty(
        "orders", _l("No orders in this range."), panels.Link("costs.setup", _l("Cost drivers"))
    ),
)


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(panels.PANELS, SPEC.key, SPEC)
    return monkeypatch


@pytest.fixture
def published(database, scenario) -> int:
    """The flow's version as if it went live at T0+1h: A, B, C placed before; D, E after."""
    with database.session() as db:
        db.execute(update(FlowVersion).values(published_at=scenario.at(H)))
        db.commit()
        return db.scalars(select(FlowVersion.id)).one()


def _section(page: str, key: str) -> str:
    found = re.search(rf'<section class="db-card" data-panel="{key}".*?</section>', page, re.S)
    assert found, f"no panel {key}"
    return found.group(0)


def _text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)).strip()


@pytest.mark.parametrize(
    ("language", "title", "orders"), [("zh", "金额", "5 单"), ("en", "Amount", "5 orders")]
)
def test_a_registered_panel_shows_with_its_title_figure_and_comparison(
    client, login, make_user, registered, published, language, title, orders
):
    make_user("boss", roles=("admin",))
    login("boss")
    headers = {"Accept-Language": language}
    page = client.get(f"/dashboard/?range=7d&compare={published}", headers=headers).get_data(
        as_text=True
    )
    section = _section(page, "order_value")
    assert f'<h2 id="h-order_value">{title}</h2>' in section
    # 100 + 200 + 6000 + 8000 + 300, in the money format, with the note's count.
    figure = _text(section.split('data-testid="figure-order_value">', 1)[1].split("</div>")[0])
    assert figure == f"¥14,600.00 {orders}"
    # Before the publish A, B and C (6300), after it D and E (8300): up, and up is better.
    delta = section.split('data-testid="compare-order_value">', 1)[1].split("</p>")[0]
    assert "<b>¥6,300.00</b>" in delta and "<b>¥8,300.00</b>" in delta  # in the panel's format
    assert '<span class="tag ok">+31.7%</span>' in delta
    assert 'id="chart-order_value"' in section and "db-empty" not in section
    # The charts' script gets its drawing from the spec, in the reader's language.
    payload = json.loads(page.split('id="db-data">', 1)[1].split("</script>")[0])
    assert payload["charts"]["order_value"] == {
        "format": "money",
        "by_channel": False,
        "series": [{"field": "amount", "label": title, "style": "bar", "colour": None}],
    }
    assert payload["panels"]["order_value"]["total"]["amount"] == 14600.0
    # It comes last, in the registry's order.
    assert page.index('data-panel="split_rate"') < page.index('data-panel="order_value"')

    registered.undo()  # removed again: the page is as before
    page = client.get("/dashboard/?range=7d", headers=headers).get_data(as_text=True)
    assert "order_value" not in page


def test_its_empty_state_says_what_feeds_it(client, login, make_user, registered, scenario):
    make_user("boss", roles=("admin",))
    login("boss")
    page = client.get("/dashboard/?range=7d&channel=nowhere").get_data(as_text=True)
    section = _section(page, "order_value")
    assert 'data-testid="empty-order_value"' in section and 'id="chart-' not in section
    assert "No orders in this range." in section and 'href="/costs/setup"' in section


def test_the_comparison_and_the_json_derive_from_the_spec(
    client, login, make_user, database, registered, published
):
    r = ranges.parse({"range": "7d"}, utcnow(), zone())
    with database.session() as db:
        version = db.get(FlowVersion, published)
        result = compare.before_after(db, r, version, utcnow())
        assert result["panels"]["order_value"] == {
            "before": {"amount": 6300.0, "orders": 3},
            "after": {"amount": 8300.0, "orders": 2},
        }
        change = compare.change(SPEC, result["panels"]["order_value"])
        assert change.tone == "ok" and change.percent == pytest.approx(31.746, abs=1e-3)
        # Lower is better: the same change is bad; not compared: left out.
        worse = dataclasses.replace(SPEC, better="down")
        assert compare.change(worse, result["panels"]["order_value"]).tone == "bad"
        registered.setitem(panels.PANELS, SPEC.key, dataclasses.replace(SPEC, compared=None))
        assert "order_value" not in compare.before_after(db, r, version, utcnow())["panels"]
    make_user("boss", roles=("admin",))
    login("boss")
    one = client.get("/dashboard/panels/order_value.json?range=7d").get_json()
    assert one["key"] == "order_value" and one["total"] == {"amount": 14600.0, "orders": 5}
    every = client.get("/dashboard/data.json?range=7d").get_json()
    assert every["panels"]["order_value"]["unit"] == "money"


def test_every_panel_declares_what_its_function_returns(database, scenario):
    """A spec's key, compared field and empty-state basis are fields its function gives."""
    r = ranges.parse({"range": "7d"}, utcnow(), zone())
    with database.session() as db:
        for key, spec in panels.PANELS.items():
            panel = spec.compute(db, r)
            assert panel.key == key == spec.key
            assert spec.figure in panel.total, key
            if spec.compared:
                assert spec.compared in panel.total, key
            if spec.empty:
                assert spec.empty.basis in panel.total, key
            for series in spec.chart:
                assert all(series.field in row for row in panel.series), (key, series.field)
