"""Loading the sample routing flow, its reference data and stock into a test database."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import simplejson

from app.flows import services as flows
from app.inventory import services as inventory
from app.reference import services as reference
from flow_engine import CURRENT_FORMAT_VERSION

BENCH = Path(__file__).resolve().parents[2] / "bench" / "flows"


def routing_doc() -> dict[str, Any]:
    return json.loads((BENCH / "routing.flow.json").read_text(encoding="utf-8"))


def routing_ref() -> dict[str, Any]:
    return simplejson.loads((BENCH / "ref.json").read_text(encoding="utf-8"), use_decimal=True)


def routing_samples() -> list[dict[str, Any]]:
    return simplejson.loads((BENCH / "orders.json").read_text(encoding="utf-8"), use_decimal=True)


def load_reference(db, ref: dict[str, Any]) -> None:
    keys = {"catalog": "sku"}
    for name, rows in ref.items():
        if name == "inventory":
            for warehouse, skus in rows.items():
                for sku, qty in skus.items():
                    inventory.set_stock(db, sku, warehouse, int(qty))
            continue
        table = reference.ensure_table(db, name, key_field=keys.get(name, "id"))
        reference.upsert_rows(db, table, rows)


def flow_doc(
    key: str,
    nodes: list[dict],
    edges: list[tuple],
    *,
    trigger: str = "order.created",
    filter: str | None = None,
) -> dict:
    """A small flow document: nodes as dicts, edges as (from, to[, branch])."""
    trig: dict[str, Any] = {"event": trigger}
    if filter:
        trig["filter"] = filter
    return {
        "format_version": CURRENT_FORMAT_VERSION,
        "key": key,
        "name": {"zh": key, "en": key},
        "trigger": trig,
        "nodes": [
            {"position": {"x": i * 100, "y": 0}, "config": {}, **n} for i, n in enumerate(nodes)
        ],
        "edges": [
            {"id": f"e{i}", "from": e[0], "to": e[1], **({"branch": e[2]} if len(e) > 2 else {})}
            for i, e in enumerate(edges)
        ],
    }


def publish(db, doc: dict) -> None:
    """Publish ``doc``; the role keys it assigns to become business roles held by the users
    with the access role of that name (as migration 0018 does for existing flows), or by a
    person created to hold them when no one has that access role."""
    from .org_fixtures import role_keys, staffed

    staffed(db, role_keys(doc))
    flows.import_flow(db, None, doc, publish_now=True)


def order_doc(external_id: str, amount: str = "100.00", **extra: Any) -> dict[str, Any]:
    from decimal import Decimal

    doc = {
        "external_id": external_id,
        "channel": "taobao",
        "currency": "CNY",
        "amount": Decimal(amount),
        "created_at": "2026-11-20T10:00:00+08:00",
        "customer": {"id": "C-1", "name": "李娜", "tier": "gold"},
        "lines": [{"sku": "SKU-1", "qty": 1, "price": Decimal(amount)}],
        "shipping_address": {"province": "广东", "city": "广州"},
    }
    doc.update(extra)
    return doc
