"""Editor services: flow summaries for the list, duplicate, version diff, simulation of a draft
and test orders. Like every service they take the session and the actor and never commit."""

from __future__ import annotations

import difflib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from flow_engine import (
    CURRENT_FORMAT_VERSION,
    CompiledFlow,
    FlowError,
    FlowValidationError,
    compile_flow,
    flow_digest,
    migrate,
    simulate,
)
from rule_dsl import DslError

from .. import order_fields
from ..errors import NotFoundError, ValidationError
from ..flows import backtest as backtests
from ..flows import services as flows
from ..jsonbody import parse_json
from ..jsontext import jsonable
from ..models import Flow, FlowVersion, Order, Run, User, utcnow
from ..pinyin import matches, slug
from ..runs.services import enrich_customer, reference_for

log = logging.getLogger(__name__)


def _key_taken(db: Session, key: str) -> bool:
    return (db.scalar(select(func.count()).select_from(Flow).where(Flow.key == key)) or 0) > 0


def suggest_key(db: Session, name: str) -> str:
    """A free flow key for a flow called ``name``: its pinyin slug (大额订单审批 ->
    ``da_e_ding_dan_shen_pi``), with ``_2``, ``_3``... when a flow already has it."""
    base = slug(name, 60) or "flow"
    if base in flows.RESERVED_KEYS:
        base = f"{base}_flow"
    key, n = base, 1
    while _key_taken(db, key):
        n += 1
        key = f"{base}_{n}"
    return key


def key_problem(db: Session, key: str) -> str | None:
    """Why ``key`` cannot be a new flow's key, in the reader's language with an example; None
    when it can."""
    if not key:
        return str(_l("Enter a key, e.g. da_e_ding_dan_shen_pi."))
    if not flows.KEY_RE.fullmatch(key):
        return str(
            _l(
                "A key has lowercase letters, digits and - _ . only, starts with a letter or "
                "digit and has at most 64 characters, e.g. da_e_ding_dan_shen_pi."
            )
        )
    if key in flows.RESERVED_KEYS:
        return str(_l("%(key)s is reserved; choose another key, e.g. %(key)s_orders.", key=key))
    if _key_taken(db, key):
        return str(
            _l(
                "Another flow already has the key %(key)s; choose another, e.g. %(key)s_2.",
                key=key,
            )
        )
    return None


SIMULATION_EVENTS = 50


@dataclass(frozen=True)
class FlowSummary:
    """One row of the flows list."""

    flow: Flow
    status: str  # draft | published | changed | archived
    live: FlowVersion | None
    last_run_at: datetime | None
    owner: str


def draft_changed(flow: Flow, live: FlowVersion | None) -> bool:
    """True when the draft differs from the live version (or nothing is live)."""
    if live is None or flow.draft is None:
        return live is None
    try:
        return flow_digest(migrate(flow.draft)) != live.digest
    except Exception:  # an unreadable draft counts as changed
        return True


def flow_summaries(
    db: Session, *, query: str = "", status: str = "", include_archived: bool = False
) -> list[FlowSummary]:
    """Flows for the list, filtered by text (Chinese, English, key or pinyin initials)."""
    all_flows = flows.list_flows(db, include_archived=include_archived or status == "archived")
    live = {v.flow_id: v for v in db.scalars(select(FlowVersion).where(FlowVersion.is_live))}
    last_runs = dict(
        db.execute(
            select(FlowVersion.flow_id, func.max(Run.started_at))
            .join(Run, Run.flow_version_id == FlowVersion.id)
            .group_by(FlowVersion.flow_id)
        ).all()
    )
    owner_ids = {f.owner_id for f in all_flows if f.owner_id}
    owners: dict[int | None, str] = (
        {
            u.id: u.display_name or u.username
            for u in db.scalars(select(User).where(User.id.in_(owner_ids)))
        }
        if owner_ids
        else {}
    )
    out = []
    for flow in all_flows:
        if not matches(query, flow.name_zh, flow.name_en, flow.key):
            continue
        version = live.get(flow.id)
        if flow.archived_at is not None:
            state = "archived"
        elif version is None:
            state = "draft"
        else:
            state = "changed" if draft_changed(flow, version) else "published"
        if status and state != status:
            continue
        out.append(
            FlowSummary(flow, state, version, last_runs.get(flow.id), owners.get(flow.owner_id, ""))
        )
    return out


def new_flow_doc(key: str, name_zh: str, name_en: str) -> dict[str, Any]:
    """An empty flow: the supervisor draws it from a blank canvas."""
    return {
        "format_version": CURRENT_FORMAT_VERSION,
        "key": key,
        "name": {"zh": name_zh or key, "en": name_en or name_zh or key},
        "trigger": {"event": "order.created"},
        "nodes": [],
        "edges": [],
    }


def duplicate(db: Session, actor: User | None, flow: Flow) -> Flow:
    """Copy ``flow``'s draft into a new flow with a free key."""
    keys = set(db.scalars(select(Flow.key).where(Flow.key.like(f"{flow.key}-copy%"))))
    key = f"{flow.key}-copy"
    n = 2
    while key in keys:
        key = f"{flow.key}-copy-{n}"
        n += 1
    doc = dict(flow.draft or new_flow_doc(key, flow.name_zh, flow.name_en))
    doc["key"] = key
    doc["name"] = {"zh": f"{flow.name_zh}（副本）", "en": f"{flow.name_en} (copy)"}
    return flows.create_flow(db, actor, doc)


