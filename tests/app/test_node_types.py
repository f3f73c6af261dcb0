"""A node type is one handler registered with the engine: a throw-away type, added here and
nowhere else, is in the flow schema, the editor's palette and forms, validation (its config
schema and its condition field), simulation and execution on stored orders. The effect kind it
declares is played by the simulator from its declaration and performed by the app's performer
for it; without a performer the app refuses to start."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from app import create_app
from app.db import get_db, in_transaction
from app.editor.catalog import expression_kind, node_types, type_titles
from app.models import Order
from app.orders import services as orders
from app.runs import effects
from flow_engine import (
    NODE_HANDLERS,
    Effect,
    EffectKind,
    EffectResult,
    effect_kinds,
    flow_schema,
    register_node_type,
    simulate,
    unregister_node_type,
    validate_flow,
)
from flow_engine.effect_kinds import SimulatedWorld
from flow_engine.model import Node
from flow_engine.nodes.base import CONDITION, CompileEnv, HandlerBase, Next, Runtime, field, obj

from .flows_fixtures import flow_doc, order_doc, publish


def _printed_in_simulation(world: SimulatedWorld, effect: Effect) -> EffectResult | None:
    world.timers["stamp-shown"] = {"id": "stamp-shown", "due": "2030-01-01T00:00:00+00:00",
                                   "purpose": effect.payload["mark"], "node": effect.node_id}  # fmt: skip
    return None


class StampHandler(HandlerBase):
    """Stamps the order with a mark (a tag) when its condition holds, and asks the host to
    print the stamp (its own effect kind)."""

    type = "stamp"
    effects = (EffectKind("stamp_printed", _printed_in_simulation),)
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
        rt.emit("stamp_printed", {"mark": mark})
        return Next(None, {"stamped": True, "added": rt.add_tags([mark])})


PRINTED: list[tuple[str, dict[str, Any]]] = []


def _print(ctx: effects.EffectContext, effect: Effect) -> None:
    PRINTED.append((effect.kind, dict(effect.payload)))


@pytest.fixture
def stamp(monkeypatch: pytest.MonkeyPatch) -> StampHandler:
    handler = StampHandler()
    monkeypatch.setitem(effects.EFFECT_HANDLERS, "stamp_printed", _print)
    PRINTED.clear()
    register_node_type(handler)
    yield handler
    unregister_node_type("stamp")


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
    assert [e["kind"] for e in big.to_dict()["effects"]] == ["stamp_printed"]
    assert big.timers["stamp-shown"]["purpose"] == "大单"  # played by its declared simulate
    assert small.to_dict()["effects"] == [] and small.timers == {}


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
    assert PRINTED == [("stamp_printed", {"mark": "大单"})]  # performed once, for E1


def test_its_effect_kind_is_declared_once_and_goes_with_it(stamp: StampHandler) -> None:
    assert effect_kinds()["stamp_printed"].simulate is _printed_in_simulation
    twin = StampHandler()
    twin.type = "stamp_twin"
    twin.effects = (EffectKind("stamp_printed"),)  # another declaration of the same name
    with pytest.raises(ValueError, match="'stamp_printed' is declared already"):
        register_node_type(twin)
    unregister_node_type("stamp")
    assert "stamp_printed" not in effect_kinds() and "stamp" not in NODE_HANDLERS
    assert "reserve_inventory" in effect_kinds() and "schedule_timer" in effect_kinds()


def test_the_app_refuses_to_start_without_a_performer_for_it(
    stamp: StampHandler, monkeypatch: pytest.MonkeyPatch, app_config: dict[str, Any]
) -> None:
    monkeypatch.delitem(effects.EFFECT_HANDLERS, "stamp_printed")
    with pytest.raises(RuntimeError, match="no performer for the effect kinds stamp_printed"):
        create_app(app_config)


def test_every_built_in_effect_kind_has_a_performer() -> None:
    assert set(effect_kinds()) == set(effects.EFFECT_HANDLERS)


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
