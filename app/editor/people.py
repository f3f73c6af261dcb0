"""The assignee picker: people, business roles and departments found by Chinese, English or
pinyin, each with whom it reaches today ("财务 · 2 人：李娜、李强").

Pure over the directory snapshot (``app.org.directory``), so a search is no query beyond the
one that reads the organisation's revision.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .. import pinyin

# What the picker searches for each kind of assignee, and where in the snapshot.
SECTIONS = {"user": "users", "role": "roles", "department": "departments", "head": "departments"}
MAX_MATCHES = 20
MAX_NAMED = 5


def _name(kind: str, item: Mapping[str, Any], key: str, lang: str) -> str:
    if kind == "user":
        return str(item.get("name") or key)
    return str(item.get(lang) or item.get("zh") or key)


def _person(org: Mapping[str, Any], user: str) -> str:
    return str(((org.get("users") or {}).get(user) or {}).get("name") or user)


def _active(org: Mapping[str, Any], users: Any) -> list[str]:
    known = org.get("users") or {}
    return [u for u in users if (known.get(u) or {}).get("active")]


def reached(kind: str, key: str, org: Mapping[str, Any]) -> tuple[list[str], dict[str, list[str]]]:
    """The active people an assignee reaches today, and for a scoped role who per scope."""
    item = (org.get(SECTIONS[kind]) or {}).get(key) or {}
    if kind == "user":
        return _active(org, [key] if item else []), {}
    if kind == "head":
        return _active(org, [item["head"]] if item.get("head") else []), {}
    if kind == "department":
        return _active(org, item.get("members") or ()), {}
    by_scope = {s: _active(org, users) for s, users in (item.get("holders") or {}).items()}
    people = sorted({u for users in by_scope.values() for u in users})
    scoped = {s: users for s, users in sorted(by_scope.items()) if s and users}
    return people, scoped


def summary(kind: str, key: str, org: Mapping[str, Any], lang: str) -> str:
    """One line saying whom the assignee reaches: ``财务 · 2 人：李娜、李强``."""
    item = (org.get(SECTIONS[kind]) or {}).get(key)
    if item is None:
        return f"没有「{key}」" if lang == "zh" else f"there is no {key!r}"
    name = _name(kind, item, key, lang)
    if kind == "head":
        name = f"{name}负责人" if lang == "zh" else f"Head of {name}"
    people, scoped = reached(kind, key, org)
    if not people:
        if lang == "zh":
            return f"{name} · 0 人：目前没有在职的人，任务会交给后备处理人，否则成为事件"
        return f"{name} · nobody active today: the task would go to the fallback, else an incident"
    if scoped:
        sep = "；" if lang == "zh" else "; "
        names = sep.join(
            f"{scope} {('、' if lang == 'zh' else ', ').join(_person(org, u) for u in users)}"
            for scope, users in scoped.items()
        )
        if lang == "zh":
            return f"{name} · 按范围 {len(people)} 人：{names}"
        return f"{name} · {len(people)} by scope: {names}"
    shown = [_person(org, u) for u in people[:MAX_NAMED]]
    if lang == "zh":
        more = " 等" if len(people) > MAX_NAMED else ""
        return f"{name} · {len(people)} 人：{'、'.join(shown)}{more}"
    more = " …" if len(people) > MAX_NAMED else ""
    noun = "person" if len(people) == 1 else "people"
    return f"{name} · {len(people)} {noun}: {', '.join(shown)}{more}"


def search(
    org: Mapping[str, Any], kind: str, query: str = "", *, key: str | None = None, lang: str = "zh"
) -> list[dict[str, Any]]:
    """Matches of ``kind`` for ``query`` (key, Chinese or English name, pinyin or initials),
    or the one entry ``key``; each with whom it reaches today."""
    items: Mapping[str, Any] = org.get(SECTIONS[kind]) or {}
    out = []
    for k, item in items.items():
        if key is not None and k != key:
            continue
        texts = (
            (k, str(item.get("name") or ""))
            if kind == "user"
            else (k, item.get("zh") or "", item.get("en") or "")
        )
        if key is None and not pinyin.matches(query, *texts):
            continue
        people, scoped = reached(kind, k, org)
        out.append(
            {
                "kind": kind,
                "key": k,
                "name": _name(kind, item, k, lang),
                "count": len(people),
                "people": [_person(org, u) for u in people],
                "scoped": {s: [_person(org, u) for u in users] for s, users in scoped.items()},
                "scope_table": item.get("scope") if kind == "role" else None,
                "summary": summary(kind, k, org, lang),
            }
        )
        if len(out) >= MAX_MATCHES:
            break
    return out
