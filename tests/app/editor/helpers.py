"""Shared pieces of the editor tests: the large-order review flow, JSON calls, logins."""

from __future__ import annotations

from typing import Any

from app.db import get_session
from app.flows import services as flows
from app.orders import services as orders
from tests.app.conftest import csrf_token
from tests.app.flows_fixtures import flow_doc, order_doc
from tests.app.org_fixtures import role_keys, staffed


def review_doc(key: str = "large-order-review", threshold: str = "20000") -> dict[str, Any]:
    return flow_doc(
        key,
        [
            {"id": "start", "type": "start"},
            {"id": "large", "type": "condition", "config": {"expression": f"order.amount >= {threshold}"}},
            {"id": "finance", "type": "approval", "config": {"assignees": [{"role": "finance"}]}},
            {"id": "ok", "type": "end", "config": {"outcome": "accepted"}},
            {"id": "no", "type": "end", "config": {"outcome": "rejected"}},
        ],
        [("start", "large"), ("large", "finance", "true"), ("large", "ok", "false"),
         ("finance", "ok", "approved"), ("finance", "no", "rejected")],
    )  # fmt: skip


def store(app, doc: dict[str, Any], *, publish: bool = False, orders_in: tuple = ()) -> None:
    with app.app_context():
        db = get_session()
        staffed(db, role_keys(doc))  # the roles the flow assigns to exist and are held
        flows.import_flow(db, None, doc, publish_now=publish, note="v1" if publish else "")
        for external_id, amount, extra in orders_in:
            orders.ingest(db, order_doc(external_id, amount, **extra))
        db.commit()


class Json:
    """JSON calls with the session's CSRF token, as the editor script makes them."""

    def __init__(self, client) -> None:
        self.client = client
        self.token = csrf_token(client, "/flows")

    def _headers(self) -> dict[str, str]:
        return {"X-CSRFToken": self.token, "Accept": "application/json"}

    def get(self, path: str):
        return self.client.get(path, headers={"Accept": "application/json"})

    def post(self, path: str, body: Any):
        return self.client.post(path, json=body, headers=self._headers())

    def put(self, path: str, body: Any):
        return self.client.put(path, json=body, headers=self._headers())
