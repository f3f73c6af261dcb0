"""Decision-table analysis for the grid: errors per cell and the static findings (overlaps,
gaps, unreachable rows), each with how many recent real orders fell into it."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from flow_engine import build_context, flow_context_schema
from rule_dsl import DecisionTable, DslError

from ..errors import ValidationError
from ..inventory.services import StockView
from ..models import Order, utcnow
from ..runs.services import enrich_customer, order_skus, reference_for

DEFAULT_ORDERS = 500
MAX_ORDERS = 5000
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_GAP_PREFIX = "no row matches "
_OTHER = "any other value"


def _split_parts(where: str) -> list[str]:
    """Split ``a: x; b: "p; q"`` on the separators outside quotes."""
    parts, buf, quoted, escaped = [], [], False, False
    i = 0
    while i < len(where):
        ch = where[i]
        if quoted:
            buf.append(ch)
            escaped = ch == "\\" and not escaped
            quoted = not (ch == '"' and not escaped)
        elif where.startswith("; ", i):
            parts.append("".join(buf))
            buf = []
            i += 2
            continue
        else:
            buf.append(ch)
            quoted = ch == '"'
        i += 1
    parts.append("".join(buf))
    return parts


def _other_cell(cell: str, column_cells: list[str]) -> str:
    """Rewrite the analysis' "any other value" into a unary test: none of the constants the
    column mentions, except those the cell lists itself."""
    listed = set(_QUOTED.findall(cell))
    mentioned = {q for c in column_cells for q in _QUOTED.findall(c)} - listed
    if not mentioned:
        return "-"
    if listed:
        return "-"  # "these values or any other": as good as anything but the rest
    return f"not({', '.join(sorted(mentioned))})"


def gap_table(data: Mapping[str, Any], message: str) -> dict[str, Any] | None:
    """A one-row table matching exactly the inputs of a gap finding, from its description."""
    if not message.startswith(_GAP_PREFIX) or " (e.g. " not in message:
        return None
    where = message[len(_GAP_PREFIX) : message.rfind(" (e.g. ")]
    names = [str(i.get("name")) for i in data.get("inputs") or ()]
    cells = ["-"] * len(names)
    for part in _split_parts(where):
        name, sep, cell = part.partition(": ")
        if not sep or name not in names:
            return None
        col = names.index(name)
        if _OTHER in cell:
            column_cells = [str((r.get("inputs") or [])[col]) for r in data.get("rules") or ()]
            cell = _other_cell(cell, column_cells)
        cells[col] = cell
    return {
        "hit_policy": "first",
        "inputs": list(data["inputs"]),
        "outputs": [{"name": "hit", "type": "boolean"}],
        "rules": [{"inputs": cells, "outputs": ["true"]}],
    }


# The time windows the grid offers: "how many orders of the last week fell into this gap".
WINDOWS = {"24h": timedelta(hours=24), "7d": timedelta(days=7), "30d": timedelta(days=30)}


def _recent_contexts(
    db: Session, last: int, since: datetime | None
) -> list[tuple[Order, dict[str, Any]]]:
    query = select(Order).order_by(Order.created_at.desc(), Order.id.desc()).limit(last)
    if since is not None:
        query = query.where(Order.created_at >= since)
    orders = list(db.scalars(query))
    # One stock read for all of them, not one per order.
    stock = StockView(db, {sku for o in orders for sku in order_skus(o.data)})
    out = []
    for order in orders:
        ref = reference_for(db, order.data, stock=stock)
        out.append((order, build_context(enrich_customer(order.data, ref), ref=ref)))
    return out


def _top_channels(orders: list[Order]) -> list[dict[str, Any]]:
    return [
        {"channel": c, "orders": n} for c, n in Counter(o.channel for o in orders).most_common(5)
    ]


def analyze_table(
    db: Session,
    data: Mapping[str, Any],
    *,
    last: int = DEFAULT_ORDERS,
    window: str | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """Validate ``data``; when it compiles, list its findings with recent-order counts.

    The orders are the last ``last`` ones, placed within ``window`` (a key of
    :data:`WINDOWS`) when it is given. They are evaluated without the variables earlier
    nodes of the flow would set, so inputs that read ``vars`` see null here.
    """
    if window is not None and window not in WINDOWS:
        raise ValidationError(
            _l("Choose a window among %(w)s.", w=", ".join(WINDOWS)), fields={"window": "invalid"}
        )
    since = (now or utcnow()) - WINDOWS[window] if window else None
    schema = flow_context_schema()
    errors = DecisionTable.validate(data, schema)
    if errors:
        return {"errors": [e.to_dict() for e in errors], "findings": [], "orders": 0}
    table = DecisionTable.from_dict(data, schema)
    every = DecisionTable.from_dict(
        {**data, "hit_policy": "rule_order", "aggregation": None}, schema
    )
    contexts = _recent_contexts(db, max(1, min(last, MAX_ORDERS)), since)
    matched: list[tuple[Order, frozenset[int]]] = []
    unmatched: list[tuple[Order, dict[str, Any]]] = []
    failed = 0
    for order, ctx in contexts:
        try:
            rows = frozenset(every.evaluate(ctx).matched)
        except DslError:
            failed += 1
            continue
        matched.append((order, rows))
        if not rows:
            unmatched.append((order, ctx))
    findings = []
    for finding in table.analyze():
        item = finding.to_dict()
        hits: list[Order] | None
        if finding.kind == "overlap":
            i, j = finding.rows
            hits = [o for o, rows in matched if i in rows and j in rows]
        elif finding.kind == "unreachable":
            hits = [o for o, rows in matched if finding.rows[0] in rows]
        else:
            hits = _gap_hits(data, finding.message, unmatched, schema)
        item["orders"] = None if hits is None else len(hits)
        item["channels"] = [] if hits is None else _top_channels(hits)
        item["sample_orders"] = [] if hits is None else [o.external_id for o in hits[:5]]
        findings.append(item)
    return {
        "errors": [],
        "findings": findings,
        "orders": len(contexts),
        "window": window,
        "unmatched": len(unmatched),
        "unmatched_channels": _top_channels([o for o, _ in unmatched]),
        "failed": failed,
    }


def _gap_hits(
    data: Mapping[str, Any],
    message: str,
    unmatched: list[tuple[Order, dict[str, Any]]],
    schema: Mapping[str, Any],
) -> list[Order] | None:
    probe_data = gap_table(data, message)
    if probe_data is None:
        return None
    try:
        probe = DecisionTable.from_dict(probe_data, schema)
        return [o for o, ctx in unmatched if probe.evaluate(ctx).matched]
    except DslError:
        return None
