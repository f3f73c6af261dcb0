"""Shared pieces of the editor tests: the large-order review flow, JSON calls, logins."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.db import get_session
from app.flows import services as flows
from app.models import BusinessRole, RoleHolder, User
from app.orders import services as orders
from app.org import checks
from tests.app.conftest import csrf_token
from tests.app.flows_fixtures import flow_doc, order_doc


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


def ensure_roles(db, doc: dict[str, Any]) -> None:
    """The business roles ``doc`` assigns to, so it publishes (a flow naming an unknown role is
    refused); held by the users with the access role of the same name, as the migration does."""
    for key in sorted(checks.used_keys(doc)["role"]):
        if db.scalars(select(BusinessRole.id).where(BusinessRole.key == key)).first() is None:
            role = BusinessRole(key=key, name_zh=key, name_en=key)
            db.add(role)
            db.flush()
            for user in db.scalars(select(User)):
                if key in user.role_names:
                    db.add(RoleHolder(role_id=role.id, user_id=user.id, scope=""))
    db.flush()


def store(app, doc: dict[str, Any], *, publish: bool = False, orders_in: tuple = ()) -> None:
    with app.app_context():
        db = get_session()
        ensure_roles(db, doc)
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
