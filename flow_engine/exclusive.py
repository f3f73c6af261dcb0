"""Exclusive groups: of the flows sharing a group, only the first that matches an order
event starts a run (highest ``group_priority``, then flow key); flows outside a group are
never held back."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from flow_engine.compiled import CompiledFlow

T = TypeVar("T")


def precedence(flow: CompiledFlow) -> tuple[int, str]:
    """Sort key inside an exclusive group: the smallest goes first."""
    return (-flow.flow.trigger.group_priority, flow.key)


def exclusive_winners(matched: Sequence[T], flow_of: Callable[[T], CompiledFlow]) -> list[T]:
    """Keep, of ``matched`` (the flows whose trigger matched one order event), every flow
    outside a group and the first flow of each group, in their given order."""
    first: dict[str, T] = {}
    for item in matched:
        group = flow_of(item).flow.trigger.exclusive_group
        if group is None:
            continue
        best = first.get(group)
        if best is None or precedence(flow_of(item)) < precedence(flow_of(best)):
            first[group] = item
    return [
        item
        for item in matched
        if (group := flow_of(item).flow.trigger.exclusive_group) is None or first[group] is item
    ]
