"""A flow value that JSON cannot store (an integer over 4,300 digits) ends the run as an
incident; the order is stored and the answer is not a 500."""

from __future__ import annotations

from decimal import Decimal

import pytest
import simplejson
from sqlalchemy import select

from app.db import get_session
from app.flows import services as flows
from app.models import Order, Run

from ..flows_fixtures import flow_doc, order_doc


def _set_flow(expression: str) -> dict:
    return flow_doc(
        "big",
        [{"id": "start", "type": "start"},
         {"id": "calc", "type": "set", "config": {"fields": [{"path": "vars.y", "expression": expression}]}},
         {"id": "done", "type": "end", "config": {"outcome": "accepted"}}],
        [("start", "calc"), ("calc", "done")],
    )  # fmt: skip


@pytest.mark.parametrize(
    ("expression", "custom"),
    [
        ("order.custom.x + order.custom.x", {"x": int("9" * 4300)}),
        ("order.custom.d * order.custom.d", {"d": Decimal("1E+600")}),
    ],
)
def test_a_value_that_cannot_be_stored_is_an_incident_and_the_order_is_kept(
    app, api, expression, custom
):
    with app.app_context():
        flows.import_flow(
            get_session(), None, _set_flow(expression),
            publish_now=True,
        )  # fmt: skip
        get_session().commit()
    doc = order_doc("BIG-1", "10.00", custom=custom)
    body = simplejson.dumps(doc, use_decimal=True)
    answer = api.post("/orders", data=body, content_type="application/json")
    assert answer.status_code == 201, answer.get_data(as_text=True)[:300]
    with app.app_context():
        db = get_session()
        order = db.scalar(select(Order).where(Order.external_id == "BIG-1"))
        run = db.scalar(select(Run).where(Run.order_id == order.id))
        assert run.status == "incident"
        assert run.incident["node_id"] == "calc"
