"""Acting nodes that hold stock: reserve and release inventory.

The reservation itself happens in the app's database, atomically: ``reserve_inventory`` emits
an awaited effect and waits for the app's ``effect_result`` (``reserved`` or ``insufficient``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flow_engine.effect_kinds import EffectKind, SimulatedWorld
from flow_engine.errors import NodeError
from flow_engine.events import EffectResult
from flow_engine.model import Node
from flow_engine.nodes.base import (
    EXPRESSION,
    VAR_NAME,
    BranchSpec,
    CompileEnv,
    HandlerBase,
    Ignore,
    Next,
    Runtime,
    Wait,
    field,
    obj,
)
from flow_engine.nodes.routing import demand
from flow_engine.state import Effect, Token


def _reserve_in_simulation(world: SimulatedWorld, effect: Effect) -> EffectResult:
    """Reserved from the simulation's stock (``ref.inventory``), all lines or none."""
    status, data = world.inventory.reserve(effect.payload["allocations"])
    return EffectResult(effect.id, status, data)


class ReserveInventoryHandler(HandlerBase):
    type = "reserve_inventory"
    effects = (EffectKind("reserve_inventory", _reserve_in_simulation),)
    family = "act"
    title = {"en": "Reserve inventory", "zh": "预占库存"}
    config_schema = obj(
        "Reserve inventory",
        "预占库存",
        {
            "warehouse": field(
                EXPRESSION,
                "Warehouse",
                "仓库",
                "Expression giving the warehouse id, e.g. vars.route.chosen; all lines.",
                "给出仓库编号的表达式，例如 vars.route.chosen；预占所有订单行。",
            ),
            "allocation": field(
                EXPRESSION,
                "Allocation",
                "分配方案",
                "Expression giving a split result (vars.split): one reservation for all.",
                "给出拆单结果的表达式（vars.split）：所有仓库一次性预占。",
            ),
            "store_as": field(VAR_NAME, "Store result as", "结果变量"),
        },
        description="Reserves atomically in the app's database; the run waits for the result: "
        "branch reserved or insufficient.",
        description_zh="在系统数据库中原子地预占库存；运行等待结果：走“已预占”或“库存不足”出口。",
    )

    def branches(self, config: Mapping[str, Any]) -> BranchSpec:
        labels = ("reserved", "insufficient")
        return BranchSpec(required=labels, allowed=frozenset(labels))

    def var_schema(self, node: Node) -> dict[str, Any]:
        return {node.config.get("store_as") or node.id: {"type": "object"}}

    def compile(self, node: Node, env: CompileEnv) -> Any:
        cfg = node.config
        if ("warehouse" in cfg) == ("allocation" in cfg):
            env.error(
                "config",
                "",
                detail="give exactly one of “Warehouse” (e.g. `vars.route.chosen`) or "
                "“Allocation” (e.g. `vars.split`)",
                detail_zh="「仓库」和「分配结果」须且只能填写一项，例如仓库填 `vars.route.chosen`，"
                "或分配结果填 `vars.split`",
            )
            return None
        key = "warehouse" if "warehouse" in cfg else "allocation"
        expr = env.expression(cfg[key], key, expect="string" if key == "warehouse" else None)
        return (key, expr, cfg.get("store_as") or node.id)

    def run(self, prep: Any, rt: Runtime) -> Wait:
        key, expr, _ = prep
        value = expr(rt.context, now=rt.now)
        order = rt.context["order"]
        if key == "warehouse":
            if not value:
                raise NodeError("no_warehouse", "no warehouse to reserve in", "没有可预占的仓库")
            allocations = [
                {"warehouse": value, "sku": s, "qty": q} for s, q in demand(order).items()
            ]
        else:
            shipments = (value or {}).get("shipments") if isinstance(value, Mapping) else None
            if not shipments:
                raise NodeError("no_allocation", "allocation has no shipments", "分配方案为空")
            allocations = [
                {"warehouse": s["warehouse"], "sku": ln["sku"], "qty": ln["qty"]}
                for s in shipments
                for ln in s["lines"]
            ]
        payload = {"order_id": order.get("external_id"), "allocations": allocations}
        effect = rt.emit("reserve_inventory", payload, awaited=True)
        wait = {"kind": "effect", "keys": ["effect:" + effect.id], "effect_id": effect.id}
        return Wait({**wait, "allocations": allocations})

    def resume(self, prep: Any, rt: Runtime, token: Token, event: Any) -> Next | Ignore:
        if not isinstance(event, EffectResult):
            return Ignore("not_waiting")
        store_as = prep[2]
        data = dict(event.data)
        if event.status == "reserved":
            allocations = token.wait["allocations"] if token.wait else []
            rt.hold_reservation(
                {"effect_id": event.effect_id, "node_id": token.node_id, "allocations": allocations}
            )
            rt.set_var(store_as, {"status": "reserved", **data})
            return Next("reserved", {"allocations": allocations})
        if event.status == "insufficient":
            rt.set_var(store_as, {"status": "insufficient", **data})
            return Next("insufficient", data)
        raise NodeError(
            "reservation_failed",
            f"inventory reservation failed: {event.status}",
            f"库存预占失败：{event.status}",
            details=data,
        )


class ReleaseInventoryHandler(HandlerBase):
    type = "release_inventory"
    family = "act"
    title = {"en": "Release inventory", "zh": "释放库存"}
    config_schema = obj(
        "Release inventory",
        "释放库存",
        {
            "reservation_of": field(
                {"type": "string"},
                "Reservation node",
                "预占节点",
                "Release only what this reserve_inventory node holds; default: everything.",
                "只释放该预占库存节点持有的库存；默认释放全部。",
            )
        },
    )

    def run(self, prep: Any, rt: Runtime) -> Next:
        released = rt.release_reservations(prep.get("reservation_of"))
        allocations = [a for r in released for a in r["allocations"]]
        if allocations:
            order_id = rt.context["order"].get("external_id")
            rt.emit("release_inventory", {"order_id": order_id, "allocations": allocations})
        return Next(None, {"released": allocations})
