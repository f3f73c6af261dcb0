"""The dashboard's panels, each declared once: a :class:`PanelSpec` in :data:`PANELS`.

A spec says what the panel computes (a function of :mod:`.kpis`), how its figure reads, which
way is better, what is compared before and after a publish, how its chart is drawn and what
it says when nothing feeds it. The page, the comparison, the charts' script and the API all
read the registry; adding a panel is one spec and its query function.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias

from flask_babel import LazyString, lazy_pgettext
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from sqlalchemy.orm import Session

from . import kpis
from .format import FORMATS
from .ranges import Range

Format = Literal["count", "percent", "money", "duration"]
Better = Literal["up", "down", "none"]
Style = Literal["bar", "line", "smooth", "dotted", "area"]


@dataclass(frozen=True)
class Value:
    """A field of the panel's total in its format; ``text`` puts it in words (``%(n)s``)."""

    field: str
    format: Format = "count"
    text: LazyString | None = None


@dataclass(frozen=True)
class Tags:
    """A mapping of the total (name → count) as tags ``css css-name``, in ``labels``' order;
    names with no count are left out."""

    field: str
    labels: tuple[tuple[str, LazyString], ...]
    css: str


# Words of the panel's own (str, or lazily translated) and figures of its total.
Part: TypeAlias = str | LazyString | Value | Tags


@dataclass(frozen=True)
class Series:
    """A line or bars on the panel's chart: ``field`` of each row of the panel's series."""

    field: str
    label: LazyString | str
    style: Style = "line"
    colour: str | None = None


@dataclass(frozen=True)
class Link:
    """Where what feeds a panel is connected; shown to those with ``permission`` (if any)."""

    endpoint: str
    label: LazyString
    permission: str | None = None


@dataclass(frozen=True)
class Empty:
    """What a panel says instead of its chart while ``basis`` of its total is 0 or missing."""

    basis: str
    text: LazyString
    link: Link | None = None


@dataclass(frozen=True)
class PanelSpec:
    """One dashboard panel: its figures, how they read, compare and draw."""

    key: str
    title: LazyString
    compute: Callable[[Session, Range], kpis.Panel]
    # The format of the big figure (``figure`` of the total) and of the chart's value axis.
    format: Format
    figure: str
    # The smaller words after the big figure.
    note: tuple[Part, ...] = ()
    better: Better = "none"
    # The total's field compared before and after a publish; None: not compared.
    compared: str | None = None
    chart: tuple[Series, ...] = ()
    # Bars stacked per channel (the total's and each row's ``by_channel``) when there are any.
    by_channel: bool = False
    empty: Empty | None = None

    def figure_html(self, total: Mapping[str, Any]) -> Markup:
        """The big figure and its note, as the panel shows them."""
        note = Markup("").join(_part(part, total) for part in self.note)
        return Markup('<strong>{}</strong> <span class="muted">{}</span>').format(
            FORMATS[self.format](total.get(self.figure)), note
        )

    def shown(self, value: Any) -> str:
        """A value of the figure's field in the panel's format (``—`` when unknown)."""
        return FORMATS[self.format](value)

    def chart_json(self) -> dict[str, Any]:
        """What the charts' script needs to draw the panel, in the reader's language."""
        return {
            "format": self.format,
            "by_channel": self.by_channel,
            "series": [
                {"field": s.field, "label": str(s.label), "style": s.style, "colour": s.colour}
                for s in self.chart
            ],
        }


def _part(part: Part, total: Mapping[str, Any]) -> Markup:
    if isinstance(part, Value):
        shown = FORMATS[part.format](total.get(part.field))
        return escape(str(part.text) % {"n": shown} if part.text is not None else shown)
    if isinstance(part, Tags):
        counts = total.get(part.field) or {}
        return Markup("").join(
            Markup('<span class="{0} {0}-{1}">{2} {3}</span> ').format(
                part.css, name, label, FORMATS["count"](counts[name])
            )
            for name, label in part.labels
            if counts.get(name)
        )
    return escape(str(part))


RATE_NOTE: tuple[Part, ...] = (Value("count"), " / ", Value("base"))
RATE_CHART = (Series("rate", lazy_pgettext("dashboard chart", "Rate"), "area"),)
FLOWS = Link("editor.flow_list", _l("Flows"), "flows.view")
STATUS_MAPPINGS = Link("status_admin.index", _l("Status mappings"), "channels.manage")