def _canonical(doc: Mapping[str, Any] | None) -> dict[str, Any]:
    if not doc:
        return {}
    try:
        return migrate(doc)
    except FlowError:
        return dict(doc)


def _strip_position(node: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in node.items() if k != "position"}


def _edge_key(edge: Mapping[str, Any]) -> tuple[Any, Any, Any]:
    return (edge.get("from"), edge.get("to"), edge.get("branch"))


def version_diff(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> dict[str, Any]:
    """Nodes and edges added, removed and changed from ``old`` to ``new``, and the JSON diff."""
    before, after = _canonical(old), _canonical(new)
    old_nodes = {n.get("id"): n for n in before.get("nodes") or ()}
    new_nodes = {n.get("id"): n for n in after.get("nodes") or ()}
    old_edges = {_edge_key(e) for e in before.get("edges") or ()}
    new_edges = {_edge_key(e) for e in after.get("edges") or ()}
    changed = [
        i
        for i in new_nodes
        if i in old_nodes and _strip_position(old_nodes[i]) != _strip_position(new_nodes[i])
    ]
    moved = [
        i
        for i in new_nodes
        if i in old_nodes
        and i not in changed
        and old_nodes[i].get("position") != new_nodes[i].get("position")
    ]
    settings = [
        k for k in ("name", "description", "trigger", "metadata") if before.get(k) != after.get(k)
    ]
    text_old = json.dumps(
        jsonable(before), indent=2, ensure_ascii=False, sort_keys=True
    ).splitlines()
    text_new = json.dumps(
        jsonable(after), indent=2, ensure_ascii=False, sort_keys=True
    ).splitlines()
    unified = list(difflib.unified_diff(text_old, text_new, "published", "draft", lineterm="", n=3))
    return {
        "added": [i for i in new_nodes if i not in old_nodes],
        "removed": [
            {"id": i, "type": n.get("type"), "name": n.get("name")}
            for i, n in old_nodes.items()
            if i not in new_nodes
        ],
        "changed": changed,
        "moved": moved,
        "edges_added": [list(e) for e in sorted(new_edges - old_edges, key=str)],
        "edges_removed": [list(e) for e in sorted(old_edges - new_edges, key=str)],
        "settings": settings,
        "json": "\n".join(unified),
        "identical": not unified,
    }


def _order_from(db: Session, source: Mapping[str, Any]) -> dict[str, Any]:
    if source.get("order_id") is not None:
        order = db.get(Order, int(source["order_id"]))
        if order is None:
            raise NotFoundError(_l("That order does not exist."))
        return dict(order.data)
    doc: Any = source.get("order")
    if isinstance(doc, str):
        doc = parse_json(doc)
    order_fields.validate(db, doc)
    return dict(doc)


def simulate_draft(
    db: Session, doc: Mapping[str, Any], source: Mapping[str, Any]
) -> dict[str, Any]:
    """Run the draft ``doc`` on one order (pasted, sample or past) with scripted events.

    Nothing is written: reservations come from a copy of the live stock, awaited webhooks
    answer ok. The customer is enriched from master data as a real run would be.
    """
    try:
        compiled = compile_flow(doc, version="draft")
    except FlowValidationError as err:
        raise flows._issues_error(err.issues) from err
    order = _order_from(db, source)
    events = source.get("events") or []
    if not isinstance(events, list) or len(events) > SIMULATION_EVENTS:
        raise ValidationError(
            _l("Script at most %(n)d events.", n=SIMULATION_EVENTS), code="bad_events"
        )
    ref = reference_for(db, order)
    try:
        report = simulate(
            compiled,
            enrich_customer(order, ref),
            events=events,
            now=source.get("now") or None,
            ref=ref,
        )
    except (FlowError, DslError, KeyError, ValueError) as err:
        raise ValidationError(
            _l("The simulation could not run: %(reason)s", reason=str(err)),
            code="simulation_failed",
        ) from None
    out = report.to_dict()
    out["excluded_by"] = _first_of_group(db, compiled, enrich_customer(order, ref), ref)
    return jsonable(out)


def _first_of_group(
    db: Session, flow: CompiledFlow, order: Mapping[str, Any], ref: Mapping[str, Any]
) -> str | None:
    """The live flow of the draft's exclusive group that this order would start instead."""
    if flow.flow.trigger.exclusive_group is None:
        return None
    # The group is decided when the order arrives: the trigger filters see the clock now.
    now = utcnow()
    if not backtests.matches_quietly(flow, order, now, ref):
        return None
    rivals = backtests.group_rivals(db, flow.key, flow)
    return backtests.ahead_in_group(flow, rivals, order, now, ref)


def recent_orders(db: Session, limit: int = 30) -> list[Order]:
    return list(
        db.scalars(select(Order).order_by(Order.created_at.desc(), Order.id.desc()).limit(limit))
    )


def flow_versions(db: Session, flow: Flow) -> list[FlowVersion]:
    return list(
        db.scalars(
            select(FlowVersion)
            .where(FlowVersion.flow_id == flow.id)
            .order_by(FlowVersion.number.desc())
        )
    )


def version_of(db: Session, flow: Flow, number: int) -> FlowVersion:
    version = db.scalars(
        select(FlowVersion).where(FlowVersion.flow_id == flow.id, FlowVersion.number == number)
    ).one_or_none()
    if version is None:
        raise NotFoundError(_l("Version %(n)d of this flow does not exist.", n=number))
    return version
