"""Assignees and recipients: by role, by user, or by an expression returning user ids."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from flow_engine.errors import NodeError
from flow_engine.nodes.base import CompileEnv, Runtime


def compile_people(specs: Sequence[Mapping[str, Any]], env: CompileEnv, rel: str) -> tuple:
    """Compile assignee specs into (kind, value) pairs; expressions are compiled once."""
    out = []
    for i, spec in enumerate(specs):
        if "expression" in spec:
            expr = env.expression(spec["expression"], f"{rel}/{i}/expression")
            out.append(("expression", expr))
        elif "role" in spec:
            out.append(("role", spec["role"]))
        else:
            out.append(("user", spec["user"]))
    return tuple(out)


def resolve_people(people: tuple, rt: Runtime) -> list[dict[str, str]]:
    """Return [{"role": r} | {"user": u}] in configured order, without duplicates."""
    out: list[dict[str, str]] = []
    for kind, value in people:
        if kind != "expression":
            entry = {kind: value}
            if entry not in out:
                out.append(entry)
            continue
        result = value(rt.context, now=rt.now)
        users = result if isinstance(result, list | tuple) else [result]
        for user in users:
            if user is None or user == "":
                continue
            if not isinstance(user, str):
                raise NodeError(
                    "bad_assignee",
                    f"assignee expression {value.source!r} gave {user!r}, not a user id",
                    f"处理人表达式 {value.source!r} 的结果 {user!r} 不是用户编号",
                )
            if {"user": user} not in out:
                out.append({"user": user})
    if not out:
        raise NodeError(
            "no_assignee",
            "no assignee or recipient could be resolved for this order",
            "无法为该订单确定处理人或接收人",
        )
    return out
