"""The dry run of an import: what a bundle would create, change, keep or refuse.

Conflicts (a flow key, a table row, a stock level or a kept item that exists with other
content) are settled by the admin's policy: ``rename`` imports the bundle's copy next to
the existing one, ``overwrite`` replaces it, ``skip`` keeps what is there. Tables that the
engine reads by name (customers, warehouses, carriers) cannot be renamed: under ``rename``
their existing rows stay as they are. Nothing here writes to the database.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from flow_engine import validate_flow
from flow_engine.issues import REFUSED_AT_PUBLISH
from flow_engine.outbound import EXAMPLE_URL, url_problem
from templates_lib import AddressParserMissingError, Bundle, address_parser

from ..alerts.exchange import export_rule, translate
from ..errors import ValidationError
from ..i18n import in_reader_language
from ..models import (
    AlertRule,
    CustomField,
    Flow,
    InventoryItem,
    ReferenceRow,
    ReferenceTable,
    TemplateItem,
)
from ..notifications.kinds import channel_names
from ..orders import intake_rules
from ..runs import outbox
from .people import map_people, mapped_doc

POLICIES = ("rename", "overwrite", "skip")
FIXED_TABLES = frozenset({"customers", "warehouses", "carriers"})
KEPT_KINDS = ("alert_rule", "notification_text", "status_mapping", "status_board")
FIELD_TYPE_NAMES = {"string": "text", "number": "number", "integer": "integer",
                    "boolean": "yes/no", "date-time": "date and time"}  # fmt: skip


@dataclass
class Item:
    """One thing the import touches. ``action``: create, update, unchanged, rename,
    overwrite, skip, keep (stored as data for a later feature), warn."""

    kind: str
    key: str
    action: str
    target: str = ""
    count: int = 0
    note: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "key": self.key,
            "action": self.action,
            "target": self.target or self.key,
            "count": self.count,
            "note": self.note,
        }


@dataclass
class Plan:
    bundle: Bundle
    policy: str
    publish: bool
    create_fields: bool
    allow_hosts: bool
    items: list[Item] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    flow_keys: dict[str, str] = field(default_factory=dict)
    table_names: dict[str, str] = field(default_factory=dict)
    choices: dict[str, str] = field(default_factory=dict)
    # "role:finance" -> an existing key, "new" or {"zh", "en"} (see .people)
    people: dict[str, Any] = field(default_factory=dict)
    people_keys: dict[tuple[str, str], str] = field(default_factory=dict)
    new_roles: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add_person(
        self, kind: str, key: str, action: str, target: str = "", note: str = ""
    ) -> None:
        self.items.append(Item(kind, key, action, target, note=note))

    @property
    def ok(self) -> bool:
        return not self.refusals

    def policy_for(self, kind: str, key: str) -> str:
        """How a conflict on this item is settled: the admin's choice for it, else the policy."""
        return self.choices.get(choice_key(kind, key), self.policy)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for item in self.items:
            out[item.action] = out.get(item.action, 0) + 1
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "bundle": self.bundle.id,
            "version": self.bundle.version,
            "policy": self.policy,
            "publish": self.publish,
            "choices": dict(self.choices),
            "people": dict(self.people),
            "ok": self.ok,
            "refusals": list(self.refusals),
            "items": [i.to_dict() for i in self.items],
            "counts": self.counts(),
        }


def choice_key(kind: str, key: str) -> str:
    """The name of one item's conflict choice (``flow:b2b-order-routing``)."""
    return f"{kind}:{key}"


def _same(a: Any, b: Any) -> bool:
    return _canon(a) == _canon(b)


