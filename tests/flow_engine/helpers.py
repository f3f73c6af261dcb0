"""Small flow builders, sample data and a fixed clock for the flow engine tests."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"
BENCH_FLOWS = ROOT / "bench" / "flows"
NOW = datetime(2024, 6, 3, 9, 0, tzinfo=UTC)


def node(node_id: str, node_type: str, **config: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "config": config}


def edge(source: str, target: str, branch: str | None = None) -> dict[str, Any]:
    out = {"from": source, "to": target}
    if branch is not None:
        out["branch"] = branch
    return out


def flow_doc(nodes: list[dict], edges: list[dict], key: str = "test-flow", **extra: Any) -> dict:
    return {
        "format_version": 2,
        "key": key,
        "name": {"en": "Test flow", "zh": "测试流程"},
        "trigger": {"event": "order.created"},
        "nodes": nodes,
        "edges": edges,
        **extra,
    }


def chain(*middle: dict, outcome: str = "done") -> dict:
    """start -> middle nodes in order (single exits) -> end."""
    nodes = [node("start", "start"), *middle, node("end", "end", outcome=outcome)]
    ids = [n["id"] for n in nodes]
    return flow_doc(nodes, [edge(a, b) for a, b in zip(ids, ids[1:], strict=False)])


def sample_order(**over: Any) -> dict[str, Any]:
    order = {
        "external_id": "TB1001",
        "channel": "taobao",
        "status": "paid",
        "created_at": "2024-06-03T08:30:00+08:00",
        "urgent": False,
        "currency": "CNY",
        "amount": 1200,
        "customer": {
            "id": "C-1",
            "name": "李娜",
            "tier": "gold",
            "credit_limit": 10000,
            "outstanding": 2000,
            "account_manager": "u-zhang",
            "payment_terms": "net30",
        },
        "lines": [
            {"sku": "SKU-A", "qty": 2, "price": 300, "category": "home", "weight": 1.5},
            {"sku": "SKU-B", "qty": 1, "price": 600, "category": "electronics", "weight": 0.5},
        ],
        "shipping_address": {"country": "CN", "province": "浙江", "city": "杭州"},
        "tags": [],
        "custom": {},
    }
    order.update(over)
    return order


def load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def run(doc: dict, order: dict | None = None, **kwargs: Any):
    """Compile ``doc`` and start a run on ``order`` at NOW."""
    from flow_engine import compile_flow, start_run

    flow = compile_flow(doc)
    kwargs.setdefault("now", NOW)
    result = start_run(flow, order if order is not None else sample_order(), run_id="R1", **kwargs)
    return flow, result


def passed(result) -> list[tuple[str, str | None]]:
    """(node, branch) for every node the step left."""
    return [(a.node_id, a.branch) for a in result.audit if a.kind == "node_passed"]


def effects(result, kind: str) -> list:
    return [e for e in result.effects if e.kind == kind]
