"""Shipments through the API: an order's merge group and allocation, the split-rate panel."""

from __future__ import annotations

import jsonschema
import simplejson

from app.db import get_db, in_transaction

from ..flows_fixtures import flow_doc, load_reference, order_doc, publish
from ..test_shipments import STOCK

SPLIT_THEN_MERGE = flow_doc(
    "allocate-then-hold",
    [{"id": "start", "type": "start"},
     {"id": "alloc", "type": "split", "config": {"constraints": ["active"]}},
     {"id": "hold", "type": "merge", "config": {"window": "2h"}},
     {"id": "done", "type": "end", "config": {"outcome": "held"}},
     {"id": "none", "type": "end", "config": {"outcome": "backorder"}}],
    [("start", "alloc"), ("alloc", "hold", "single"), ("alloc", "hold", "split"),
     ("alloc", "none", "unavailable"), ("hold", "done")],
)  # fmt: skip


def _post(api, doc):
    body = simplejson.dumps(doc, use_decimal=True)
    return api.post("/orders", data=body, content_type="application/json")


def test_order_shows_its_shipments_and_the_dashboard_its_split_rate(api, app, client):
    database = get_db(app)
    in_transaction(database, lambda db: (load_reference(db, STOCK), publish(db, SPLIT_THEN_MERGE)))
    lines = [{"sku": "SKU-1", "qty": 8, "price": 10}, {"sku": "SKU-2", "qty": 1, "price": 5}]
    first = _post(api, order_doc("API-1", lines=lines)).json
    second = _post(api, order_doc("API-2")).json
    body = api.get(f"/orders/{first['id']}").json
    kinds = sorted((s["kind"], s["warehouse"]) for s in body["shipments"])
    assert kinds == [("merge", None), ("split", "GZ"), ("split", "SH")]
    (group,) = [s for s in body["shipments"] if s["kind"] == "merge"]
    assert group["status"] == "open" and group["orders"] == ["API-1", "API-2"]
    assert group["closes_at"].endswith("Z") or "+00:00" in group["closes_at"]
    other = api.get(f"/orders/{second['id']}").json["shipments"]
    assert [s["id"] for s in other if s["kind"] == "merge"] == [group["id"]]
    spec = client.get("/api/v1/openapi.json").json
    schema = {**spec["components"]["schemas"]["Order"], "components": spec["components"]}
    jsonschema.validate(body, schema)
    panel = api.get("/dashboard/split_rate?range=24h").json
    assert panel["total"] == {"rate": 50.0, "count": 1, "base": 2}
