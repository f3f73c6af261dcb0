"""Alert rules to and from template bundles.

Bundles describe rules in the manifest's ``alert_rules`` section: ``key``, ``name``,
``description``, ``severity``, ``notify`` and a ``rule`` whose ``kind`` is ``threshold``,
``streak`` or ``stalled_transition``. Exported rules carry OrderFlow's own definition under
``rule.native``, which an import takes as it is; rules written by hand in the template
vocabulary (``metric``, ``window``, ``above``, ``max_gap``...) are translated, and whatever
cannot be translated exactly is listed in the import notes (such rules come in disabled).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import AlertRule, TemplateItem, User
from . import services

TEMPLATE_KIND = {"order": "threshold", "aggregate": "threshold", "streak": "streak",
                 "stuck": "stalled_transition", "backlog": "threshold"}  # fmt: skip
STATES_IN_PROGRESS = [
    "created",
    "paid",
    "approved",
    "picking",
    "packed",
    "shipped",
    "customs_cleared",
]


@dataclass
class Imported:
    rule: AlertRule
    created: bool
    notes: list[str] = field(default_factory=list)


def export_rule(rule: AlertRule) -> dict[str, Any]:
    """The manifest entry of ``rule``."""
    out: dict[str, Any] = {
        "key": rule.key,
        "name": {"en": rule.name_en or rule.name_zh or rule.key, "zh": rule.name_zh or rule.name_en or rule.key},
        "severity": rule.severity,
        "rule": {"kind": TEMPLATE_KIND[rule.kind],
                 "native": {"kind": rule.kind, "definition": rule.definition,
                            "channels": rule.channels, "cooldown_seconds": rule.cooldown_seconds,
                            "auto_resolve": rule.auto_resolve, "every_seconds": rule.every_seconds,
                            "enabled": rule.enabled}},
    }  # fmt: skip
    if any((rule.actions or {}).values()):
        out["rule"]["native"]["actions"] = dict(rule.actions)
    if rule.description:
        out["description"] = {"en": rule.description, "zh": rule.description}
    if rule.recipients:
        out["notify"] = [dict(r) for r in rule.recipients]
    return out


def translate(spec: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """``(values for services.save_rule, notes)`` from a manifest entry."""
    rule = dict(spec.get("rule") or {})
    name = spec.get("name") or {}
    description = spec.get("description") or {}
    values: dict[str, Any] = {
        "key": spec.get("key"),
        "name_zh": name.get("zh", ""),
        "name_en": name.get("en", ""),
        "description": description.get("zh") or description.get("en") or "",
        "severity": spec.get("severity", "warning"),
        "recipients": [dict(n) for n in spec.get("notify") or [] if isinstance(n, Mapping)]
        or [{"role": "supervisor"}],
    }
    native = rule.get("native")
    if isinstance(native, Mapping):
        values.update({k: v for k, v in native.items() if k != "definition"})
        values["definition"] = dict(native.get("definition") or {})
        return values, []
    kind, definition, notes = _from_vocabulary(rule)
    values["kind"], values["definition"] = kind, definition
    if notes:
        values["enabled"] = False
    return values, notes


def _from_vocabulary(rule: Mapping[str, Any]) -> tuple[str, dict[str, Any], list[str]]:
    notes: list[str] = []
    known = {"kind", "metric", "window", "above", "node", "flow", "outcome", "code", "days",
             "from", "to", "max_gap"}  # fmt: skip
    ignored = sorted(set(rule) - known)
    if ignored:
        notes.append("not translated: " + ", ".join(ignored))
    kind, metric = rule.get("kind"), rule.get("metric")
    above = rule.get("above", 0)
    window = str(rule.get("window") or "1d")
    if kind == "stalled_transition":
        start = rule.get("from")
        states = STATES_IN_PROGRESS if start in (None, "any") else [str(start)]
        return "stuck", {"subject": "order_status", "states": states,
                         "longer_than": str(rule.get("max_gap") or "4h"), "group_by": "none"}, notes  # fmt: skip
    if kind == "streak":
        return "streak", {"dataset": "stockouts", "measure": "count", "group_by": "sku", "op": ">=",
                          "threshold": 1, "period": "day", "periods": int(rule.get("days") or 3)}, notes  # fmt: skip
    if metric == "approvals.pending":
        return "backlog", {"node": rule.get("node"), "flow": rule.get("flow"), "op": ">",
                           "threshold": above, "group_by": "none"}, notes  # fmt: skip
    if metric == "runs.outcome_count":
        outcome = str(rule.get("outcome") or "").replace('"', "")
        return "aggregate", {"dataset": "orders", "measure": "count", "filter": f'order.outcome == "{outcome}"',
                             "window": window, "op": ">", "threshold": above, "group_by": "none"}, notes  # fmt: skip
    if metric in ("alerts.open", "alerts.count"):
        code = str(rule.get("code") or "").replace('"', "")
        condition = f'alert.code == "{code}"' + (
            ' and alert.status == "open"' if metric == "alerts.open" else ""
        )
        return "aggregate", {"dataset": "alerts", "measure": "count", "filter": condition,
                             "window": "31d" if metric == "alerts.open" else window, "op": ">",
                             "threshold": above, "group_by": "none"}, notes  # fmt: skip
    if metric == "orders.delivery_minutes.avg":
        return "aggregate", {"dataset": "deliveries", "measure": "avg", "field": "lead_time", "window": window,
                             "op": ">", "threshold": float(above) * 60, "group_by": "none"}, notes  # fmt: skip
    notes.append(f"unknown metric {metric!r}: kept as a per-order rule that never matches")
    return "order", {"condition": "false"}, notes


def import_rules(
    db: Session, actor: User | None, specs: Iterable[Mapping[str, Any]], *, source: str
) -> list[Imported]:
    """Create or update rules (by key) from manifest entries. No commit."""
    out = []
    for spec in specs:
        values, notes = translate(spec)
        existing = db.scalars(select(AlertRule).where(AlertRule.key == values["key"])).one_or_none()
        if existing is not None:
            values = {**_columns(existing), **values}
        rule = services.save_rule(db, actor, values, existing=existing, source=source)
        if notes:
            rule.description = (rule.description + "\n" if rule.description else "") + "; ".join(
                notes
            )
        out.append(Imported(rule, existing is None, notes))
    return out


def _columns(rule: AlertRule) -> dict[str, Any]:
    return {"channels": rule.channels, "cooldown_seconds": rule.cooldown_seconds,
            "auto_resolve": rule.auto_resolve, "every_seconds": rule.every_seconds,
            "enabled": rule.enabled}  # fmt: skip


def kept_in_templates(db: Session) -> list[TemplateItem]:
    """Alert rules that imported template bundles keep as data, not yet rules here."""
    have = set(db.scalars(select(AlertRule.key)))
    items = db.scalars(
        select(TemplateItem).where(TemplateItem.kind == "alert_rule").order_by(TemplateItem.id)
    )
    return [item for item in items if item.key not in have]


def adopt_kept(db: Session, actor: User | None) -> list[Imported]:
    """Turn the template bundles' kept alert rules into rules. No commit."""
    out = []
    for item in kept_in_templates(db):
        out += import_rules(db, actor, [item.data], source=f"template:{item.bundle_id}")
    return out