def _canon(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).normalize()
    if isinstance(value, Mapping):
        return {k: _canon(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_canon(v) for v in value]
    return value


def _free_name(taken: set[str], base: str, sep: str) -> str:
    n = 2
    while f"{base}{sep}{n}" in taken:
        n += 1
    return f"{base}{sep}{n}"


def _fields(db: Session, plan: Plan) -> None:
    existing = {f.name: f for f in db.scalars(select(CustomField))}
    missing = []
    for spec in plan.bundle.custom_fields:
        have = existing.get(spec["name"])
        if have is None:
            if plan.create_fields:
                plan.items.append(Item("custom_field", spec["name"], "create"))
            else:
                missing.append(
                    f"{spec['name']} ({FIELD_TYPE_NAMES[spec['type']]}, {spec['label']['zh']})"
                )
        elif have.type != spec["type"]:
            plan.refusals.append(
                str(
                    _l(
                        "The custom field %(name)s exists as %(have)s; the bundle needs %(want)s.",
                        name=spec["name"],
                        have=FIELD_TYPE_NAMES.get(have.type, have.type),
                        want=FIELD_TYPE_NAMES[spec["type"]],
                    )
                )
            )
        else:
            plan.items.append(Item("custom_field", spec["name"], "unchanged"))
    if missing:
        plan.refusals.append(
            str(
                _l(
                    "The bundle needs custom order fields that do not exist: %(fields)s. "
                    "Choose to create them with the import, or add them under custom fields first.",
                    fields=", ".join(missing),
                )
            )
        )


def _tables(db: Session, plan: Plan) -> None:
    names = set(db.scalars(select(ReferenceTable.name)))
    for table in plan.bundle.tables:
        current = db.scalars(
            select(ReferenceTable).where(ReferenceTable.name == table.name)
        ).one_or_none()
        if current is None:
            plan.items.append(Item("table", table.name, "create", count=len(table.rows)))
            continue
        rows = {
            r.key: r.data
            for r in db.scalars(select(ReferenceRow).where(ReferenceRow.table_id == current.id))
        }
        new = same = differ = 0
        for row in table.rows:
            have = rows.get(str(row[table.key_field]))
            if have is None:
                new += 1
            elif _same(have, row):
                same += 1
            else:
                differ += 1
        if not new and not differ:
            plan.items.append(Item("table", table.name, "unchanged", count=same))
            continue
        if not differ:
            plan.items.append(Item("table", table.name, "update", count=new))
            continue
        action = plan.policy_for("table", table.name)
        if action == "rename" and table.name in FIXED_TABLES:
            action = "skip"
            note = str(_l("Flows read this table by name: existing rows are kept."))
        else:
            note = str(_l("%(n)d rows differ from the existing ones.", n=differ))
        target = table.name
        if action == "rename":
            target = _free_name(names, table.name, "_")
            names.add(target)
            plan.table_names[table.name] = target
        plan.items.append(Item("table", table.name, action, target, new + differ, note))


def _stock(db: Session, plan: Plan) -> None:
    if not plan.bundle.stock:
        return
    have = {(i.warehouse, i.sku): i.on_hand for i in db.scalars(select(InventoryItem))}
    new = same = differ = 0
    for warehouse, sku, qty in plan.bundle.stock:
        current = have.get((warehouse, sku))
        if current is None:
            new += 1
        elif current == qty:
            same += 1
        else:
            differ += 1
    if differ:
        action = "overwrite" if plan.policy_for("stock", "inventory") == "overwrite" else "skip"
        note = str(_l("%(n)d stock levels differ; %(what)s.", n=differ,
                      what=_l("the bundle's are set") if action == "overwrite"
                      else _l("existing ones are kept")))  # fmt: skip
        plan.items.append(Item("stock", "inventory", action, count=new + differ, note=note))
    else:
        plan.items.append(Item("stock", "inventory", "update" if new else "unchanged", count=new))


def _flows(db: Session, plan: Plan) -> None:
    keys = set(db.scalars(select(Flow.key)))
    for doc in plan.bundle.flows:
        key = doc["key"]
        if plan.publish:  # what publishing would refuse, shown in the dry run already
            plan.refusals += [
                f"{key}: {in_reader_language(i.message, i.message_zh)}"
                for i in validate_flow(doc)
                if i.code in REFUSED_AT_PUBLISH
            ]
        current = db.scalars(select(Flow).where(Flow.key == key)).one_or_none()
        if current is None:
            plan.items.append(Item("flow", key, "create"))
            plan.flow_keys[key] = key
            continue
        if current.draft is not None and _same(
            current.draft, renamed_tables(mapped_doc(doc, plan), plan.table_names)
        ):
            plan.items.append(Item("flow", key, "unchanged"))
            plan.flow_keys[key] = key
            continue
        target, action = key, plan.policy_for("flow", key)
        if action == "rename":
            target = _free_name(keys, key, "-")
            keys.add(target)
        plan.items.append(Item("flow", key, action, target))
        if action != "skip":
            plan.flow_keys[key] = target


def _same_rule(db: Session, key: str, spec: Mapping[str, Any]) -> bool:
    """Whether the live alert rule ``key`` already is what ``spec`` describes."""

    live = db.scalars(select(AlertRule).where(AlertRule.key == key)).one_or_none()
    if live is None:
        return False
    wanted, have = translate(spec)[0], translate(export_rule(live))[0]
    return all(have.get(k) == v for k, v in wanted.items() if k != "enabled")


def _kept(db: Session, plan: Plan) -> None:
    for kind, key, data in kept_items(plan.bundle):
        if kind == "alert_rule" and _same_rule(db, key, data):
            plan.items.append(Item(kind, key, "unchanged"))
            continue
        current = db.scalars(
            select(TemplateItem).where(TemplateItem.kind == kind, TemplateItem.key == key)
        ).one_or_none()
        if current is None:
            plan.items.append(Item(kind, key, "keep", note=_kept_note(kind, data)))
        elif _same(current.data, data):
            plan.items.append(Item(kind, key, "unchanged"))
        else:
            target, action = key, plan.policy_for(kind, key)
            if action == "rename":
                taken = set(db.scalars(select(TemplateItem.key).where(TemplateItem.kind == kind)))
                target = _free_name(taken, key, "-")
            plan.items.append(Item(kind, key, action, target, note=_kept_note(kind, data)))


def pending_note(kind: str) -> str:
    """What becomes of a kept item: alert rules go live, the other kinds are kept as data."""
    notes = {
        "alert_rule": _l(
            "Becomes an alert rule, evaluated by the workers on schedule and on events."
        ),
        "notification_text": _l(
            "Kept as a pending text: notify nodes carry their own message; the text is "
            "ready for the notification templates."
        ),
        "status_mapping": _l(
            "Its codes are added to the source system's status mapping (Integrations → "
            "Status mappings); codes naming a milestone that is no order state are kept as "
            "data."
        ),
        "status_board": _l("Kept as data: the suggested columns of the status board."),
    }
    return str(notes[kind])


def _kept_note(kind: str, data: Mapping[str, Any]) -> str:
    """What becomes of a kept item; a text for a channel this installation lacks says so."""
    note = pending_note(kind)
    if kind == "notification_text" and data.get("channel") not in channel_names():
        missing = _l(
            "No channel of the kind %(kind)s is known here: nothing will send this text.",
            kind=str(data.get("channel")),
        )
        note = f"{note} {missing}"
    return note


def kept_items(bundle: Bundle) -> list[tuple[str, str, dict[str, Any]]]:
    """The bundle parts stored as :class:`TemplateItem`: (kind, key, data)."""
    out = [("alert_rule", r["key"], dict(r)) for r in bundle.alert_rules]
    out += [("notification_text", t["key"], dict(t)) for t in bundle.notification_texts]
    out += [("status_mapping", src, {"source": src, "codes": dict(codes)})
            for src, codes in bundle.status_mappings.items()]  # fmt: skip
    if bundle.status_board:
        out.append(("status_board", bundle.id, dict(bundle.status_board)))
    return out


def webhook_hosts(bundle: Bundle) -> list[str]:
    """Hosts the bundle's webhook nodes call, in first-use order."""
    hosts: list[str] = []
    for doc in bundle.flows:
        for node in doc.get("nodes") or ():
            if node.get("type") == "webhook":
                host = (urlsplit(str(node["config"].get("url", ""))).hostname or "").lower()
                if host and host not in hosts:
                    hosts.append(host)
    return hosts


def _intake(db: Session, plan: Plan) -> None:
    """The bundle's ``intake`` section becomes an intake rule for the orders of its channels."""

    intake = plan.bundle.intake
    if not intake or not (intake.get("clean_address") or intake.get("dedup")):
        return
    if intake.get("clean_address"):
        try:
            address_parser(plan.bundle.id)
        except AddressParserMissingError as err:
            (problem,) = err.problems
            plan.refusals.append(in_reader_language(problem.message, problem.message_zh))
    same = intake_rules.same(db, f"template:{plan.bundle.id}", intake)
    channels = ", ".join(intake.get("channels") or ()) or str(_l("every channel"))
    what = []
    if intake.get("clean_address"):
        what.append(str(_l("addresses cleaned")))
    if intake.get("dedup"):
        what.append(str(_l("the same buyer order stored once")))
    note = str(
        _l(
            "Orders from %(channels)s are prepared before they are stored: %(what)s.",
            channels=channels,
            what="; ".join(what),
        )
    )
    action = "create" if same is None else ("unchanged" if same else "update")
    plan.items.append(Item("intake_rule", plan.bundle.id, action, note=note))


def _hosts(db: Session, plan: Plan) -> None:

    try:
        patterns = outbox.allowed_patterns(db)
    except RuntimeError:  # no queue app configured: only the admin's list counts
        patterns = []
    for host in webhook_hosts(plan.bundle):
        allowed = any(host == p or (p.startswith("*.") and host.endswith(p[1:])) for p in patterns)
        if allowed:
            plan.items.append(Item("webhook_host", host, "unchanged"))
        elif plan.allow_hosts:
            plan.items.append(Item("webhook_host", host, "create"))
        else:
            plan.items.append(
                Item(
                    "webhook_host",
                    host,
                    "warn",
                    note=str(
                        _l(
                            "Not on the outbound allowlist: webhooks to it are refused "
                            "until an admin allows the host."
                        )
                    ),
                )  # fmt: skip
            )


_REF = re.compile(r"\bref\.([a-z][a-z0-9_]*)\b")


def renamed_tables(doc: Any, names: Mapping[str, str]) -> Any:
    """``doc`` with ``ref.<table>`` in its expressions pointing at renamed tables."""
    if not names:
        return doc
    if isinstance(doc, str):
        return _REF.sub(lambda m: f"ref.{names.get(m.group(1), m.group(1))}", doc)
    if isinstance(doc, list):
        return [renamed_tables(v, names) for v in doc]
    if isinstance(doc, dict):
        return {k: renamed_tables(v, names) for k, v in doc.items()}
    return doc


def make_plan(
    db: Session,
    bundle: Bundle,
    *,
    params: Mapping[str, str] | None = None,
    policy: str = "rename",
    publish: bool = False,
    create_fields: bool = False,
    allow_hosts: bool = False,
    choices: Mapping[str, str] | None = None,
    people: Mapping[str, Any] | None = None,
) -> Plan:
    """The dry run: every item with its action, and the reasons the import would be refused.

    ``choices`` settles single conflicts differently from ``policy``: ``{"flow:key": "skip"}``;
    ``people`` maps the people, roles and departments the flows name (see ``.people``).
    """
    choices = dict(choices or {})
    if policy not in POLICIES or any(v not in POLICIES for v in choices.values()):
        raise ValidationError(
            _l("Choose how to settle conflicts: rename, overwrite or skip."),
            fields={"policy": "invalid"},
        )
    resolved = bundle.resolved(check_params(bundle, params or {}))
    plan = Plan(resolved, policy, publish, create_fields, allow_hosts, choices=choices)
    plan.people = dict(people or {})
    _fields(db, plan)
    _tables(db, plan)
    _stock(db, plan)
    map_people(db, plan)
    _flows(db, plan)
    _kept(db, plan)
    _intake(db, plan)
    _hosts(db, plan)
    return plan


_NUMBER = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")
_URL = re.compile(r"^https?://[^\s\"'{}]+$")
_TEXT = re.compile(r"^[^\"'{}\n\r\\]{1,200}$")


def check_params(bundle: Bundle, given: Mapping[str, str]) -> dict[str, str]:
    """The parameter values, checked by type (they are written into flow expressions)."""
    values: dict[str, str] = {}
    problems: dict[str, str] = {}
    for name, spec in bundle.parameters.items():
        value = str(given.get(name) or spec["default"]).strip()
        kind = spec.get("type", "text")
        pattern = {"number": _NUMBER, "url": _URL}.get(kind, _TEXT)
        unusable = url_problem(value) if kind == "url" else None
        if unusable is not None:
            problems[name] = str(
                _l(
                    "Not an address the outbox can call (%(value)s): %(reason)s. "
                    "Example: %(example)s",
                    value=value,
                    reason=in_reader_language(*unusable),
                    example=EXAMPLE_URL,
                )
            )
        elif not pattern.match(value):
            problems[name] = str(_l("Not a valid %(kind)s: %(value)s", kind=kind, value=value))
        values[name] = value
    unknown = sorted(set(given) - set(bundle.parameters))
    for name in unknown:
        problems[name] = str(_l("The bundle has no parameter %(name)s.", name=name))
    if problems:
        raise ValidationError(
            _l("Some template parameters are not valid."), fields=problems, code="bad_parameter"
        )
    return values
