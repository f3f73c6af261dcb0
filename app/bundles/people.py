"""The people a bundle's flows name, mapped onto this organisation at import.

A bundle written elsewhere assigns its approvals to business roles (and sometimes people or
departments) by key. The dry run lists each key with the flows that use it; a key this
organisation has maps to itself, any other must be mapped by the admin to one of theirs (or,
for a business role, created with its names), else the import is refused. The mapping rewrites
the keys in the imported flows, so nothing imports that would assign a task to nobody.

``people`` (the import option) maps ``"role:finance"`` to an existing key of that kind, to
``"new"`` (create the role with the names the bundle declares) or to ``{"zh", "en"}`` (create
it with these names).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from ..i18n import in_reader_language
from ..org import checks
from ..org.directory import directory_cache

# Assignee kind -> the kind of its dry-run item.
ITEM_KINDS = {"role": "business_role", "user": "person", "department": "department"}
NEW = "new"


def used_by(bundle: Any) -> dict[tuple[str, str], list[str]]:
    """Each (kind, key) the bundle's flows name, with the flows naming it."""
    out: dict[tuple[str, str], list[str]] = {}
    for doc in bundle.flows:
        for ref in checks.references(doc):
            flows = out.setdefault((ref.kind, ref.key), [])
            if doc["key"] not in flows:
                flows.append(doc["key"])
    return dict(sorted(out.items()))


def declared_role(bundle: Any, key: str) -> dict[str, Any]:
    """What the bundle says of a business role it uses: names and scope table."""
    spec = (bundle.requires.get("business_roles") or {}).get(key) or {}
    return {"zh": spec.get("zh") or key, "en": spec.get("en") or key, "scope": spec.get("scope")}


def _named(kind: str, key: str, org: Mapping[str, Any]) -> str:
    item = (org.get(checks.KINDS[kind][0]) or {}).get(key) or {}
    name = (
        item.get("name") if kind == "user" else in_reader_language(item.get("en"), item.get("zh"))
    )
    return f"{key} ({name})" if name and name != key else key


def map_people(db: Session, plan: Any) -> None:
    """Add one item per person, role and department key to ``plan``; refuse unmapped ones."""
    org = directory_cache.get(db)
    for (kind, key), flows in used_by(plan.bundle).items():
        existing = org.get(checks.KINDS[kind][0]) or {}
        item_kind = ITEM_KINDS[kind]
        choice = plan.people.get(f"{kind}:{key}")
        uses = str(_l("used by %(flows)s", flows=", ".join(flows)))
        if isinstance(choice, str) and choice in existing:
            action = "unchanged" if choice == key else "map"
            plan.add_person(item_kind, key, action, choice, f"{_named(kind, choice, org)} · {uses}")
            plan.people_keys[(kind, key)] = choice
        elif choice == NEW or isinstance(choice, Mapping):
            if kind != "role":
                plan.add_person(item_kind, key, "unmapped", note=uses)
                plan.refusals.append(
                    str(
                        _l(
                            "%(key)s: only business roles can be created at import; choose one"
                            " of your people or departments for it.",
                            key=key,
                        )
                    )
                )
                continue
            names = declared_role(plan.bundle, key)
            if isinstance(choice, Mapping):
                names.update({k: str(choice[k]).strip() for k in ("zh", "en") if choice.get(k)})
            plan.new_roles[key] = names
            plan.people_keys[(kind, key)] = key
            plan.add_person(
                item_kind, key, "create", key, f"{names['zh']} / {names['en']} · {uses}"
            )
        elif choice in (None, "") and key in existing:  # the same key here: used as it is
            plan.add_person(item_kind, key, "unchanged", key, f"{_named(kind, key, org)} · {uses}")
            plan.people_keys[(kind, key)] = key
        else:
            _unmapped(plan, kind, key, org, uses, choice)


def _unmapped(
    plan: Any, kind: str, key: str, org: Mapping[str, Any], uses: str, choice: Any
) -> None:
    noun = {"role": _l("business role"), "user": _l("person"), "department": _l("department")}
    guess = checks.suggest(kind, key, org)
    hint = str(_l(" Did you mean %(key)s?", key=_named(kind, guess, org))) if guess else ""
    plan.add_person(ITEM_KINDS[kind], key, "unmapped", note=f"{uses}{hint}")
    if choice not in (None, ""):
        why = _l("there is no %(kind)s %(choice)s here", kind=noun[kind], choice=choice)
    else:
        why = _l("this organisation has no %(kind)s with this key", kind=noun[kind])
    plan.refusals.append(
        str(
            _l(
                "%(key)s (%(kind)s, %(uses)s): %(why)s; map it to one of yours%(create)s"
                " before importing.%(hint)s",
                key=key,
                kind=noun[kind],
                uses=uses,
                why=why,
                create=_l(" or create it") if kind == "role" else "",
                hint=hint,
            )
        )
    )


def choices(db: Session, lang: str) -> dict[str, list[tuple[str, str]]]:
    """What each kind of dry-run item can be mapped to here: ``(key, "key · name")``."""
    org = directory_cache.get(db)
    out: dict[str, list[tuple[str, str]]] = {}
    for kind, item_kind in ITEM_KINDS.items():
        items = org.get(checks.KINDS[kind][0]) or {}
        out[item_kind] = []
        for key, item in items.items():
            name = item.get("name") if kind == "user" else item.get(lang) or item.get("zh")
            out[item_kind].append((key, f"{key} · {name}" if name and name != key else key))
    return out


def mapped_doc(doc: Any, plan: Any) -> Any:
    """A bundle flow with its people keys replaced as mapped."""
    names = {ref: target for ref, target in plan.people_keys.items() if target != ref[1]}
    return checks.renamed_keys(doc, names)
