"""Importing template bundles: all or nothing, in the caller's transaction.

``dry_run`` says what an import would do; ``import_bundle`` does it and records the summary.
Any error raised while importing leaves the transaction to be rolled back by the caller
(views and commands use one transaction per import), so a bad bundle changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from templates_lib import Bundle, BundleError, builtin_bundle, load_zip

from .. import order_fields as custom_fields
from ..alerts import exchange
from ..errors import NotFoundError, ValidationError
from ..flows import services as flows
from ..inventory import services as inventory
from ..models import (
    BusinessRole,
    Flow,
    InventoryItem,
    ReferenceRow,
    ReferenceTable,
    TemplateImport,
    TemplateItem,
    User,
    utcnow,
)
from ..orders import intake_rules
from ..reference import services as reference
from ..runs import outbox
from ..status import services as status
from ..status import sources
from .people import mapped_doc
from .plan import Plan, kept_items, make_plan, pending_note, renamed_tables

log = logging.getLogger(__name__)


def get_builtin(bundle_id: str) -> Bundle:
    """A shipped bundle by id; NotFoundError otherwise."""
    bundle = builtin_bundle(bundle_id)
    if bundle is None:
        raise NotFoundError(_l("There is no template %(id)s.", id=bundle_id))
    return bundle


def bundle_error(err: BundleError, *, lang: str = "en") -> ValidationError:
    """A malformed bundle as a ValidationError listing every problem with its place."""
    details = [p.to_dict() for p in err.problems]
    first = err.problems[0] if err.problems else None
    text = ""
    if first is not None:
        text = first.message_zh if lang == "zh" else first.message
        where = " ".join(x for x in (first.file, first.path) if x)
        text = f"{where}: {text}" if where else text
    return ValidationError(
        _l("The bundle is not valid (%(n)d problems): %(first)s", n=len(details), first=text),
        code="invalid_bundle",
        details=details,
    )


def read_upload(data: bytes, *, lang: str = "en") -> Bundle:
    """A bundle from an uploaded zip; ValidationError with every problem if it is malformed."""
    try:
        return load_zip(data)
    except BundleError as err:
        raise bundle_error(err, lang=lang) from err


def dry_run(db: Session, bundle: Bundle, **options: Any) -> Plan:
    """What importing ``bundle`` with ``options`` would do; changes nothing."""
    return make_plan(db, bundle, **options)


def import_bundle(
    db: Session,
    actor: User | None,
    bundle: Bundle,
    *,
    params: Mapping[str, str] | None = None,
    policy: str = "rename",
    publish: bool = False,
    create_fields: bool = False,
    allow_hosts: bool = False,
    choices: Mapping[str, str] | None = None,
    people: Mapping[str, Any] | None = None,
    source: str = "builtin",
    progress: Any = None,
) -> TemplateImport:
    """Import ``bundle`` as planned; raises ValidationError when the plan refuses it. No commit.

    ``progress(step, total)`` is called as items are written (the CLI draws a bar with it).
    """
    plan = make_plan(
        db,
        bundle,
        params=params,
        policy=policy,
        publish=publish,
        create_fields=create_fields,
        allow_hosts=allow_hosts,
        choices=choices,
        people=people,
    )
    if not plan.ok:
        raise ValidationError(
            _l("The template cannot be imported: %(why)s", why=" ".join(plan.refusals)),
            code="import_refused",
            details=plan.to_dict(),
        )
    total = max(1, len(plan.items))
    who = actor.username if actor else None
    for done, item in enumerate(plan.items, start=1):
        _apply(db, actor, plan, item)
        if progress is not None:
            progress(done, total)
    record = TemplateImport(
        bundle_id=bundle.id,
        version=bundle.version,
        name_zh=bundle.name["zh"],
        name_en=bundle.name["en"],
        source=source,
        options={
            "policy": policy,
            "publish": publish,
            "create_fields": create_fields,
            "allow_hosts": allow_hosts,
            "choices": dict(plan.choices),
            "people": dict(plan.people),
            "params": dict(plan.bundle.params),
        },
        summary=plan.to_dict(),
        imported_by=who,
    )
    db.add(record)
    db.flush()
    log.info("template %s %s imported by %s: %s", bundle.id, bundle.version, who, plan.counts())
    return record


def _apply(db: Session, actor: User | None, plan: Plan, item: Any) -> None:
    if item.action in ("unchanged", "warn") or (item.action == "skip" and item.kind != "table"):
        return
    handler = _HANDLERS[item.kind]
    handler(db, actor, plan, item)


def _custom_field(db: Session, actor: User | None, plan: Plan, item: Any) -> None:
    spec = next(f for f in plan.bundle.custom_fields if f["name"] == item.key)
    custom_fields.add_field(
        db,
        actor,
        name=spec["name"],
        type=spec["type"],
        label_en=spec["label"]["en"],
        label_zh=spec["label"]["zh"],
        required=bool(spec.get("required")),
        options=spec.get("options"),
    )


def _table(db: Session, actor: User | None, plan: Plan, item: Any) -> None:
    spec = next(t for t in plan.bundle.tables if t.name == item.key)
    name = item.target or spec.name
    existing = {c["name"]: c for c in _columns(db, name)}
    columns = [*existing.values(), *(c for c in spec.columns if c["name"] not in existing)]
    description = (spec.description or {}).get("zh", "") if name not in _names(db) else ""
    table = reference.ensure_table(
        db, name, key_field=spec.key_field, columns=columns, description=description
    )
    if item.action == "skip":
        have = set(reference_keys(db, table.id))
        rows = [r for r in spec.rows if str(r[spec.key_field]) not in have]
    else:
        rows = list(spec.rows)
    if rows:
        reference.upsert_rows(db, table, rows)


def _names(db: Session) -> set[str]:

    return set(db.scalars(select(ReferenceTable.name)))


def _columns(db: Session, name: str) -> list[dict[str, Any]]:

    table = db.scalars(select(ReferenceTable).where(ReferenceTable.name == name)).one_or_none()
    return list(table.columns) if table is not None else []


def reference_keys(db: Session, table_id: int) -> list[str]:

    return list(db.scalars(select(ReferenceRow.key).where(ReferenceRow.table_id == table_id)))


def _stock(db: Session, actor: User | None, plan: Plan, item: Any) -> None:
    have = {(i.warehouse, i.sku) for i in db.scalars(select(InventoryItem))}
    for warehouse, sku, qty in plan.bundle.stock:
        if item.action == "overwrite" or (warehouse, sku) not in have:
            inventory.set_stock(db, sku, warehouse, qty)


def _flow(db: Session, actor: User | None, plan: Plan, item: Any) -> None:
    doc = next(d for d in plan.bundle.flows if d["key"] == item.key)
    doc = renamed_tables(mapped_doc(doc, plan), plan.table_names)
    if item.action == "rename":
        doc = {**doc, "key": item.target, "name": _suffixed(doc["name"], item.target)}
    flows.import_flow(
        db,
        actor,
        doc,
        publish_now=plan.publish,
        note=f"template {plan.bundle.id} {plan.bundle.version}",
    )


def _business_role(db: Session, actor: User | None, plan: Plan, item: Any) -> None:
    """Create a business role the admin chose to create; mapped keys need nothing."""
    if item.action != "create":
        return
    names = plan.new_roles[item.key]
    db.add(
        BusinessRole(
            key=item.key, name_zh=names["zh"], name_en=names["en"], scope_table=names["scope"]
        )
    )
    db.flush()


def _mapped(db: Session, actor: User | None, plan: Plan, item: Any) -> None:
    """People and departments are only mapped: the flows' keys are rewritten as they import."""


