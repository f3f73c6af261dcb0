"""Run state: snapshots, audit events, effects and the events that advance a run.

Every class is an immutable record (a ``NamedTuple``: a step builds dozens of them, and a
tuple is the cheapest immutable object Python makes) with ``to_dict()``/``from_dict()`` that
round-trip through JSON (see ``flow_engine._codec`` for how Decimals and datetimes are
tagged). Nested mappings inside a snapshot are shared between snapshots and must be treated
as read-only; empty ones default to the read-only ``EMPTY``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from types import MappingProxyType
from typing import Any, NamedTuple

from flow_engine._codec import decode, encode, iso, parse_iso
from flow_engine.errors import FlowMigrationError, FlowStateError
from flow_engine.events import Event, event_from_dict, event_to_dict
from flow_engine.migrations import SNAPSHOT_FORMAT_VERSION, migrate_snapshot

# Run statuses: a snapshot returned by start_run()/step() is always in one of the last four.
NEW = "new"  # created, no order applied yet (start_run() builds one and applies the order)
WAITING = "waiting"  # parked on approvals, timers, external events or awaited effects
COMPLETED = "completed"  # an end node was reached; ``outcome`` says which
INCIDENT = "incident"  # a node failed; a Retry event resumes at that node
CANCELLED = "cancelled"  # a CancelRun event stopped the run
RUN_STATUSES = (NEW, WAITING, COMPLETED, INCIDENT, CANCELLED)
FINISHED = frozenset({COMPLETED, CANCELLED})
EMPTY: Mapping[str, Any] = MappingProxyType({})  # the default of every empty mapping field


class Token(NamedTuple):
    """A position in the flow: ready to run ``node_id`` or waiting there (``wait`` set)."""

    id: str
    node_id: str
    forks: tuple[str, ...] = ()
    wait: Mapping[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "id": self.id,
            "node_id": self.node_id,
            "forks": list(self.forks),
            "wait": encode(self.wait) if self.wait is not None else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Token:
        """Read the JSON form."""
        wait = data.get("wait")
        return cls(
            id=data["id"],
            node_id=data["node_id"],
            forks=tuple(data.get("forks") or ()),
            wait=decode(wait) if wait is not None else None,
        )


class Incident(NamedTuple):
    """Why a run stopped in a node; cleared by a Retry event."""

    node_id: str
    token_id: str
    code: str
    message: str
    message_zh: str
    at: datetime
    details: Mapping[str, Any] = EMPTY

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "node_id": self.node_id,
            "token_id": self.token_id,
            "code": self.code,
            "message": self.message,
            "message_zh": self.message_zh,
            "at": iso(self.at),
            "details": encode(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Incident:
        """Read the JSON form."""
        return cls(
            node_id=data["node_id"],
            token_id=data["token_id"],
            code=data["code"],
            message=data["message"],
            message_zh=data.get("message_zh", data["message"]),
            at=parse_iso(data["at"]),
            details=decode(data.get("details") or {}),
        )


class AuditEvent(NamedTuple):
    """One entry of a run's audit trail (what happened, where, why and by whom)."""

    seq: int
    at: datetime
    kind: str
    node_id: str | None = None
    node_type: str | None = None
    branch: str | None = None
    actor: str | None = None
    data: Mapping[str, Any] = EMPTY

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "seq": self.seq,
            "at": iso(self.at),
            "kind": self.kind,
            "node_id": self.node_id,
            "node_type": self.node_type,
            "branch": self.branch,
            "actor": self.actor,
            "data": encode(self.data),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AuditEvent:
        """Read the JSON form."""
        return cls(
            seq=data["seq"],
            at=parse_iso(data["at"]),
            kind=data["kind"],
            node_id=data.get("node_id"),
            node_type=data.get("node_type"),
            branch=data.get("branch"),
            actor=data.get("actor"),
            data=decode(data.get("data") or {}),
        )


class Effect(NamedTuple):
    """A side effect for the app to perform (outbox); ``awaited`` ones answer with EffectResult."""

    id: str
    kind: str
    node_id: str | None
    payload: Mapping[str, Any]
    awaited: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "id": self.id,
            "kind": self.kind,
            "node_id": self.node_id,
            "payload": encode(self.payload),
            "awaited": self.awaited,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Effect:
        """Read the JSON form."""
        return cls(
            id=data["id"],
            kind=data["kind"],
            node_id=data.get("node_id"),
            payload=decode(data.get("payload") or {}),
            awaited=bool(data.get("awaited", False)),
        )


