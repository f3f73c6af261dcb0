"""A node type is one handler registered with the engine: a throw-away type, added here and
nowhere else, is in the flow schema, the editor's palette and forms, validation (its config
schema and its condition field), simulation and execution on stored orders."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app.db import get_db, in_transaction
from app.editor.catalog import expression_kind, node_types, type_titles
from app.models import Order
from app.orders import services as orders
from flow_engine import NODE_HANDLERS, flow_schema, register_node_type, simulate, validate_flow
from flow_engine.model import Node
from flow_engine.nodes.base import CONDITION, CompileEnv, HandlerBase, Next, Runtime, field, obj

from .flows_fixtures import flow_doc, order_doc, publish


class StampHandler(HandlerBase):
    """Stamps the order with a mark (a tag) when its condition holds."""

    type = "stamp"
    family = "act"
    title = {"en": "Stamp", "zh": "盖章"}
    config_schema = obj(
        "Stamp",
        "盖章",
        {
            "mark": field({"type": "string", "minLength": 1, "maxLength": 20}, "Mark", "标记"),
            "when": field(CONDITION, "When", "条件"),
        },
        required=("mark",),
    )

    def compile(self, node: Node, env: CompileEnv) -> Any:
        source = node.config.get("when")
        when = env.expression(source, "when", expect="boolean") if source else None
        return node.config["mark"], when

    def run(self, prep: Any, rt: Runtime) -> Next:
        mark, when = prep
        if when is not None and when(rt.context, now=rt.now) is not True:
            return Next(None, {"stamped": False})
        return Next(None, {"stamped": True, "added": rt.add_tags([mark])})


@pytest.fixture
def stamp(monkeypatch: pytest.MonkeyPatch) -> StampHandler:
    handler = StampHandler()
    monkeypatch.delitem(NODE_HANDLERS, "stamp", raising=False)
    register_node_type(handler)
    yield handler
    NODE_HANDLERS.pop("stamp", None)


def _doc(config: dict[str, Any]) -> dict[str, Any]:
    return flow_doc(
        "stamped",
        [{"id": "start", "type": "start"},
         {"id": "mark", "type": "stamp", "config": config},
         {"id": "done", "type": "end", "config": {"outcome": "done"}}],
        [("start", "mark"), ("mark", "done")],
    )  # fmt: skip


def test_the_schema_the_palette_and_the_forms_know_it(stamp: StampHandler) -> None:
    assert "stamp" in flow_schema()["$defs"]["node"]["properties"]["type"]["enum"]
    (entry,) = [t for t in node_types() if t["type"] == "stamp"]
    assert entry["family"] == "act" and entry["title"] == {"en": "Stamp", "zh": "盖章"}
    assert entry["config_schema"]["required"] == ["mark"]
    assert type_titles()["stamp"]["zh"] == "盖章"
    assert expression_kind("stamp", "when") == "condition"
    assert expression_kind("stamp", "mark") == "value"


def test_validation_reads_its_config_schema_and_types_its_condition(stamp: StampHandler) -> None:
    assert [i for i in validate_flow(_doc({"mark": "VIP"})) if i.severity == "error"] == []
    missing = validate_flow(_doc({}))
    assert any(i.node_id == "mark" and i.path.endswith("/mark") for i in missing)
    wrong = validate_flow(_doc({"mark": "VIP", "when": "order.amount + 1"}))
    assert any(i.node_id == "mark" and i.severity == "error" for i in wrong)


def test_simulation_runs_it(stamp: StampHandler) -> None:
    doc = _doc({"mark": "大单", "when": "order.amount > 5000"})
    big = simulate(doc, order_doc("S1", "9000"))
    small = simulate(doc, order_doc("S2", "100"))
    assert big.to_dict()["path"] == ["start", "mark", "done"]
    assert "大单" in big.to_dict()["order"]["tags"]
    assert "大单" not in (small.to_dict()["order"].get("tags") or [])


def test_a_published_flow_runs_it_on_stored_orders(app, stamp: StampHandler) -> None:
    database = get_db(app)
    in_transaction(
        database, lambda db: publish(db, _doc({"mark": "大单", "when": "order.amount > 5000"}))
    )
    in_transaction(database, lambda db: orders.ingest(db, order_doc("E1", "9000")))
    in_transaction(database, lambda db: orders.ingest(db, order_doc("E2", "100")))
    with database.session() as db:
        tags = {o.external_id: o.data.get("tags") or [] for o in db.scalars(select(Order))}
    assert "大单" in tags["E1"] and "大单" not in tags["E2"]


def test_a_handler_missing_what_the_editor_needs_is_refused() -> None:
    class Nameless(HandlerBase):
        type = "Bad Type"
        family = "misc"
        title = {"en": "Bad"}

    with pytest.raises(ValueError) as refused:
        register_node_type(Nameless())
    message = str(refused.value)
    assert "lowercase name" in message and "family" in message and "'zh'" in message
    assert "Bad Type" not in NODE_HANDLERS
