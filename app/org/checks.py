"""Every person, business role and department a flow names must exist in the organisation.

One check for every door a flow comes through (``orderflow flow validate``, the editor's live
checks, save, publish, the API, flow and template import): an approval for ``aprover`` would
otherwise publish and then wait for nobody. Each unknown key is an error pinned to its node and
field, in the shape of the engine's issues, with a "did you mean" found by key, by Chinese or
English name and by pinyin (``caiwu`` finds 财务, ``审批人`` finds the role named so).

The check is pure: a flow document and the directory snapshot (``directory.build``) in, issues
out. Keys inside expressions are computed per order and are checked when the run resolves them.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from flow_engine import ValidationIssue

from .. import pinyin

# Where assignees live in a node's config: (JSON pointer below config, zh label, en label).
PEOPLE_FIELDS = (
    ("assignees", "处理人", "Assignees"),
    ("to", "接收人", "Recipients"),
    ("sla/escalate_to", "升级给", "Escalate to"),
)
FALLBACK = ("fallback", "后备处理人", "Fallback person")
# kind in an assignee -> (directory section, issue code, zh noun, en noun)
KINDS = {
    "user": ("users", "unknown_user", "人员", "person"),
    "role": ("roles", "unknown_role", "业务角色", "business role"),
    "department": ("departments", "unknown_department", "部门", "department"),
}
MAX_LISTED = 8


@dataclass(frozen=True, slots=True)
class Reference:
    """One key a flow names: which node, which field, what kind."""

    node_id: str | None
    node_zh: str
    node_en: str
    path: str
    field_zh: str
    field_en: str
    kind: str
    key: str


def _node_names(node: Mapping[str, Any]) -> tuple[str, str]:
    name = node.get("name")
    node_id = str(node.get("id") or "")
    if isinstance(name, Mapping):
        zh = str(name.get("zh") or name.get("en") or node_id)
        return zh, str(name.get("en") or name.get("zh") or node_id)
    return (str(name), str(name)) if isinstance(name, str) and name else (node_id, node_id)


def _at(config: Mapping[str, Any], pointer: str) -> Any:
    value: Any = config
    for part in pointer.split("/"):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def references(doc: Mapping[str, Any]) -> Iterator[Reference]:
    """Every literal user, role and department key in ``doc``'s assignee fields."""
    nodes = doc.get("nodes") if isinstance(doc, Mapping) else None
    for index, node in enumerate(nodes if isinstance(nodes, list) else ()):
        config = node.get("config") if isinstance(node, Mapping) else None
        if not isinstance(config, Mapping):
            continue
        node_id = node.get("id") if isinstance(node.get("id"), str) else None
        zh, en = _node_names(node)
        base = f"/nodes/{index}/config"
        for pointer, field_zh, field_en in PEOPLE_FIELDS:
            entries = _at(config, pointer)
            for i, entry in enumerate(entries if isinstance(entries, list) else ()):
                if not isinstance(entry, Mapping):
                    continue
                for kind in KINDS:
                    key = entry.get(kind)
                    if isinstance(key, str) and key:
                        path = f"{base}/{pointer}/{i}/{kind}"
                        yield Reference(node_id, zh, en, path, field_zh, field_en, kind, key)
        fallback = config.get(FALLBACK[0])
        if isinstance(fallback, str) and fallback:
            path = f"{base}/{FALLBACK[0]}"
            yield Reference(node_id, zh, en, path, FALLBACK[1], FALLBACK[2], "user", fallback)


def _names(kind: str, key: str, item: Mapping[str, Any]) -> tuple[str, ...]:
    if kind == "user":
        return (str(item.get("name") or key),)
    return tuple(str(item[lang]) for lang in ("zh", "en") if item.get(lang))


def suggest(kind: str, typed: str, org: Mapping[str, Any]) -> str | None:
    """The key of ``kind`` the person most likely meant by ``typed``, or None.

    By name (``审批人``, ``Finance``), by pinyin of the Chinese name (``caiwu``, ``cw``), then by
    spelling of the key or the English name (``aprover``).
    """
    items: Mapping[str, Any] = org.get(KINDS[kind][0]) or {}
    wanted = typed.strip().lower()
    compact = wanted.replace(" ", "").replace("_", "").replace("-", "").replace(".", "")
    for key, item in items.items():
        if wanted in (n.lower() for n in _names(kind, key, item)):
            return key
    if not wanted.isascii():  # part of a Chinese name: 财务 for 财务部
        for key, item in items.items():
            if any(wanted in n or n in wanted for n in _names(kind, key, item) if not n.isascii()):
                return key
    if compact.isascii() and compact:
        for key, item in items.items():
            for name in _names(kind, key, item):
                if not name.isascii() and compact in (pinyin.full(name), pinyin.initials(name)):
                    return key
    spelled: dict[str, str] = {key.lower(): key for key in items}
    for key, item in items.items():
        spelled.update({n.lower(): key for n in _names(kind, key, item) if n.isascii()})
    close = difflib.get_close_matches(wanted, list(spelled), n=1, cutoff=0.6)
    return spelled[close[0]] if close else None


