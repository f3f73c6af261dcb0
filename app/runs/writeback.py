"""Decisions reach the order: declared order fields that runs set, stored on the order.

A ``set``, ``tag`` or ``route`` node changes the run's copy of the order; the fields the
order declares (the built-in writable fields :data:`BUILTIN`: ``tags``, ``priority``,
``warehouse``, ``carrier`` and ``holds``, and the custom fields admins declared,
``custom.<name>``) are also written to the order row, in the run's transaction, with one history row each (before, after, flow,
version, node, run). Other paths stay in the run's snapshot only; the flow editor warns
about them.

Two runs writing the same field: the one that commits last wins, and both are in the
history in the order they were written. The orders' documents are read again when the
buffered changes are written (locked on PostgreSQL; SQLite has one writer at a time), so a
change never overwrites another run's change of a different field with an older document.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from flow_engine import AuditEvent, CompiledFlow

from ..models import Order, OrderFieldChange, table_of

ORDERS = table_of(Order)
CHANGES = table_of(OrderFieldChange)
TAGS = "tags"
# The order's built-in fields flows may write (``x-writable`` in the order schema).
BUILTIN = frozenset({TAGS, "priority", "warehouse", "carrier", "holds"})
CUSTOM = "custom."
_WRITE_DATA = (
    update(ORDERS)
    .where(ORDERS.c.id == bindparam("order_id"))
    .values(
        data=bindparam("data"), on_hold=bindparam("on_hold"), updated_at=bindparam("updated_at")
    )
)


PRIORITIES = ("low", "normal", "high", "urgent")


def _short_text(value: Any) -> bool:
    return value is None or (isinstance(value, str) and 0 < len(value) <= 64)


# What the built-in fields accept (as the order schema says); null clears a field.
_ACCEPTS: dict[str, Callable[[Any], bool]] = {
    "priority": lambda v: v is None or v in PRIORITIES,
    "warehouse": _short_text,
    "carrier": _short_text,
    "holds": lambda v: (
        v is None or (isinstance(v, list) and len(v) <= 50 and all(_short_text(h) and h for h in v))
    ),
    TAGS: lambda v: v is None or (isinstance(v, list) and all(isinstance(t, str) for t in v)),
}
# What to tell people when a value is refused: (English, Chinese).
ACCEPTED = {
    "priority": ('one of low, normal, high, urgent, e.g. "high"',
                 '取值为 low、normal、high、urgent 之一，例如 "high"'),
    "warehouse": ('a warehouse id of 1 to 64 characters, e.g. "GZ-01"',
                  '1 到 64 个字符的仓库编号，例如 "GZ-01"'),
    "carrier": ('a carrier id of 1 to 64 characters, e.g. "SF"',
                '1 到 64 个字符的承运商编号，例如 "SF"'),
    "holds": ('a list of hold names, e.g. ["payment"]', '暂扣名称的列表，例如 ["payment"]'),
    TAGS: ('a list of texts, e.g. ["vip"]', '文本列表，例如 ["vip"]'),
}  # fmt: skip


@dataclass(frozen=True)
class Refused:
    """A built-in order field a run set to a value it does not accept."""

    field: str
    value: Any
    node_id: str
    node_name: str


@dataclass(frozen=True)
class OrderUpdate:
    """The fields one run changed on one order in one transaction (for ``order.updated``)."""

    order_id: int
    run_id: int
    flow_key: str
    fields: tuple[str, ...]
    key: str  # the event's identity: the run and the audit entry of its first change


class FieldWrites:
    """Order field changes buffered by the runs of one transaction."""

    def __init__(self, declared: Callable[[], frozenset[str]]) -> None:
        self._declared_of = declared
        self._declared: frozenset[str] | None = None
        self.rows: list[dict[str, Any]] = []

    def declared(self, field: str) -> bool:
        if field in BUILTIN:
            return True
        if not field.startswith(CUSTOM) or "." in field[len(CUSTOM) :]:
            return False
        if self._declared is None:
            self._declared = self._declared_of()
        return field[len(CUSTOM) :] in self._declared

    def collect(
        self,
        order_id: int,
        run_id: int,
        flow: CompiledFlow,
        audit: Iterable[AuditEvent],
        now: datetime,
    ) -> list[Refused]:
        """Buffer the declared order fields the ``audit`` entries changed; returns the
        built-in fields set to a value they do not accept (kept in the run only)."""
        names: dict[str, str] | None = None
        refused: list[Refused] = []
        for event in audit:
            changes = event.data.get("changes") if event.data else None
            if not changes or event.node_id is None:
                continue
            for path, value in changes.items():
                field = path[len("order.") :] if path.startswith("order.") else None
                if field is None or not self.declared(field):
                    continue
                if names is None:
                    names = {n.id: _name(n.name) for n in flow.flow.nodes}
                if field in _ACCEPTS and not _ACCEPTS[field](value):
                    refused.append(Refused(field, value, event.node_id,
                                           names.get(event.node_id, "")))  # fmt: skip
                    continue
                self.rows.append(
                    {
                        "order_id": order_id,
                        "run_id": run_id,
                        "field": field,
                        "after": value,
                        "flow_key": flow.key,
                        "flow_version": int(flow.version) if flow.version.isdigit() else 0,
                        "node_id": event.node_id,
                        "node_name": names.get(event.node_id, ""),
                        "changed_at": now,
                        "seq": event.seq,
                    }
                )
        return refused

    def flush(self, db: Session, now: datetime) -> list[OrderUpdate]:
        """Write the buffered changes to the orders and their history."""
        rows, self.rows = self.rows, []
        if not rows:
            return []
        order_ids = sorted({r["order_id"] for r in rows})
        query = select(ORDERS.c.id, ORDERS.c.data).where(ORDERS.c.id.in_(order_ids))
        if db.get_bind().dialect.name == "postgresql":
            query = query.with_for_update()
        docs = {order_id: copy.deepcopy(data) for order_id, data in db.connection().execute(query)}
        history = []
        updates: dict[tuple[int, int], OrderUpdate] = {}
        for row in rows:
            doc = docs[row["order_id"]]
            history.append({**_without(row, "seq"), "before": _get(doc, row["field"])})
            _put(doc, row["field"], row["after"])
            key = (row["order_id"], row["run_id"])
            held = updates.get(key)
            if held is None:
                updates[key] = OrderUpdate(
                    row["order_id"], row["run_id"], row["flow_key"], (row["field"],),
                    f"fields:run:{row['run_id']}:{row['seq']}",
                )  # fmt: skip
            elif row["field"] not in held.fields:
                updates[key] = OrderUpdate(
                    held.order_id, held.run_id, held.flow_key, (*held.fields, row["field"]),
                    held.key,
                )  # fmt: skip
        conn = db.connection()
        conn.execute(
            _WRITE_DATA,
            [
                {"order_id": i, "data": docs[i], "on_hold": on_hold(docs[i]), "updated_at": now}
                for i in order_ids
            ],
        )
        conn.execute(CHANGES.insert(), history)
        for order_id in order_ids:  # the loaded order objects see what was written
            order = db.identity_map.get(identity_key(Order, order_id))
            if order is not None:
                set_committed_value(order, "data", docs[order_id])
                set_committed_value(order, "on_hold", on_hold(docs[order_id]))
                set_committed_value(order, "updated_at", now)
        return list(updates.values())


def on_hold(doc: Mapping[str, Any]) -> bool:
    """Whether the order document names a hold (``holds``, a list of hold names)."""
    holds = doc.get("holds")
    return isinstance(holds, list) and bool(holds)


def _name(name: Mapping[str, str]) -> str:
    return name.get("zh") or name.get("en") or ""


def _without(row: Mapping[str, Any], key: str) -> dict[str, Any]:
    return {k: v for k, v in row.items() if k != key}


def _get(doc: Mapping[str, Any], field: str) -> Any:
    value: Any = doc
    for part in field.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(part)
    return value


def _put(doc: dict[str, Any], field: str, value: Any) -> None:
    parts = field.split(".")
    for part in parts[:-1]:
        child = doc.get(part)
        if not isinstance(child, dict):
            child = doc[part] = {}
        doc = child
    doc[parts[-1]] = value