PANELS: dict[str, PanelSpec] = {
    spec.key: spec
    for spec in (
        PanelSpec(
            "orders",
            _l("Orders per hour"),
            kpis.orders,
            format="count",
            figure="per_hour",
            note=(_l("per hour"), " · ", Value("orders"), " ", _l("orders")),
            compared="per_hour",
            chart=(Series("orders", lazy_pgettext("dashboard chart", "Orders"), "bar"),),
            by_channel=True,
            empty=Empty(
                "orders",
                _l(
                    "No orders in this range. Orders arrive from shops, ERP and other systems through the order API (POST /api/v1/orders) with an API key."
                ),
                Link("admin.api_keys", _l("API keys"), "api_keys.manage"),
            ),
        ),
        PanelSpec(
            "unit_cost",
            _l("Unit fulfilment cost"),
            kpis.unit_cost,
            format="money",
            figure="unit_cost",
            note=(_l("per order"), " · ", Value("orders"), " ", _l("orders costed")),
            better="down",
            compared="unit_cost",
            chart=(Series("unit_cost", lazy_pgettext("dashboard chart", "Unit cost"), "smooth"),),
            empty=Empty(
                "orders",
                _l(
                    "No order has a cost yet. Costs come from cost drivers (handling, approval hours, warehouse work...) applied to each order; set them up on the cost page."
                ),
                Link("costs.setup", _l("Cost drivers")),
            ),
        ),
        PanelSpec(
            "status_lag",
            _l("Status lag"),
            kpis.status_lag,
            format="duration",
            figure="p50",
            note=(_l("median"), " · P95 ", Value("p95", "duration"), " · ", Value("count")),
            better="down",
            compared="p50",
            chart=(
                Series("p50", lazy_pgettext("dashboard chart", "Median")),
                Series("p95", "P95", "dotted"),
            ),
            empty=Empty(
                "count",
                _l(
                    "No status reports in this range. ERP, WMS and carriers send them to POST /api/v1/status-events; their codes map to order states under status mappings."
                ),
                STATUS_MAPPINGS,
            ),
        ),
        PanelSpec(
            "manual_rate",
            _l("Manual intervention rate"),
            kpis.manual_rate,
            format="percent",
            figure="rate",
            note=RATE_NOTE,
            better="down",
            compared="rate",
            chart=RATE_CHART,
            empty=Empty(
                "base",
                _l(
                    "No orders in this range: the rate counts orders where a person had to act (an approval, an incident, a retry)."
                ),
            ),
        ),
        PanelSpec(
            "on_time",
            _l("On-time delivery rate"),
            kpis.on_time,
            format="percent",
            figure="rate",
            note=RATE_NOTE,
            better="up",
            compared="rate",
            chart=RATE_CHART,
            empty=Empty(
                "base",
                _l(
                    "No delivered order with a promise in this range. It needs orders that carry a promised delivery time (promised_at) and a delivered report from the carrier or TMS."
                ),
                STATUS_MAPPINGS,
            ),
        ),
        PanelSpec(
            "self_service",
            _l("Self-service tracking rate"),
            kpis.self_service,
            format="percent",
            figure="rate",
            note=RATE_NOTE,
            better="up",
            compared="rate",
            chart=RATE_CHART,
            empty=Empty(
                "base",
                _l(
                    "No order look-ups in this range. Customers look up their orders on the tracking page (its link is in each order); staff look-ups count as assisted."
                ),
            ),
        ),
        PanelSpec(
            "approval_turnaround",
            _l("Approval turnaround"),
            kpis.approval_turnaround,
            format="duration",
            figure="p50",
            note=(_l("median"), " · P90 ", Value("p90", "duration"), " · ", Value("count")),
            better="down",
            compared="p50",
            chart=(
                Series("p50", lazy_pgettext("dashboard chart", "Median")),
                Series("p90", "P90", "dotted"),
            ),
            empty=Empty(
                "count",
                _l(
                    "No approval decided in this range. It shows once flows with an approval step have had their tasks decided."
                ),
                FLOWS,
            ),
        ),
        PanelSpec(
            "alerts_open",
            _l("Alerts open"),
            kpis.alerts_open,
            format="count",
            figure="open",
            # None open is good news: the panel keeps its chart (no empty state).
            note=(
                Tags(
                    "by_severity",
                    (
                        ("critical", _l("critical")),
                        ("warning", _l("warning")),
                        ("info", _l("info")),
                    ),
                    "sev",
                ),
                "· ",
                Value("acknowledged", text=_l("%(n)s acknowledged")),
            ),
            chart=(Series("raised", lazy_pgettext("dashboard chart", "Raised"), "bar", "#cf222e"),),
        ),
        PanelSpec(
            "split_rate",
            _l("Split-shipment rate"),
            kpis.split_rate,
            format="percent",
            figure="rate",
            note=RATE_NOTE,
            better="down",
            chart=RATE_CHART,
            empty=Empty(
                "base",
                _l(
                    "No routed orders in this range. It needs flows with a route step that may split an order across warehouses."
                ),
                FLOWS,
            ),
        ),
    )
}
