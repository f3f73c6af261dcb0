"""Building approval flows, approvers and notification channels for the approval tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.db import get_db, in_transaction
from app.models import ApprovalTask, OutboxMessage, Run, User
from app.notifications import services as notifications
from app.orders import services as orders
from app.runs.tasks import sweep_now
from app.users import services as users

from ..flows_fixtures import flow_doc, order_doc, publish
from ..org_fixtures import user_holds_access_roles

CHECKS = [
    {"name": "credit_ok", "label": {"en": "Within credit limit", "zh": "未超信用额度"},
     "expression": "order.amount <= 50000"},
    {"name": "stock_ok", "label": {"en": "Stock available", "zh": "库存充足"},
     "expression": "order.amount < 20000"},
]  # fmt: skip


def approval_doc(key: str = "big-orders", **config: Any) -> dict:
    """start → approval(config) → ok / no / late."""
    config.setdefault("assignees", [{"user": "li"}])
    config.setdefault("reason", {"en": "Order above 20,000", "zh": "订单金额超过 20,000"})
    return flow_doc(
        key,
        [{"id": "start", "type": "start"},
         {"id": "review", "type": "approval", "name": {"en": "Finance review", "zh": "财务审批"},
          "config": config},
         {"id": "ok", "type": "end", "config": {"outcome": "accepted"}},
         {"id": "no", "type": "end", "config": {"outcome": "refused"}},
         {"id": "late", "type": "end", "config": {"outcome": "late"}}],
        [("start", "review"), ("review", "ok", "approved"), ("review", "no", "rejected"),
         ("review", "late", "timeout")],
    )  # fmt: skip


def approver(
    database: Any, name: str, roles: tuple[str, ...] = ("approver",), **contact: Any
) -> None:
    """An active user with an email address (and any contact ids given)."""

    def work(db):  # type: ignore[no-untyped-def]
        user = users.create_user(
            db, None, username=name, password="correct-horse", roles=roles,
            email=f"{name}@example.com", display_name=name.title(),
        )  # fmt: skip
        for field, value in contact.items():
            setattr(user, field, value)
        user_holds_access_roles(db, user)

    in_transaction(database, work)


def start(
    database: Any,
    doc: dict,
    external_id: str = "PO-1",
    amount: str = "25000.00",
    now: datetime | None = None,
) -> Run:
    """Publish ``doc`` (once) and ingest an order; returns its run."""

    def setup(db):  # type: ignore[no-untyped-def]
        from app.models import Flow

        if db.scalars(select(Flow).where(Flow.key == doc["key"])).first() is None:
            publish(db, doc)

    in_transaction(database, setup)
    extra = {"now": now} if now else {}
    _, _, runs = in_transaction(
        database, lambda db: orders.ingest(db, order_doc(external_id, amount), **extra)
    )
    return runs[0]


def tasks_of(database: Any, run_id: int) -> list[ApprovalTask]:
    with database.session() as db:
        return list(
            db.scalars(
                select(ApprovalTask).where(ApprovalTask.run_id == run_id).order_by(ApprovalTask.id)
            )
        )


def run_of(database: Any, run_id: int) -> Run:
    with database.session() as db:
        found = db.get(Run, run_id)
        assert found is not None
        return found


def user(database: Any, name: str) -> User:
    with database.session() as db:
        found = db.scalars(select(User).where(User.username == name)).one()
        return found


def as_user(database: Any, name: str, work: Callable[[Any, User], Any]) -> Any:
    """Run ``work(db, user)`` in a transaction with ``name`` loaded in it."""
    return in_transaction(database, lambda db: work(db, users.get_user(db, name)))


def channel(
    database: Any,
    kind: str,
    name: str | None = None,
    events: tuple[str, ...] | None = None,
    **settings: Any,
) -> int:
    evs = events or (
        "approval_needed",
        "approval_reminder",
        "approval_escalated",
        "approval_delegated",
    )

    def work(db):  # type: ignore[no-untyped-def]
        return notifications.save_channel(
            db, None, channel_id=None, name=name or kind, kind=kind, enabled=True, events=evs,
            settings={k: str(v) for k, v in settings.items()},
        ).id  # fmt: skip

    return in_transaction(database, work)


def deliver_all(app: Any, now: datetime | None = None) -> dict[str, int]:
    """What the minute sweep does: fire due timers, deliver due outbox messages."""
    with app.app_context():
        return sweep_now(now)


def outbox_rows(database: Any, kind: str = "notify") -> list[OutboxMessage]:
    with database.session() as db:
        return list(
            db.scalars(
                select(OutboxMessage).where(OutboxMessage.kind == kind).order_by(OutboxMessage.id)
            )
        )


def db_of(app: Any) -> Any:
    return get_db(app)
