"""The mutable working state of one step; handlers see it through ``nodes.base.Runtime``.

Order data is copied on write along the written path only, so the snapshot a step started
from is never modified and unchanged parts are shared between snapshots.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from flow_engine._calendar import BusinessCalendar
from flow_engine.errors import NodeError
from flow_engine.state import EMPTY, AuditEvent, Effect, RunSnapshot, Token
from rule_dsl.runtime import MAX_DIGITS, within_bounds

_WRITABLE_ROOTS = ("order", "vars", "customer")


class Working:
    """Everything a step changes, gathered before it is frozen into the next snapshot."""

    __slots__ = (
        "run_id", "now", "ref", "calendar", "order", "vars", "context", "seq", "audit",
        "effects", "forks", "reservations", "closed", "_copied", "path", "waiting", "ready",
        "node_id", "changes", "_owned",
    )  # fmt: skip

    def __init__(
        self,
        snap: RunSnapshot,
        now: datetime,
        ref: Mapping[str, Any] | None,
        calendar: BusinessCalendar | None = None,
    ) -> None:
        self.run_id = snap.run_id
        self.now = now
        self.ref: Mapping[str, Any] = ref if ref is not None else {}
        self.calendar = calendar
        order = snap.order
        self.order: Mapping[str, Any] = order
        self.vars: dict[str, Any] = dict(snap.vars)
        mapping = type(order) is dict or isinstance(order, Mapping)  # exact type: no ABC check
        customer = order.get("customer") if mapping else None
        self.context: dict[str, Any] = {
            "order": order,
            "customer": customer if customer is not None else {},
            "vars": self.vars,
            "ref": self.ref,
        }
        self.seq = snap.seq
        self.audit: list[AuditEvent] = []
        self.effects: list[Effect] = []
        # Copied on first write: most steps never touch them.
        self.forks: Mapping[str, Mapping[str, Any]] = snap.forks
        self.reservations: Sequence[Mapping[str, Any]] = snap.reservations
        self.closed: Mapping[str, str] = snap.closed
        self._copied: set[str] = set()
        self.path: list[str] = []
        tokens = snap.tokens
        if tokens:
            self.waiting: list[Token] = [t for t in tokens if t.wait is not None]
            self.ready: deque[Token] = deque(t for t in tokens if t.wait is None)
        else:
            self.waiting, self.ready = [], deque()
        self.node_id = ""
        self.changes: dict[str, Any] | None = None
        # Dicts this step copied (and so may change), kept alive so their ids stay theirs.
        self._owned: dict[int, dict[str, Any]] = {}

    def fork_table(self) -> dict[str, Mapping[str, Any]]:
        """The open forks, copied from the snapshot before the first change."""
        if "forks" not in self._copied:
            self._copied.add("forks")
            self.forks = dict(self.forks)
        return self.forks  # type: ignore[return-value]  # a dict since the copy above

    # -- ids, audit, effects ------------------------------------------------------------------

    def new_id(self, prefix: str) -> str:
        self.seq += 1
        return f"{self.run_id}:{prefix}{self.seq}"

    def log(
        self,
        kind: str,
        node_id: str | None = None,
        node_type: str | None = None,
        branch: str | None = None,
        actor: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> None:
        self.seq += 1
        self.audit.append(
            AuditEvent(self.seq, self.now, kind, node_id, node_type, branch, actor, data or EMPTY)
        )

    def emit(self, kind: str, payload: Mapping[str, Any], *, awaited: bool = False) -> Effect:
        effect = Effect(self.new_id("e"), kind, self.node_id or None, payload, awaited)
        self.effects.append(effect)
        return effect

    def schedule_timer(self, due: datetime, purpose: str) -> str:
        timer_id = self.new_id("t")
        self.emit(
            "schedule_timer", {"timer_id": timer_id, "due": due.isoformat(), "purpose": purpose}
        )
        return timer_id

    def cancel_timer(self, timer_id: str) -> None:
        self.emit("cancel_timer", {"timer_id": timer_id})

    def later(self, duration: timedelta, business: bool = False) -> datetime:
        """``now`` plus ``duration``, counting only working time when ``business`` is set."""
        if not business:
            return self.now + duration
        if self.calendar is None:  # read from the reference tables once, on first use
            self.calendar = BusinessCalendar.from_ref(self.ref)
        return self.calendar.add(self.now, duration)

    # -- data ---------------------------------------------------------------------------------

    def set_order(self, order: Mapping[str, Any]) -> None:
        self.order = order
        self._owned.clear()
        self.context["order"] = order
        customer = order.get("customer")
        self.context["customer"] = customer if customer is not None else {}

    def _own(self, value: Any) -> dict[str, Any]:
        if isinstance(value, dict) and id(value) in self._owned:
            return value
        copy = dict(value) if isinstance(value, Mapping) else {}
        self._owned[id(copy)] = copy
        return copy

    def set_path(self, path: str, value: Any) -> None:
        parts = path.split(".")
        root = parts[0]
        if root not in _WRITABLE_ROOTS or len(parts) < 2:
            raise NodeError(
                "bad_path",
                f"cannot set {path!r}: paths start with order., customer. or vars.",
                f"无法设置 {path!r}：路径必须以 order.、customer. 或 vars. 开头",
            )
        if not within_bounds(value):  # it could not be stored with the run
            raise NodeError(
                "overflow",
                f"cannot set {path!r}: a number in the value is out of range (whole numbers"
                f" have at most {MAX_DIGITS:,} digits, decimals lie within 1E±{MAX_DIGITS})",
                f"无法设置 {path!r}：值中的数字超出范围（整数最多 {MAX_DIGITS:,} 位，"
                f"小数在 1E±{MAX_DIGITS} 之内）",
                {"path": path},
            )
        if root == "customer":
            parts = ["order", *parts]
        if parts[0] == "vars":
            self._set_in(self.vars, parts[1:], value)
        else:
            order = self._own(self.order)
            self._set_in(order, parts[1:], value)
            self.set_order_owned(order)
        if self.changes is None:
            self.changes = {}
        self.changes[".".join(parts)] = value

    def set_order_owned(self, order: dict[str, Any]) -> None:
        self.order = order
        self.context["order"] = order
        customer = order.get("customer")
        self.context["customer"] = customer if customer is not None else {}

    def _set_in(self, target: dict[str, Any], keys: list[str], value: Any) -> None:
        for key in keys[:-1]:
            child = self._own(target.get(key))
            target[key] = child
            target = child
        target[keys[-1]] = value

    def set_var(self, name: str, value: Any) -> None:
        self.vars[name] = value
        if self.changes is None:
            self.changes = {}
        self.changes["vars." + name] = value

    def add_tags(self, tags: list[str]) -> list[str]:
        current = list(self.order.get("tags") or ())
        new = [t for t in dict.fromkeys(tags) if t not in current]
        if new:
            self.set_path("order.tags", current + new)
        return new

    def close_keys(self, reasons: Mapping[str, str]) -> None:
        if "closed" not in self._copied:
            self._copied.add("closed")
            self.closed = dict(self.closed)
        self.closed.update(reasons)  # type: ignore[attr-defined]  # a dict since the copy above

    def close_key(self, key: str, reason: str) -> None:
        if key not in self.closed:
            self.close_keys({key: reason})

    # -- inventory holds ----------------------------------------------------------------------

    def hold_reservation(self, record: Mapping[str, Any]) -> None:
        self.reservations = [*self.reservations, record]

    def release_reservations(self, from_node: str | None) -> list[Mapping[str, Any]]:
        released = [
            r for r in self.reservations if from_node is None or r.get("node_id") == from_node
        ]
        self.reservations = [r for r in self.reservations if r not in released]
        return released


MAX_LISTED = 20  # list projections in the audit trail stop after this many items


def resolve_path(value: Any, parts: tuple[Any, ...]) -> Any:
    """The value at ``parts`` under ``value``; ``"[]"`` projects every item of a list."""
    for i, part in enumerate(parts):
        if type(value) is dict:
            value = value.get(part)
            continue
        if part == "[]":
            if not isinstance(value, list | tuple):
                return None
            rest = parts[i + 1 :]
            return [resolve_path(item, rest) for item in value[:MAX_LISTED]]
        if isinstance(part, int):
            value = value[part] if isinstance(value, list | tuple) and part < len(value) else None
        else:
            value = value.get(part) if isinstance(value, Mapping) else None
    return value
