"""What the organisation accepts, as messages shared by the services and the CSV import:
keys, holder scopes, managers, and the "did you mean" that follows an unknown key.

Each function returns the message in the reader's language (or ``None`` when all is well),
so that a page, the API, the CLI and a CSV row all say the same thing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Mapping

from flask_babel import gettext as _

from .. import pinyin
from ..i18n import current_language

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_NAME = 128
MAX_SCOPE = 64


def suggest(word: str, choices: Mapping[str, Iterable[str]]) -> str | None:
    """The key of ``choices`` (key -> names) that ``word`` most likely meant: the same key
    in other case, a key whose Chinese or English name (or its pinyin) is ``word``, else a
    key spelled closely."""
    wanted = (word or "").strip().lower()
    if not wanted:
        return None
    compact = wanted.replace(" ", "")
    for key, names in choices.items():
        if key.lower() == wanted:
            return key
        for name in names:
            if not name:
                continue
            if name.lower() == wanted:
                return key
            if compact.isascii() and compact in (pinyin.full(name), pinyin.initials(name)):
                return key
    close = difflib.get_close_matches(wanted, [k.lower() for k in choices], n=1, cutoff=0.6)
    if close:
        return next(k for k in choices if k.lower() == close[0])
    return None


def sep() -> str:
    """What goes between two sentences: a space in English, nothing in Chinese."""
    return "" if current_language() == "zh" else " "


def hint(word: str, choices: Mapping[str, Iterable[str]]) -> str:
    """ " Did you mean …?" (with the separator before it), or "" without a close key."""
    best = suggest(word, choices)
    return sep() + _("Did you mean %(key)s?", key=best) if best and best != word else ""


def key_message(key: str, example: str) -> str | None:
    """Why ``key`` is no department or business role key, with an example."""
    if KEY_RE.match(key):
        return None
    return _(
        "The key %(key)s is not accepted: use a lowercase letter, then up to 63 lowercase "
        "letters, digits or underscores, for example %(example)s.",
        key=repr(key),
        example=example,
    )


def scope_message(role: str, table: str | None, scope: str, keys: list[str]) -> str | None:
    """Why ``scope`` cannot be held for business role ``role`` scoped by ``table`` (whose
    row keys are ``keys``; ``table`` None for a role without scope)."""
    if table is None:
        if not scope:
            return None
        return _(
            "The business role %(role)s has no scope, so it is held without one: write "
            "%(role)s, not %(role)s@%(scope)s.",
            role=role,
            scope=scope,
        )
    if not scope:
        return _(
            "The business role %(role)s is held for one key of %(table)s: give it, for "
            "example %(role)s@%(example)s.",
            role=role,
            table=table,
            example=keys[0] if keys else "SH-01",
        )
    if scope in keys:
        return None
    shown = ", ".join(keys[:20]) + (" …" if len(keys) > 20 else "") if keys else "—"
    return _(
        "%(scope)s is not a key of %(table)s, which scopes the business role "
        "%(role)s.%(hint)s Keys: %(keys)s.",
        scope=repr(scope),
        table=table,
        role=role,
        hint=hint(scope, {k: () for k in keys}),
        keys=shown,
    )


def manager_message(name: str, manager: str, active: bool, chain: Mapping[str, str | None]
                    ) -> str | None:  # fmt: skip
    """Why ``manager`` cannot manage ``name``: themself, deactivated, or a loop in the
    manager ``chain`` (username -> manager) as it would be."""
    if manager == name:
        return _("%(name)s cannot be their own manager; choose another person.", name=name)
    if not active:
        return _(
            "%(manager)s is deactivated and cannot manage %(name)s; choose an active person.",
            manager=manager,
            name=name,
        )
    seen = [name]
    at: str | None = manager
    while at is not None and at not in seen:
        seen.append(at)
        at = chain.get(at)
    if at != name:
        return None
    return _(
        "%(manager)s cannot manage %(name)s: the manager chain would go round in a circle "
        "(%(loop)s). Choose someone who does not report to %(name)s.",
        manager=manager,
        name=name,
        loop=" → ".join([*seen, name]),
    )
