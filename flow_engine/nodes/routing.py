"""Acting nodes that choose where an order ships from: route and split.

Reference data (``ref``) these nodes read::

    {"warehouses": [{"id": "GZ-01", "regions": ["广东", "*"], "cost": 10, "active": true,
                     "capabilities": ["cold_chain"]}, ...],
     "carriers":   [{"id": "SF", "regions": [...], "capabilities": [...], "cost": 12}, ...],
     "inventory":  {"GZ-01": {"SKU-1": 40, ...}, ...}}      # available units per warehouse

Reference tables are read as immutable values: a node prepares a table's rows once and reuses
them while it is handed the same list, so a changed table must be a new list (the app's
reference cache builds new lists on every change; stock in ``inventory`` is read afresh).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flow_engine.effect_kinds import EffectKind
from flow_engine.errors import NodeError
from flow_engine.model import Node
from flow_engine.nodes.base import (
    CONDITION,
    EXPRESSION,
    VAR_NAME,
    BranchSpec,
    CompileEnv,
    HandlerBase,
    Next,
    Runtime,
    field,
    obj,
)

_CANDIDATE = {"candidate": {"type": "object", "additionalProperties": True}}
_CONSTRAINTS = ["active", "stock", "region", "capability"]
_ZH = {"active": "启用", "stock": "有库存", "region": "覆盖地区", "capability": "具备能力"}


def demand(order: Mapping[str, Any]) -> dict[str, int]:
    """Units needed per SKU (lines of the same SKU added up)."""
    out: dict[str, int] = {}
    for line in order.get("lines") or ():
        sku = line.get("sku")
        if sku is not None:
            out[sku] = out.get(sku, 0) + int(line.get("qty") or 0)
    return out


def _required_caps(order: Mapping[str, Any]) -> set[str]:
    caps: set[str] = set()
    for line in order.get("lines") or ():
        for key, value in (line.get("attributes") or {}).items():
            if value is True:
                caps.add(key)
    return caps


# What an order asks of a warehouse or carrier, computed once per node run.
class _Needs:
    __slots__ = ("demand", "caps", "places", "inventory")

    def __init__(self, order: Mapping[str, Any], ref: Mapping[str, Any], caps: set[str]) -> None:
        self.demand = demand(order)
        self.caps = caps
        addr = order.get("shipping_address") or {}
        wanted = (addr.get("province"), addr.get("city"), addr.get("country"))
        self.places = [p for p in wanted if p]
        self.inventory = ref.get("inventory") or {}


class _Candidate:
    """A reference row read once for every order routed over the same table."""

    __slots__ = ("row", "id", "key", "active", "regions", "capabilities", "cost")

    def __init__(self, row: Mapping[str, Any]) -> None:
        self.row = row
        self.key = row.get("id")
        self.id = str(self.key)
        self.active = bool(row.get("active", True))
        regions = row.get("regions")
        self.regions = None if regions is None or "*" in regions else frozenset(regions)
        self.capabilities = frozenset(row.get("capabilities") or ())
        self.cost = row.get("cost", 0)


class _Candidates:
    """The candidates of one table, rebuilt only when the app hands over a new table.

    Compiled flows are shared between threads: the table and its entries are kept as one
    tuple, swapped in one assignment, so a reader never pairs one table with another's rows.
    """

    __slots__ = ("pair",)

    def __init__(self) -> None:
        self.pair: tuple[Any, tuple[_Candidate, ...]] = (None, ())

    def of(self, rows: Any) -> tuple[_Candidate, ...]:
        pair = self.pair
        if pair[0] is rows:  # the list itself is kept, so its identity stays its own
            return pair[1]
        entries = tuple(_Candidate(r) for r in rows)
        self.pair = (rows, entries)
        return entries


def _active(cand: _Candidate, needs: _Needs) -> str | None:
    return None if cand.active else "inactive"


def _in_stock(cand: _Candidate, needs: _Needs) -> str | None:
    stock = needs.inventory.get(cand.key) or {}
    for sku, qty in needs.demand.items():
        if (stock.get(sku) or 0) < qty:
            short = [s for s, q in needs.demand.items() if (stock.get(s) or 0) < q]
            return f"no stock for {', '.join(short)}"
    return None


def _serves(cand: _Candidate, needs: _Needs) -> str | None:
    regions = cand.regions
    if regions is None:
        return None
    for place in needs.places:
        if place in regions:
            return None
    return f"does not serve {needs.places[0] if needs.places else 'the address'}"


def _capable(cand: _Candidate, needs: _Needs) -> str | None:
    if not needs.caps:
        return None
    missing = sorted(needs.caps - cand.capabilities)
    return f"lacks {', '.join(missing)}" if missing else None


# The constraint a rejection reason comes from (reasons are written by the checks above and
# by RouteHandler.run for the extra constraints and the cost score).
_REASON_OF = (("inactive", "active"), ("no stock", "stock"), ("does not serve", "region"),
              ("lacks", "capability"), ("fails ", "where"), ("no cost score", "cost"))  # fmt: skip
_REASON_ZH = {**_ZH, "where": "附加约束", "cost": "成本评分"}
_TABLE_ZH = {"warehouses": "仓库", "carriers": "承运商"}
_ORDER_FIELD = {"warehouses": "order.warehouse", "carriers": "order.carrier"}


def _no_candidate(
    names: tuple[str, str], table: str, count: int, rejected: Mapping[str, str]
) -> NodeError:
    """The incident of a route that found no candidate and has no "none" exit to take."""
    eliminated: dict[str, list[str]] = {}
    for cand, reason in rejected.items():
        name = next((c for prefix, c in _REASON_OF if reason.startswith(prefix)), "where")
        eliminated.setdefault(name, []).append(cand)
    what, what_zh = table[:-1], _TABLE_ZH.get(table, table)
    if not eliminated:
        why = (f"the reference table '{table}' has no rows", f"参考表“{table}”没有数据")
    else:
        why = (
            f"none of the {count} meets its constraints ("
            + "; ".join(f"{c}: {', '.join(ids)}" for c, ids in eliminated.items())
            + ")",
            f"{count} 个候选均不满足约束（"
            + "；".join(
                f"{_REASON_ZH.get(c, c)}：{'、'.join(ids)}" for c, ids in eliminated.items()
            )
            + "）",
        )
    return NodeError(
        "no_candidate",
        f"Route '{names[0]}' found no {what}: {why[0]}. Connect its \"none\" exit (no "
        "candidate) to handle such orders, or change the constraints or the reference data, "
        "then retry the run.",
        f"路由“{names[1]}”没有可选的{what_zh}：{why[1]}。请连接该节点的“无可选”（none）出口"
        "来处理这类订单，或调整约束或参考数据，然后重试。",
        {"table": table, "eliminated": eliminated, "rejected": dict(rejected)},
    )


Check = Callable[[_Candidate, _Needs], str | None]
CHECKS: dict[str, Check] = {
    "active": _active,
    "stock": _in_stock,
    "region": _serves,
    "capability": _capable,
}
CHEAP_FIRST = ("region", "active", "capability", "stock")


# Check functions for the configured constraints, cheapest and most selective first.
def _checks(constraints: Any) -> tuple[Check, ...]:
    return tuple(CHECKS[name] for name in CHEAP_FIRST if name in constraints)


class RouteHandler(HandlerBase):
    type = "route"
    family = "act"
    title = {"en": "Route", "zh": "路由选择"}
    config_schema = obj(
        "Route",
        "路由选择",
        {
            "table": field(
                {"enum": ["warehouses", "carriers"]},
                "Choose from",
                "选择对象",
                enum_zh={"warehouses": "仓库", "carriers": "承运商"},
            ),
            "constraints": field(
                {"type": "array", "items": {"enum": _CONSTRAINTS}, "uniqueItems": True},
                "Hard constraints",
                "硬性约束",
                "active, stock (every line in stock), region (serves the address), "
                "capability (hazmat, cold_chain ... flagged on the lines); the reason recorded "
                "for a rejected candidate is the first failed check, cheapest checks first",
                "启用（`active`）、库存（`stock`，每行都有货）、区域（`region`，覆盖收货地址）、能力（`capability`，如订单行标记的 `hazmat`、`cold_chain`）；候选被排除时记录第一个未通过的检查，开销小的检查先做",
                enum_zh=_ZH,
            ),
            "where": field(
                {"type": "array", "items": CONDITION},
                "Extra constraints",
                "附加约束",
                "Conditions over candidate.* and the order.",
                "针对 candidate.* 和订单的条件。",
            ),
            "capabilities": field(
                EXPRESSION,
                "Required capabilities",
                "所需能力",
                "List expression; defaults to line attributes set to true.",
                "列表表达式；默认取订单行上值为真的属性。",
            ),
            "cost": field(
                EXPRESSION,
                "Cost score",
                "成本评分",
                "Lowest wins; defaults to candidate.cost.",
                "最低者胜出；默认为 candidate.cost。",
            ),
            "store_as": field(VAR_NAME, "Store choice as", "结果变量"),
        },
        required=("table",),
        description="Keeps the candidates that meet every hard constraint and picks the one with "
        "the lowest cost score; the choice and the reason are recorded, and the chosen id is "
        "set on the order (order.warehouse or order.carrier).",
        description_zh="保留满足全部硬约束的候选，选出成本分最低的一个；选择结果和原因都会记录，选中的编号写入订单（order.warehouse 或 order.carrier）。",
    )

    def branches(self, config: Mapping[str, Any]) -> BranchSpec:
        # "none" (no candidate) may be left open in a draft; publishing refuses that
        return BranchSpec(required=("found",), allowed=frozenset({"found", "none"}))

    def var_schema(self, node: Node) -> dict[str, Any]:
        props = {
            "chosen": {"type": "string"},
            "cost": {"type": "number"},
            "reason": {"type": "string"},
            "eligible": {"type": "array", "items": {"type": "string"}},
        }
        return {node.config.get("store_as") or node.id: {"type": "object", "properties": props}}

    def compile(self, node: Node, env: CompileEnv) -> Any:
        cfg = node.config
        where = tuple(
            env.expression(src, f"where/{i}", expect="boolean", extra=_CANDIDATE)
            for i, src in enumerate(cfg.get("where", ()))
        )
        caps_src = cfg.get("capabilities")
        caps = env.expression(caps_src, "capabilities") if caps_src else None
        cost_src = cfg.get("cost")
        cost = env.expression(cost_src, "cost", extra=_CANDIDATE) if cost_src else None
        constraints = tuple(cfg.get("constraints", ("active",)))
        checks = _checks(constraints)
        store_as = cfg.get("store_as") or node.id
        cache = _Candidates()
        names = (node.name.get("en") or node.name.get("zh") or node.id, node.name.get("zh"))
        names = (names[0], names[1] or names[0])
        if "none" not in env.connected:
            table_zh = _TABLE_ZH.get(cfg["table"], cfg["table"])
            env.warning("route_no_candidate_exit", "", name=names[0], name_zh=names[1],
                        table=cfg["table"][:-1], table_zh=table_zh)  # fmt: skip
        missing = None if "none" in env.connected else names
        return (cfg["table"], constraints, checks, where, caps, cost, store_as, cache, missing)

    def run(self, prep: Any, rt: Runtime) -> Next:
        table, constraints, checks, where, caps_expr, cost_expr, store_as, cache, missing = prep
        context, now = rt.context, rt.now
        order = context["order"]
        if caps_expr is not None:
            value = caps_expr(context, now=now) or []
            caps = {str(v) for v in (value if isinstance(value, list | tuple) else [value])}
        else:
            caps = _required_caps(order) if _capable in checks else set()
        needs = _Needs(order, rt.ref, caps)
        rejected: dict[str, str] = {}
        eligible: list[str] = []
        best: _Candidate | None = None
        best_cost: Any = None  # a number, Decimal when a cost expression scores
        rows = rt.ref.get(table) or ()
        scored = bool(where) or cost_expr is not None
        for cand in cache.of(rows):
            reason = None
            for check in checks:
                reason = check(cand, needs)
                if reason is not None:
                    break
            if reason is None and scored:
                ctx = {**context, "candidate": cand.row}
                for expr in where:
                    if expr(ctx, now=now) is not True:
                        reason = f"fails {expr.source}"
                        break
                cost = cost_expr(ctx, now=now) if cost_expr is not None and reason is None else None
                if reason is None and cost is None and cost_expr is not None:
                    reason = "no cost score"
            else:
                cost = cand.cost
            if reason is not None:
                rejected[cand.id] = reason
                continue
            if cost is None:
                cost = 0
            eligible.append(cand.id)
            if best is None or cost < best_cost:  # ties keep the earlier candidate
                best, best_cost = cand, cost
        if best is None:
            choice: dict[str, Any] = {
                "chosen": None,
                "reason": "no eligible candidate",
                "rejected": rejected,
            }
            rt.set_var(store_as, choice)
            if missing is not None:  # never go on without a choice: a visible incident
                raise _no_candidate(missing, table, len(rows), rejected)
            return Next("none", {"rejected": rejected, "constraints": list(constraints)})
        reason = f"lowest cost {best_cost} among {len(eligible)} eligible of {len(rows)}"
        chosen = best.key
        choice = {
            "chosen": chosen,
            "cost": best_cost,
            "reason": reason,
            "eligible": eligible,
            "rejected": rejected,
        }
        rt.set_var(store_as, choice)
        # The choice reaches the order: order.warehouse or order.carrier.
        rt.set_path(_ORDER_FIELD[table], chosen)
        return Next("found", {"chosen": chosen, "reason": reason, "rejected": rejected})


# Greedy: the warehouse covering most remaining units first, cost then list order on ties.
def _allocate(
    need: dict[str, int], warehouses: list[Mapping[str, Any]], inventory: Mapping[str, Any]
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    remaining = dict(need)
    shipments = []
    pool = list(enumerate(warehouses))
    while remaining and pool:

        def cover(item: tuple[int, Mapping[str, Any]]) -> tuple[int, Any, int]:
            stock = inventory.get(item[1].get("id", "")) or {}
            units = sum(min(int(stock.get(s) or 0), q) for s, q in remaining.items())
            return (-units, item[1].get("cost", 0), item[0])

        pool.sort(key=cover)
        position, wh = pool.pop(0)
        stock = inventory.get(wh.get("id", "")) or {}
        lines = []
        for sku, qty in list(remaining.items()):
            take = min(int(stock.get(sku) or 0), qty)
            if take:
                lines.append({"sku": sku, "qty": take})
                remaining[sku] = qty - take
                if remaining[sku] == 0:
                    del remaining[sku]
        if not lines:
            break
        shipments.append({"warehouse": wh.get("id"), "lines": lines})
    return shipments, remaining


class SplitHandler(HandlerBase):
    type = "split"
    effects = (EffectKind("split"),)
    family = "act"
    title = {"en": "Split shipment", "zh": "拆单"}
    config_schema = obj(
        "Split shipment",
        "拆单",
        {
            "constraints": field(
                {"type": "array", "items": {"enum": ["active", "region"]}, "uniqueItems": True},
                "Warehouse constraints",
                "仓库约束",
                enum_zh=_ZH,
            ),
            "store_as": field(VAR_NAME, "Store allocation as", "结果变量"),
        },
        description="Allocates lines across warehouses when no single one holds everything: "
        "branch single, split (recorded for the split-shipment rate) or unavailable.",
        description_zh="没有单个仓库备齐全部货品时，把订单行分配到多个仓库：走“单仓”“拆单”（计入拆单率）或“无货”出口。",
    )

    def branches(self, config: Mapping[str, Any]) -> BranchSpec:
        labels = ("single", "split", "unavailable")
        return BranchSpec(required=labels, allowed=frozenset(labels))

    def var_schema(self, node: Node) -> dict[str, Any]:
        return {node.config.get("store_as") or node.id: {"type": "object"}}

    def compile(self, node: Node, env: CompileEnv) -> Any:
        constraints = node.config.get("constraints", ("active", "region"))
        return (_checks(constraints), node.config.get("store_as") or node.id, _Candidates())

    def run(self, prep: Any, rt: Runtime) -> Next:
        checks, store_as, cache = prep
        needs = _Needs(rt.context["order"], rt.ref, set())
        ok = [
            w.row
            for w in cache.of(rt.ref.get("warehouses") or ())
            if not any(check(w, needs) for check in checks)
        ]
        shipments, short = _allocate(needs.demand, ok, needs.inventory)
        if short:
            branch = "unavailable"
        else:
            branch = "split" if len(shipments) > 1 else "single"
        result = {"split": branch == "split", "shipments": shipments, "shortages": short}
        rt.set_var(store_as, result)
        if shipments and not short:  # every allocation is recorded: the split rate's base
            order_id = rt.context["order"].get("external_id")
            payload = {"order_id": order_id, "split": branch == "split", "shipments": shipments}
            rt.emit("split", payload)
        return Next(branch, {"shipments": len(shipments), "shortages": short})
