"""Deciding nodes: condition, switch, decision table, rule set."""

from __future__ import annotations

from decimal import Decimal

from flow_engine import COMPLETED
from tests.flow_engine.helpers import chain, edge, flow_doc, node, passed, run, sample_order


def _condition(expression: str) -> dict:
    return flow_doc(
        [
            node("start", "start"),
            node("c", "condition", expression=expression),
            node("yes", "end", outcome="yes"),
            node("no", "end", outcome="no"),
        ],
        [edge("start", "c"), edge("c", "yes", "true"), edge("c", "no", "false")],
    )


def test_condition_true_and_false_branches_with_inputs_recorded():
    doc = _condition('order.amount > 1000 and customer.tier == "gold"')
    _, big = run(doc, sample_order(amount=5000))
    assert big.snapshot.outcome == "yes"
    (decision,) = [a for a in big.audit if a.node_id == "c"]
    assert decision.branch == "true"
    assert decision.data["inputs"] == {"order.amount": 5000, "customer.tier": "gold"}
    _, small = run(doc, sample_order(amount=10))
    assert small.snapshot.outcome == "no"
    assert ("c", "false") in passed(small)


def test_inputs_read_through_quoted_keys_are_recorded_with_their_values():
    doc = _condition("ref.inventory['GZ-01']['SKU.A'] >= order.lines[0].qty")
    ref = {"inventory": {"GZ-01": {"SKU.A": 7}}}
    _, result = run(doc, sample_order(), ref=ref)
    (decision,) = [a for a in result.audit if a.node_id == "c"]
    assert decision.branch == "true"
    assert decision.data["inputs"]["ref.inventory['GZ-01']['SKU.A']"] == 7


def test_input_reader_reads_each_path_as_the_audit_trail_shows_it():
    from types import MappingProxyType

    from flow_engine._runtime import MAX_LISTED
    from flow_engine.nodes.base import input_reader

    read = input_reader(
        frozenset(
            ["order.amount", "order.customer.tier", "order.lines[].qty", "order.lines[1].sku",
             "vars.route.chosen", "vars.route", "customer.tier", "ref.inventory['GZ-01']['A.1']"]
        )
    )  # fmt: skip
    lines = [{"sku": f"S{i}", "qty": i} for i in range(MAX_LISTED + 5)]
    context = {
        "order": MappingProxyType({"amount": 5, "customer": {"tier": "gold"}, "lines": lines}),
        "customer": "not an object",
        "vars": {"route": {"chosen": "GZ-01"}},
        "ref": {"inventory": {"GZ-01": {"A.1": 3}}},
    }
    values = read(context)
    assert list(values) == sorted(values)  # in path order, as the trail lists them
    assert values == {
        "customer.tier": None,  # read through a text: null, not an error
        "order.amount": 5,  # read through a read-only mapping
        "order.customer.tier": "gold",
        "order.lines[1].sku": "S1",
        "order.lines[].qty": list(range(MAX_LISTED)),  # projections stop at MAX_LISTED
        "ref.inventory['GZ-01']['A.1']": 3,
        "vars.route": {"chosen": "GZ-01"},
        "vars.route.chosen": "GZ-01",
    }
    assert (
        read({"order": None, "customer": None, "vars": {}, "ref": {}})["vars.route.chosen"] is None
    )


def test_condition_on_missing_data_takes_false():
    doc = _condition("order.amount > 1000")
    order = sample_order()
    del order["amount"]
    _, result = run(doc, order)
    assert result.snapshot.status == COMPLETED
    assert result.snapshot.outcome == "no"


def test_decimal_money_in_conditions_is_exact():
    doc = _condition("order.amount + 0.2 == 0.3")
    _, result = run(doc, sample_order(amount=0.1))
    assert result.snapshot.outcome == "yes"


