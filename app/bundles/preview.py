"""What the preview page shows of a bundle: its decisions per flow, labels for the dry run,
and errors in the reader's language."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from flow_engine import NODE_HANDLERS

from ..errors import AppError
from .plan import FIXED_TABLES, POLICIES

ACTION_LABELS = {
    "create": _l("create"),
    "update": _l("add new rows"),
    "unchanged": _l("unchanged"),
    "rename": _l("import beside, renamed"),
    "overwrite": _l("overwrite"),
    "skip": _l("skip, keep existing"),
    "keep": _l("keep as data"),
    "warn": _l("warning"),
    "map": _l("mapped to"),
    "unmapped": _l("not mapped"),
}
KIND_LABELS = {
    "custom_field": _l("Custom field"),
    "table": _l("Reference table"),
    "stock": _l("Stock levels"),
    "flow": _l("Flow"),
    "alert_rule": _l("Alert rule"),
    "notification_text": _l("Notification text"),
    "status_mapping": _l("Status mapping"),
    "status_board": _l("Status board"),
    "webhook_host": _l("Webhook host"),
    "intake_rule": _l("Intake rule"),
    "business_role": _l("Business role"),
    "person": _l("Person"),
    "department": _l("Department"),
}
POLICY_LABELS = {
    "rename": _l("Rename: import the bundle's copy beside the existing one"),
    "overwrite": _l("Overwrite: replace the existing one"),
    "skip": _l("Skip: keep what is there"),
}
CONFLICTS = frozenset(POLICIES)


def choices_for(item: Mapping[str, Any]) -> tuple[str, ...]:
    """The settlements an item in conflict can take; none when it is not in conflict."""
    if item["action"] not in CONFLICTS:
        return ()
    if item["kind"] == "stock" or (item["kind"] == "table" and item["key"] in FIXED_TABLES):
        return ("overwrite", "skip")
    return POLICIES


def decisions(doc: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The decisions a flow makes, node by node: conditions, switch cases, decision tables,
    rule sets and routing constraints, in the order of the document."""
    out: list[dict[str, Any]] = []
    for node in doc.get("nodes") or ():
        config = node.get("config") or {}
        kind = node.get("type")
        handler = NODE_HANDLERS.get(str(kind))
        title = dict(handler.title) if handler is not None else str(kind)
        entry: dict[str, Any] = {"id": node.get("id"), "title": title, "name": node.get("name")}
        if kind == "condition":
            entry["expression"] = config.get("expression", "")
        elif kind == "switch":
            entry["cases"] = [(c.get("branch"), c.get("when")) for c in config.get("cases") or ()]
        elif kind == "decision_table":
            entry["table"] = config.get("table") or {}
        elif kind == "ruleset":
            entry["source"] = config.get("source", "")
        elif kind == "route":
            where = config.get("where") or []
            entry["route"] = {
                "table": config.get("table", ""),
                "where": [where] if isinstance(where, str) else list(where),
                "cost": config.get("cost", ""),
            }
        else:
            continue
        out.append(entry)
    return out


def error_view(err: AppError, lang: str) -> dict[str, Any]:
    """An error as the dry-run fragment lists it: the message, then every problem with its
    place (bundle problems) or field (parameters) in the reader's language."""
    problems = []
    if isinstance(err.details, list):
        for p in err.details[:100]:
            if isinstance(p, Mapping) and "message" in p:
                text = p.get("message_zh") if lang == "zh" else p.get("message")
                where = " ".join(str(x) for x in (p.get("file"), p.get("path")) if x)
                problems.append({"where": where, "text": text or p.get("message")})
    for name, text in (getattr(err, "fields", None) or {}).items():
        problems.append({"where": name, "text": str(text)})
    refusals = []
    if isinstance(err.details, Mapping):
        refusals = list(err.details.get("refusals") or [])
    return {
        "message": str(err.message),
        "code": err.code,
        "problems": problems,
        "refusals": refusals,
    }