def _suffixed(name: Mapping[str, str], key: str) -> dict[str, str]:
    n = key.rsplit("-", 1)[-1]
    return {"en": f"{name['en']} ({n})"[:200], "zh": f"{name['zh']}（{n}）"[:200]}


def _kept(db: Session, actor: User | None, plan: Plan, item: Any) -> dict[str, Any]:
    """Store the bundle's item as data; returns that data."""
    data = next(d for k, key, d in kept_items(plan.bundle) if k == item.kind and key == item.key)
    target = item.target or item.key
    current = db.scalars(
        select(TemplateItem).where(TemplateItem.kind == item.kind, TemplateItem.key == target)
    ).one_or_none()
    if current is None:
        db.add(
            TemplateItem(
                kind=item.kind,
                key=target,
                bundle_id=plan.bundle.id,
                status="pending",
                data=data,
                note=pending_note(item.kind),
            )
        )
    else:
        current.data = data
        current.bundle_id = plan.bundle.id
        current.updated_at = utcnow()
    db.flush()
    return data


def _alert_rule(db: Session, actor: User | None, plan: Plan, item: Any) -> None:
    """Keep the bundle's rule (for export and later re-imports) and make it a live rule."""

    data = _kept(db, actor, plan, item)
    spec = {**data, "key": item.target or item.key}
    exchange.import_rules(db, actor, [spec], source=f"template:{plan.bundle.id}")


def _status_mapping(db: Session, actor: User | None, plan: Plan, item: Any) -> None:
    """Keep the bundle's codes (for export) and add those naming an order state to the
    source's status mapping; codes naming a milestone that is no order state stay data."""

    data = _kept(db, actor, plan, item)
    known = status.states()
    codes = {code: state for code, state in data["codes"].items() if state in known}
    if codes:
        sources.add_codes(db, actor.username if actor else None, data["source"], codes)


def _intake_rule(db: Session, actor: User | None, plan: Plan, item: Any) -> None:

    intake_rules.install(db, f"template:{plan.bundle.id}", plan.bundle.intake)


def _host(db: Session, actor: User | None, plan: Plan, item: Any) -> None:

    outbox.add_allowed_host(
        db, actor.username if actor else None, item.key, note=f"template {plan.bundle.id}"
    )


_HANDLERS = {
    "custom_field": _custom_field,
    "table": _table,
    "stock": _stock,
    "flow": _flow,
    "alert_rule": _alert_rule,
    "notification_text": _kept,
    "status_mapping": _status_mapping,
    "status_board": _kept,
    "webhook_host": _host,
    "intake_rule": _intake_rule,
    "business_role": _business_role,
    "person": _mapped,
    "department": _mapped,
}


def history(db: Session, *, limit: int = 50) -> list[TemplateImport]:
    """Recent imports, newest first."""
    return list(db.scalars(select(TemplateImport).order_by(TemplateImport.id.desc()).limit(limit)))


def installed(db: Session) -> dict[str, str]:
    """Bundle id -> the version imported last."""
    out: dict[str, str] = {}
    for row in db.scalars(select(TemplateImport).order_by(TemplateImport.id)):
        out[row.bundle_id] = row.version
    return out


def flows_of(db: Session, keys: list[str]) -> list[Flow]:
    return list(db.scalars(select(Flow).where(Flow.key.in_(keys)).order_by(Flow.key)))
