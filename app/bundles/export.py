"""Exporting an installation's own flows, tables, alert rules and kept items as a bundle zip."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from templates_lib import Bundle, BundleError, TableSpec, load_files, to_files, to_zip

from ..alerts.exchange import export_rule
from ..errors import ValidationError
from ..flows.services import live_version
from ..models import (
    AlertRule,
    BusinessRole,
    CustomField,
    Flow,
    ReferenceRow,
    ReferenceTable,
    TemplateItem,
)
from ..org import checks
from .services import bundle_error

ID_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_CUSTOM = re.compile(r"\border\.custom\.([a-z][a-z0-9_]*)")
_MANIFEST_KEYS = {"alert_rule": "alert_rules", "notification_text": "notification_texts"}


def _flow_doc(db: Session, flow: Flow) -> dict[str, Any]:
    if flow.draft is not None:
        return dict(flow.draft)
    version = live_version(db, flow)
    if version is None:
        raise ValidationError(_l("Flow %(key)s has no draft and no version.", key=flow.key))
    return dict(version.doc)


def _table(db: Session, table: ReferenceTable) -> TableSpec:
    rows = db.scalars(
        select(ReferenceRow).where(ReferenceRow.table_id == table.id).order_by(ReferenceRow.key)
    )
    description = {"en": table.description, "zh": table.description} if table.description else None
    return TableSpec(
        table.name,
        table.key_field,
        tuple(dict(c) for c in table.columns),
        description,
        tuple(dict(r.data) for r in rows),
        f"tables/{table.name}.json",
    )


@dataclass(frozen=True)
class Exportable:
    """Something besides flows and tables a bundle can carry: ``kind``, ``key`` and the data
    written into the manifest."""

    kind: str
    key: str
    data: dict[str, Any]


def exportable_items(db: Session) -> list[Exportable]:
    """The installation's alert rules as they are now (the admin's own and edited template
    rules alike), then the kept texts, status mappings and boards."""

    rules = {r.key: export_rule(r) for r in db.scalars(select(AlertRule).order_by(AlertRule.key))}
    out = [Exportable("alert_rule", key, data) for key, data in rules.items()]
    for item in db.scalars(select(TemplateItem).order_by(TemplateItem.kind, TemplateItem.key)):
        if item.kind == "alert_rule" and item.key in rules:
            continue  # the live rule, with the admin's changes, is exported instead
        out.append(Exportable(item.kind, item.key, dict(item.data)))
    return out


def _business_roles(db: Session, docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    used = {ref.key for doc in docs for ref in checks.references(doc) if ref.kind == "role"}
    out: dict[str, dict[str, str]] = {}
    for role in db.scalars(select(BusinessRole).where(BusinessRole.key.in_(used))):
        spec = {"zh": role.name_zh, "en": role.name_en or role.name_zh}
        out[role.key] = {**spec, **({"scope": role.scope_table} if role.scope_table else {})}
    return dict(sorted(out.items()))


def build_bundle(
    db: Session,
    *,
    bundle_id: str,
    name_en: str,
    name_zh: str,
    description_en: str = "",
    description_zh: str = "",
    version: str = "1.0.0",
    industries: Iterable[str] = ("general",),
    flow_keys: Iterable[str] = (),
    table_names: Iterable[str] = (),
    include_items: bool = True,
    item_keys: Iterable[str] | None = None,
) -> Bundle:
    """A bundle of the chosen flows and tables (with every row), the custom fields those
    flows read, the alert rules and the kept texts; checked like any uploaded bundle.

    ``item_keys`` (``"alert_rule:key"``) picks among :func:`exportable_items`; ``None`` takes
    them all.
    """
    problems: dict[str, str] = {}
    if not ID_RE.match(bundle_id or ""):
        problems["bundle_id"] = str(_l("Use lower-case letters, digits, . _ and -."))
    if not (name_en or "").strip() or not (name_zh or "").strip():
        problems["name"] = str(_l("Give the bundle an English and a Chinese name."))
    flow_keys, table_names = list(flow_keys), list(table_names)
    if not flow_keys:
        problems["flows"] = str(_l("Choose at least one flow."))
    if problems:
        raise ValidationError(_l("The export is not complete."), fields=problems)
    flows = list(db.scalars(select(Flow).where(Flow.key.in_(flow_keys)).order_by(Flow.key)))
    docs = [_flow_doc(db, f) for f in flows]
    tables = [
        _table(db, t)
        for t in db.scalars(
            select(ReferenceTable)
            .where(ReferenceTable.name.in_(table_names))
            .order_by(ReferenceTable.name)
        )
    ]
    used = {m for doc in docs for m in _CUSTOM.findall(str(doc))}
    fields = [
        {
            "name": f.name,
            "type": f.type,
            "label": {"en": f.label_en, "zh": f.label_zh},
            **({"required": True} if f.required else {}),
            **({"options": list(f.options)} if f.options else {}),
        }
        for f in db.scalars(select(CustomField).order_by(CustomField.name))
        if f.name in used
    ]
    manifest: dict[str, Any] = {
        "format": 1,
        "id": bundle_id,
        "version": version,
        "name": {"en": name_en.strip(), "zh": name_zh.strip()},
        "description": {
            "en": (description_en or name_en).strip(),
            "zh": (description_zh or name_zh).strip(),
        },
        "industries": list(industries) or ["general"],
        "flows": [f"flows/{d['key']}.flow.json" for d in docs],
    }
    if fields:
        manifest["custom_fields"] = fields
    roles = _business_roles(db, docs)
    if roles:  # named, so the importing admin can create the ones they lack
        manifest["requires"] = {"business_roles": roles}
    chosen = None if item_keys is None else set(item_keys)
    if include_items:
        for item in exportable_items(db):
            if chosen is not None and f"{item.kind}:{item.key}" not in chosen:
                continue
            if item.kind in _MANIFEST_KEYS:
                manifest.setdefault(_MANIFEST_KEYS[item.kind], []).append(
                    {**item.data, "key": item.key}
                )
            elif item.kind == "status_mapping":
                manifest.setdefault("status_mappings", {})[item.data["source"]] = item.data["codes"]
            elif item.kind == "status_board" and item.key == bundle_id:
                manifest["status_board"] = item.data
    draft = Bundle(manifest, tuple(docs), tuple(manifest["flows"]), tuple(tables), (), ())
    try:  # written and read back: an export that would not import is refused here
        return load_files(to_files(draft), source="export")
    except BundleError as err:
        raise bundle_error(err) from err


def export_zip(bundle: Bundle) -> bytes:
    """The bundle as zip bytes with one top folder named after its id."""
    return to_zip(to_files(bundle), folder=bundle.id)
