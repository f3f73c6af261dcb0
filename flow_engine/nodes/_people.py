"""Assignees and recipients, resolved against the organisation in ``ref.org``.

An assignee is one of:

- ``{"user": "li.na"}``: one person;
- ``{"role": "finance"}``: whoever holds the business role, optionally for a scope computed
  from the order (``{"role": "warehouse_lead", "scope": "vars.route.warehouse"}``);
- ``{"department": "finance"}``: any member of the department, or with ``"head": true`` its
  head;
- ``{"manager_of": "customer.account_manager", "levels": 1}``: the manager of the person the
  expression names, ``levels`` up the manager chain;
- ``{"expression": "..."}``: user keys or business role keys (a text or a list of texts);
- ``{"contact": "consignee"}`` (notify nodes only): the order's own contact.

``ref.org`` is the directory the application keeps (``app.org.directory``)::

    {"users": {key: {"name", "active", "department", "manager", ...}},
     "roles": {key: {"zh", "en", "scope", "holders": {scope: [user, ...]}}},
     "departments": {key: {"zh", "en", "parent", "head", "members": [user, ...]}}}

Each entry must reach at least one active person. One that reaches nobody (the role has no
holder for the scope, everyone is deactivated, the manager chain ends) is replaced by the
node's fallback person; without one the node fails with ``no_approver`` and the reason, so
no task is ever assigned to nobody. Without ``ref.org`` (the pure engine, simulations
without a directory) entries are passed on as they are written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flow_engine.errors import NodeError
from flow_engine.nodes.base import CompileEnv, Runtime

KINDS = ("user", "role", "department", "manager_of", "expression", "contact")
# Where an order keeps each contact: the consignee is who receives the parcel (its own entry
# when a channel sends one, else the shipping address's name and phone).
CONTACT_SOURCES = {"consignee": ("consignee", "shipping_address"), "customer": ("customer",)}
MAX_LEVELS = 10


# Each entry is (kind, value or compiled expression, option); then the fallback person.
PeopleEntry = tuple[str, Any, Any]
CompiledPeople = tuple[tuple[PeopleEntry, ...], str | None]


def compile_people(
    specs: Sequence[Mapping[str, Any]],
    env: CompileEnv,
    rel: str,
    *,
    fallback: str | None = None,
    contacts: bool = False,
) -> CompiledPeople:
    """Compile assignee specs into ``(kinds, fallback)``; expressions are compiled once.

    The order's own contacts only receive notifications (``contacts``); they never decide.
    """
    out: list[PeopleEntry] = []
    for i, spec in enumerate(specs):
        if "contact" in spec and not contacts:
            env.error(
                "config",
                f"{rel}/{i}/contact",
                detail="the order's contact can be notified but cannot take a task",
                detail_zh="订单联系人只能接收通知，不能处理任务",
            )
            continue
        if "expression" in spec:
            expr = env.expression(spec["expression"], f"{rel}/{i}/expression")
            out.append(("expression", expr, None))
        elif "role" in spec:
            scope = spec.get("scope")
            expr = env.expression(scope, f"{rel}/{i}/scope") if scope else None
            out.append(("role", spec["role"], expr))
        elif "department" in spec:
            out.append(("department", spec["department"], bool(spec.get("head"))))
        elif "manager_of" in spec:
            expr = env.expression(spec["manager_of"], f"{rel}/{i}/manager_of")
            out.append(("manager_of", expr, int(spec.get("levels") or 1)))
        elif "contact" in spec:
            out.append(("contact", spec["contact"], None))
        else:
            out.append(("user", spec["user"], None))
    return tuple(out), fallback


def _text(zh: str, en: str) -> dict[str, str]:
    return {"zh": zh, "en": en}


class _Resolver:
    """Resolves one node's entries for one order against ``ref.org``."""

    def __init__(self, org: Mapping[str, Any] | None, rt: Runtime) -> None:
        self.org = org
        self.rt = rt
        self.users: Mapping[str, Any] = (org or {}).get("users") or {}
        self.roles: Mapping[str, Any] = (org or {}).get("roles") or {}
        self.departments: Mapping[str, Any] = (org or {}).get("departments") or {}

    def name(self, user: str) -> str:
        return str((self.users.get(user) or {}).get("name") or user)

    def active(self, users: Sequence[str]) -> list[str]:
        return [u for u in users if (self.users.get(u) or {}).get("active", False)]

    def evaluate(self, expr: Any) -> Any:
        return expr(self.rt.context, now=self.rt.now)

    # Each returns (entries, reason); entries empty means nobody, reason says why.

    def user(self, user: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
        if self.org is None:
            return [{"user": user}], {}
        if user not in self.users:
            return [], _text(f"没有用户「{user}」", f"there is no user {user!r}")
        if not self.active([user]):
            return [], _text(f"用户「{self.name(user)}」已停用", f"user {user!r} is deactivated")
        why = _text("指定给本人", "Assigned to you by name")
        return [{"user": user, "why": why}], {}

    def role(self, key: str, scope_expr: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
        scope = ""
        if scope_expr is not None:
            value = self.evaluate(scope_expr)
            if value is None or value == "":
                return [], _text(
                    f"角色「{key}」的范围 {scope_expr.source} 为空",
                    f"the scope {scope_expr.source} of role {key!r} is empty for this order",
                )
            scope = str(value)
        if self.org is None:
            return [{"role": key, **({"scope": scope} if scope else {})}], {}
        role = self.roles.get(key)
        if role is None:
            return [], _text(f"没有业务角色「{key}」", f"there is no business role {key!r}")
        zh, en = role.get("zh") or key, role.get("en") or key
        holders = self.active((role.get("holders") or {}).get(scope) or ())
        where_zh, where_en = (f"（{scope}）", f" for {scope}") if scope else ("", "")
        if not holders:
            return [], _text(
                f"业务角色「{zh}」{where_zh}没有在职的担任人",
                f"nobody active holds the business role {en}{where_en}",
            )
        why = _text(f"{zh} · {scope}" if scope else zh, f"{en} · {scope}" if scope else en)
        entry = {"role": key, "scope": scope, "people": holders, "why": why}
        return [entry], {}

    def department(self, key: str, head: bool) -> tuple[list[dict[str, Any]], dict[str, str]]:
        if self.org is None:
            return [{"department": key, **({"head": True} if head else {})}], {}
        dept = self.departments.get(key)
        if dept is None:
            return [], _text(f"没有部门「{key}」", f"there is no department {key!r}")
        zh, en = dept.get("zh") or key, dept.get("en") or key
        if head:
            boss = dept.get("head")
            if not boss or not self.active([boss]):
                return [], _text(
                    f"部门「{zh}」没有在职的负责人", f"the department {en} has no active head"
                )
            return [{"user": boss, "why": _text(f"{zh}负责人", f"Head of {en}")}], {}
        members = self.active(dept.get("members") or ())
        if not members:
            return [], _text(
                f"部门「{zh}」没有在职成员", f"the department {en} has no active member"
            )
        why = _text(f"{zh}成员", f"Member of {en}")
        return [{"department": key, "people": members, "why": why}], {}

    def manager_of(self, expr: Any, levels: int) -> tuple[list[dict[str, Any]], dict[str, str]]:
        start = self.evaluate(expr)
        if not isinstance(start, str) or not start:
            return [], _text(
                f"{expr.source} 没有给出人员（得到 {start!r}）",
                f"{expr.source} names nobody (it gave {start!r})",
            )
        if self.org is None:
            return [{"manager_of": start, "levels": levels}], {}
        person = start
        for _ in range(min(levels, MAX_LEVELS)):
            manager = (self.users.get(person) or {}).get("manager")
            if not manager:
                return [], _text(
                    f"「{self.name(person)}」没有上级（从「{self.name(start)}」向上 {levels} 级）",
                    f"{person!r} has no manager ({levels} level(s) up from {start!r})",
                )
            person = manager
        if not self.active([person]):
            return [], _text(
                f"上级「{self.name(person)}」已停用", f"manager {person!r} is deactivated"
            )
        level_zh = "上级" if levels == 1 else f"第 {levels} 级上级"
        level_en = "Manager" if levels == 1 else f"Manager {levels} levels up"
        why = _text(f"「{self.name(start)}」的{level_zh}", f"{level_en} of {self.name(start)}")
        return [{"user": person, "why": why}], {}

    def expression(self, expr: Any) -> tuple[list[dict[str, Any]], dict[str, str]]:
        result = self.evaluate(expr)
        keys = result if isinstance(result, list | tuple) else [result]
        out: list[dict[str, Any]] = []
        for key in keys:
            if key is None or key == "":
                continue
            if not isinstance(key, str):
                raise NodeError(
                    "bad_assignee",
                    f"assignee expression {expr.source!r} gave {key!r}, not a user or role key",
                    f"处理人表达式 {expr.source!r} 的结果 {key!r} 不是用户或角色编号",
                )
            if self.org is not None and key not in self.users and key in self.roles:
                found, _ = self.role(key, None)
            else:
                found, _ = self.user(key)
            out.extend(found)
        if not out:
            return [], _text(
                f"表达式 {expr.source} 没有给出在职的人员或角色",
                f"the expression {expr.source} gave no active person or role",
            )
        return out, {}

    def contact(self, which: str) -> tuple[list[dict[str, Any]], dict[str, str]]:
        order = self.rt.context["order"]
        for key in CONTACT_SOURCES.get(which, (which,)):
            contact = order.get(key) if isinstance(order, Mapping) else None
            if not isinstance(contact, Mapping):
                continue
            reach = {k: contact[k] for k in ("phone", "email", "name") if contact.get(k)}
            if reach.get("phone") or reach.get("email"):
                why = _text("订单联系人", "The order's contact")
                return [{"contact": which, **reach, "why": why}], {}
        return [], _text(
            f"订单没有「{which}」的电话或邮箱", f"the order has no phone or email for {which!r}"
        )


def _identity(entry: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple((k, v) for k, v in entry.items() if k not in ("why", "people"))


def resolve_people(
    compiled: CompiledPeople, rt: Runtime, *, code: str = "no_approver", every: bool = False
) -> list[dict[str, Any]]:
    """The entries of a node for this order, in configured order, without duplicates.

    With ``every`` (approvals where everyone must decide: all, sequential) each entry must
    reach somebody; otherwise entries that reach nobody are left out as long as one reaches
    somebody. What is missing goes to the node's fallback person; when even that reaches
    nobody, raises ``code`` (``no_approver``; ``no_recipient`` for notifications) with every
    reason.
    """
    specs, fallback = compiled
    resolver = _Resolver(rt.ref.get("org"), rt)
    out: list[dict[str, Any]] = []
    seen: set[tuple[tuple[str, Any], ...]] = set()
    missing: list[dict[str, str]] = []

    def add(entries: list[dict[str, Any]]) -> None:
        for entry in entries:
            ident = _identity(entry)
            if ident not in seen:
                seen.add(ident)
                out.append(entry)

    for kind, value, extra in specs:
        if kind == "role":
            found, reason = resolver.role(value, extra)
        elif kind == "department":
            found, reason = resolver.department(value, extra)
        elif kind == "manager_of":
            found, reason = resolver.manager_of(value, extra)
        elif kind == "contact":
            found, reason = resolver.contact(value)
        elif kind == "expression":
            found, reason = resolver.expression(value)
        else:
            found, reason = resolver.user(value)
        if found:
            add(found)
        else:
            missing.append(reason)
    if out and not every:
        missing = []
    if missing and fallback:
        found, reason = resolver.user(fallback)
        if found:
            why = {
                "zh": f"后备处理人（{missing[0]['zh']}）",
                "en": f"Fallback ({missing[0]['en']})",
            }
            add([{**found[0], "why": why}])
            missing = []
        else:
            missing.append(reason)
    if missing or not out:
        zh = "；".join(m["zh"] for m in missing) or "没有配置处理人"
        en = "; ".join(m["en"] for m in missing) or "no assignee is configured"
        if code == "no_recipient":
            raise NodeError(code, f"nobody to notify: {en}", f"没有可通知的人：{zh}")
        raise NodeError(code, f"nobody can take this task: {en}", f"没有人能处理这项任务：{zh}")
    return out