def _label(kind: str, key: str, org: Mapping[str, Any]) -> tuple[str, str]:
    item = (org.get(KINDS[kind][0]) or {}).get(key) or {}
    if kind == "user":
        zh = en = str(item.get("name") or key)
    else:
        zh = str(item.get("zh") or key)
        en = str(item.get("en") or zh)
    return (f"{key}（{zh}）" if zh != key else key), (f"{key} ({en})" if en != key else key)


def _problem(ref: Reference, org: Mapping[str, Any]) -> ValidationIssue:
    section, code, noun_zh, noun_en = KINDS[ref.kind]
    where_zh = f"节点「{ref.node_zh}」的{ref.field_zh}"
    where_en = f'{ref.field_en} of node "{ref.node_en}"'
    zh = f"{where_zh}：没有{noun_zh}「{ref.key}」"
    en = f'{where_en}: there is no {noun_en} "{ref.key}"'
    guess = suggest(ref.kind, ref.key, org)
    if guess is not None:
        label_zh, label_en = _label(ref.kind, guess, org)
        zh += f"。您是不是要找 {label_zh}？"
        en += f". Did you mean {label_en}?"
    else:
        other = next(
            (k for k, v in KINDS.items() if k != ref.kind and ref.key in (org.get(v[0]) or {})),
            None,
        )
        if other is not None:
            zh += f"。「{ref.key}」是{KINDS[other][2]}，请把类型改为{KINDS[other][2]}"
            en += f'. "{ref.key}" is a {KINDS[other][3]}: choose the kind {KINDS[other][3]}'
        else:
            keys = sorted(org.get(section) or {})
            listed = ", ".join(keys[:MAX_LISTED]) + (" …" if len(keys) > MAX_LISTED else "")
            zh += (
                f"。可用的{noun_zh}：{listed}"
                if keys
                else f"。组织架构里还没有{noun_zh}，请先在 管理 → 组织架构 中添加"
            )
            en += (
                f". Known {noun_en}s: {listed}"
                if keys
                else f". The organisation has no {noun_en} yet: add one under Admin → Organisation"
            )
    return ValidationIssue(code=code, path=ref.path, message=en, message_zh=zh, node_id=ref.node_id)


def check_flow(doc: Mapping[str, Any], org: Mapping[str, Any]) -> list[ValidationIssue]:
    """An error for every user, business role or department key ``doc`` names that ``org``
    (the directory snapshot) does not have."""
    out = []
    for ref in references(doc):
        if ref.key not in (org.get(KINDS[ref.kind][0]) or {}):
            out.append(_problem(ref, org))
    return out


def used_keys(doc: Mapping[str, Any]) -> dict[str, set[str]]:
    """The keys of each kind ``doc`` names: ``{"role": {"finance"}, "user": set(), ...}``."""
    out: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for ref in references(doc):
        out[ref.kind].add(ref.key)
    return out


def renamed_keys(doc: Any, names: Mapping[tuple[str, str], str]) -> Any:
    """``doc`` with the keys in its assignee fields replaced: ``{("role", "finance"): "cw"}``."""
    if not names or not isinstance(doc, Mapping):
        return doc
    nodes = []
    for node in doc.get("nodes") or ():
        config = node.get("config") if isinstance(node, Mapping) else None
        if not isinstance(config, Mapping):
            nodes.append(node)
            continue
        config = dict(config)
        for pointer, _zh, _en in PEOPLE_FIELDS:
            head, _, tail = pointer.partition("/")
            if tail:
                inner = config.get(head)
                if isinstance(inner, Mapping) and isinstance(inner.get(tail), list):
                    config[head] = {**inner, tail: _renamed_entries(inner[tail], names)}
            elif isinstance(config.get(head), list):
                config[head] = _renamed_entries(config[head], names)
        fallback = config.get(FALLBACK[0])
        if isinstance(fallback, str) and ("user", fallback) in names:
            config[FALLBACK[0]] = names[("user", fallback)]
        nodes.append({**node, "config": config})
    return {**doc, "nodes": nodes}


def _renamed_entries(entries: list[Any], names: Mapping[tuple[str, str], str]) -> list[Any]:
    out = []
    for entry in entries:
        if isinstance(entry, Mapping):
            entry = {
                k: names.get((k, v), v) if k in KINDS and isinstance(v, str) else v
                for k, v in entry.items()
            }
        out.append(entry)
    return out