# ---------------------------------------------------------------------------------------------
# Snapshot


class RunSnapshot(NamedTuple):
    """Everything needed to continue a run; the app stores ``to_dict()`` as the run row."""

    run_id: str
    flow_key: str
    flow_version: str | None
    status: str
    order: Mapping[str, Any]
    vars: Mapping[str, Any]
    tokens: tuple[Token, ...]
    started_at: datetime
    updated_at: datetime
    seq: int = 0
    revision: int = 0
    forks: Mapping[str, Mapping[str, Any]] = EMPTY
    outcome: str | None = None
    incident: Incident | None = None
    path: tuple[str, ...] = ()
    reservations: tuple[Mapping[str, Any], ...] = ()
    pending_events: tuple[Event, ...] = ()
    closed: Mapping[str, str] = EMPTY

    @property
    def waiting(self) -> tuple[Token, ...]:
        """Tokens parked on a wait."""
        return tuple(t for t in self.tokens if t.wait is not None)

    @property
    def current_nodes(self) -> tuple[str, ...]:
        """Node ids where the run currently stands."""
        return tuple(t.node_id for t in self.tokens)

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "format_version": SNAPSHOT_FORMAT_VERSION,
            "run_id": self.run_id,
            "flow_key": self.flow_key,
            "flow_version": self.flow_version,
            "status": self.status,
            "order": encode(self.order),
            "vars": encode(self.vars),
            "tokens": [t.to_dict() for t in self.tokens],
            "started_at": iso(self.started_at),
            "updated_at": iso(self.updated_at),
            "seq": self.seq,
            "revision": self.revision,
            "forks": encode(self.forks),
            "outcome": self.outcome,
            "incident": self.incident.to_dict() if self.incident else None,
            "path": list(self.path),
            "reservations": encode(self.reservations),
            "pending_events": [event_to_dict(e) for e in self.pending_events],
            "closed": dict(self.closed),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSnapshot:
        """Read the JSON form, upgrading older formats (FlowStateError when malformed)."""
        try:
            data = migrate_snapshot(data)
        except FlowMigrationError as exc:
            raise FlowStateError(str(exc)) from None
        try:
            status = data["status"]
            if status not in RUN_STATUSES:
                raise FlowStateError(f"unknown run status {status!r}")
            incident = data.get("incident")
            return cls(
                run_id=data["run_id"],
                flow_key=data["flow_key"],
                flow_version=data.get("flow_version"),
                status=status,
                order=decode(data["order"]),
                vars=decode(data.get("vars") or {}),
                tokens=tuple(Token.from_dict(t) for t in data.get("tokens") or ()),
                started_at=parse_iso(data["started_at"]),
                updated_at=parse_iso(data["updated_at"]),
                seq=int(data.get("seq", 0)),
                revision=int(data.get("revision", 0)),
                forks=decode(data.get("forks") or {}),
                outcome=data.get("outcome"),
                incident=Incident.from_dict(incident) if incident else None,
                path=tuple(data.get("path") or ()),
                reservations=tuple(decode(data.get("reservations") or [])),
                pending_events=tuple(event_from_dict(e) for e in data.get("pending_events") or ()),
                closed=dict(data.get("closed") or {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise FlowStateError(f"malformed run snapshot: {exc!r}") from None


class StepResult(NamedTuple):
    """What start_run()/step() return: new snapshot, audit entries, effects to perform.

    ``ignored`` is a reason code when the event changed nothing (duplicate approval decision,
    unknown or cancelled timer, finished run); the snapshot is then the one passed in.
    """

    snapshot: RunSnapshot
    audit: tuple[AuditEvent, ...] = ()
    effects: tuple[Effect, ...] = ()
    ignored: str | None = None

    @property
    def accepted(self) -> bool:
        """True when the event was applied."""
        return self.ignored is None

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON form."""
        return {
            "snapshot": self.snapshot.to_dict(),
            "audit": [a.to_dict() for a in self.audit],
            "effects": [e.to_dict() for e in self.effects],
            "ignored": self.ignored,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> StepResult:
        """Read the JSON form."""
        return cls(
            snapshot=RunSnapshot.from_dict(data["snapshot"]),
            audit=tuple(AuditEvent.from_dict(a) for a in data.get("audit") or ()),
            effects=tuple(Effect.from_dict(e) for e in data.get("effects") or ()),
            ignored=data.get("ignored"),
        )