def _switch(mode: str) -> dict:
    return flow_doc(
        [
            node("start", "start"),
            node(
                "sw",
                "switch",
                mode=mode,
                cases=[
                    {"branch": "alibaba", "when": 'order.channel in ["taobao", "tmall"]'},
                    {"branch": "big", "when": "order.amount > 1000"},
                    {"branch": "alibaba", "when": 'order.channel == "1688"'},
                ],
            ),
            node("a", "tag", tags=["alibaba"]),
            node("b", "tag", tags=["big"]),
            node("d", "tag", tags=["other"]),
            *([node("j", "join")] if mode == "all" else []),
            node("end", "end", outcome="done"),
        ],
        [
            edge("start", "sw"),
            edge("sw", "a", "alibaba"),
            edge("sw", "b", "big"),
            edge("sw", "d", "default"),
            *(
                [edge("a", "j"), edge("b", "j"), edge("d", "j"), edge("j", "end")]
                if mode == "all"
                else [edge("a", "end"), edge("b", "end"), edge("d", "end")]
            ),
        ],
    )


def test_switch_first_match_and_default():
    doc = _switch("first")
    _, tb = run(doc, sample_order(channel="taobao", amount=5000))
    assert tb.snapshot.order["tags"] == ["alibaba"]
    _, jd = run(doc, sample_order(channel="jd", amount=5000))
    assert jd.snapshot.order["tags"] == ["big"]
    _, other = run(doc, sample_order(channel="jd", amount=5))
    assert other.snapshot.order["tags"] == ["other"]
    assert ("sw", "default") in passed(other)


def test_switch_all_matches_follows_every_matching_case_then_joins():
    doc = _switch("all")
    _, both = run(doc, sample_order(channel="tmall", amount=5000))
    assert both.snapshot.status == COMPLETED
    assert sorted(both.snapshot.order["tags"]) == ["alibaba", "big"]
    assert both.snapshot.path.count("end") == 1
    _, none = run(doc, sample_order(channel="jd", amount=5))
    assert none.snapshot.order["tags"] == ["other"]
    assert none.snapshot.outcome == "done"


TABLE = {
    "hit_policy": "first",
    "inputs": [
        {"name": "channel", "expression": "order.channel"},
        {"name": "amount", "expression": "order.amount"},
    ],
    "outputs": [{"name": "warehouse", "type": "string"}, {"name": "priority", "type": "number"}],
    "rules": [
        {"inputs": ['"b2b"', "-"], "outputs": ['"B2B-01"', "1"]},
        {"inputs": ["-", ">= 5000"], "outputs": ['"SH-01"', "2"]},
        {"inputs": ["-", "< 5000"], "outputs": ['"GZ-01"', "3"]},
    ],
}


def test_decision_table_stores_outputs_and_records_the_matched_row():
    doc = chain(node("t", "decision_table", table=TABLE, store_as="alloc"))
    _, result = run(doc, sample_order(channel="tmall", amount=8000))
    assert result.snapshot.vars["alloc"] == {"warehouse": "SH-01", "priority": 2}
    (audit,) = [a for a in result.audit if a.node_id == "t"]
    assert audit.data["matched"] == [1]
    assert audit.data["inputs"] == {"order.amount": 8000, "order.channel": "tmall"}


def test_decision_table_without_match_takes_no_match_branch_when_connected():
    table = {**TABLE, "rules": TABLE["rules"][:1]}
    doc = flow_doc(
        [
            node("start", "start"),
            node("t", "decision_table", table=table),
            node("hit", "end", outcome="hit"),
            node("miss", "end", outcome="miss"),
        ],
        [edge("start", "t"), edge("t", "hit"), edge("t", "miss", "no_match")],
    )
    _, result = run(doc, sample_order(channel="tmall"))
    assert result.snapshot.outcome == "miss"
    _, b2b = run(doc, sample_order(channel="b2b"))
    assert b2b.snapshot.outcome == "hit"
    assert b2b.snapshot.vars["t"]["warehouse"] == "B2B-01"


def test_ruleset_applies_changes_and_tags():
    source = """
rule "large orders" when order.amount > 5000 then set order.status = "finance_review" end
rule "gold" when customer.tier == "gold" then set vars.discount = 0.05 end
"""
    doc = chain(node("r", "ruleset", source=source))
    original = sample_order(amount=9000)
    _, result = run(doc, original)
    snap = result.snapshot
    assert snap.order["status"] == "finance_review"
    assert snap.vars["discount"] == Decimal("0.05")
    assert original["status"] == "paid", "the input order is never modified"
    (audit,) = [a for a in result.audit if a.node_id == "r"]
    assert audit.data["fired"] == ["large orders", "gold"]
    assert audit.data["changes"]["order.status"] == "finance_review"
