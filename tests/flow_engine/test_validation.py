"""Validation: one fixture per fault, every problem collected with node id and JSON path."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flow_engine import (
    FlowValidationError,
    build_context,
    compile_flow,
    flow_context_schema,
    order_schema,
    validate_flow,
)
from rule_dsl import compile_expression
from tests.flow_engine.helpers import BENCH_FLOWS, FIXTURES, chain, edge, flow_doc, load_json, node

ERROR_FIXTURES = sorted(FIXTURES.glob("error-*.json"))
VALID_FIXTURES = sorted(FIXTURES.glob("valid-*.json"))


def _errors(doc):
    return [i for i in validate_flow(doc) if i.severity == "error"]


def _matches(issue, expected):
    return all(
        (issue.dsl or {}).get("code") == value
        if key == "dsl_code"
        else getattr(issue, key) == value
        for key, value in expected.items()
    )


def test_there_is_a_fixture_per_fault():
    assert len(ERROR_FIXTURES) >= 20


@pytest.mark.parametrize("path", ERROR_FIXTURES, ids=lambda p: p.stem)
def test_error_fixture_reports_its_fault(path):
    doc = load_json(path)
    expected = doc["metadata"]["expect"]
    issues = _errors(doc)
    assert issues, f"{path.name} should be invalid"
    for want in expected:
        assert any(_matches(i, want) for i in issues), (want, [i.to_dict() for i in issues])
    for issue in issues:
        assert issue.message and issue.message_zh
        assert issue.path.startswith("/")
    with pytest.raises(FlowValidationError) as info:
        compile_flow(doc)
    assert {i.code for i in info.value.issues} >= {w["code"] for w in expected}


@pytest.mark.parametrize("path", VALID_FIXTURES, ids=lambda p: p.stem)
def test_valid_fixture_has_no_errors(path):
    assert _errors(load_json(path)) == []
    compile_flow(load_json(path))


def test_many_faults_are_all_reported_not_just_the_first():
    issues = _errors(load_json(FIXTURES / "error-many-faults.json"))
    assert len({i.code for i in issues}) >= 5


def test_expression_issue_carries_the_dsl_caret_and_did_you_mean():
    issues = _errors(load_json(FIXTURES / "error-expression-unknown-field.json"))
    (issue,) = [i for i in issues if i.code == "expression"]
    assert issue.dsl["code"] == "unknown_field"
    assert issue.dsl["line"] == 1 and issue.dsl["column"] == 7
    assert "^" in issue.message
    assert "amount" in (issue.dsl.get("hint") or "")
    assert issue.message_zh != issue.message


def test_chinese_field_labels_are_accepted_in_expressions():
    doc = chain(node("s", "set", fields=[{"path": "vars.big", "expression": "订单.金额 > 100"}]))
    assert _errors(doc) == []
    misspelt = chain(
        node("s", "set", fields=[{"path": "vars.big", "expression": "订单.金钱 > 100"}])
    )
    assert [i.code for i in _errors(misspelt)] == ["expression"]


def test_set_checks_the_value_type_against_the_order_schema():
    doc = chain(node("s", "set", fields=[{"path": "order.amount", "expression": '"lots"'}]))
    codes = [(i.code, i.path) for i in _errors(doc)]
    assert ("expression", "/nodes/1/config/fields/0/expression") in codes


def test_switch_requires_every_case_and_default_connected():
    doc = flow_doc(
        [
            node("start", "start"),
            node(
                "sw",
                "switch",
                cases=[
                    {"branch": "b2b", "when": 'order.channel == "b2b"'},
                    {"branch": "tmall", "when": 'order.channel == "tmall"'},
                ],
            ),
            node("end", "end", outcome="x"),
        ],
        [edge("start", "sw"), edge("sw", "end", "b2b")],
    )
    missing = {i.message for i in _errors(doc) if i.code == "branch_not_connected"}
    assert any("tmall" in m for m in missing) and any("default" in m for m in missing)


def test_decision_table_variables_are_typed_for_later_nodes():
    table = {
        "hit_policy": "first",
        "inputs": [{"name": "amount", "expression": "order.amount"}],
        "outputs": [{"name": "level", "type": "string"}],
        "rules": [
            {"inputs": ["> 100"], "outputs": ['"high"']},
            {"inputs": ["-"], "outputs": ['"low"']},
        ],
    }
    ok = chain(
        node("t", "decision_table", table=table, store_as="risk"),
        node("c", "set", fields=[{"path": "vars.flag", "expression": 'vars.risk.level == "high"'}]),
    )
    assert _errors(ok) == []
    bad = chain(
        node("t", "decision_table", table=table, store_as="risk"),
        node("c", "set", fields=[{"path": "vars.flag", "expression": "vars.risk.levle == 1"}]),
    )
    assert any(i.code == "expression" and i.node_id == "c" for i in _errors(bad))


def test_non_object_document_is_one_schema_issue():
    (issue,) = validate_flow([1, 2, 3])  # type: ignore[arg-type]
    assert issue.code == "schema" and issue.path == "/"


def test_issue_to_dict_is_json_ready():
    issue = _errors(load_json(FIXTURES / "error-cyclic.json"))[0]
    data = issue.to_dict()
    assert data["code"] == "cycle_without_wait"
    assert data["node_id"] == "check"
    assert set(data) == {"code", "severity", "path", "node_id", "message", "message_zh", "dsl"}


def test_decision_table_analysis_is_reported_as_warnings_that_do_not_block():
    table = {
        "hit_policy": "unique",
        "inputs": [{"name": "amount", "expression": "order.amount"}],
        "outputs": [{"name": "level", "type": "string"}],
        "rules": [
            {"inputs": [">= 100"], "outputs": ['"high"']},
            {"inputs": [">= 500"], "outputs": ['"top"']},
        ],
    }
    doc = chain(node("t", "decision_table", table=table))
    warnings = [i for i in validate_flow(doc) if i.severity == "warning"]
    assert {i.code for i in warnings} == {"table_finding", "table_can_miss"}
    texts = " ".join(i.message for i in warnings)
    assert "overlap" in texts and "can miss: no row matches" in texts
    assert all(i.node_id == "t" and i.message_zh for i in warnings)
    assert _errors(doc) == []
    first = chain(node("t", "decision_table", table={**table, "hit_policy": "first"}))
    kept = " ".join(i.message for i in validate_flow(first))
    assert "overlap" not in kept and "can miss" in kept


def test_expressions_are_checked_against_the_order_schema_given():
    doc = chain(node("s", "set", fields=[{"path": "vars.x", "expression": "order.dock_door > 3"}]))
    assert [i.code for i in _errors(doc)] == ["expression"]
    custom = order_schema()
    custom["properties"]["dock_door"] = {"type": "integer", "x-label-zh": "月台"}
    assert [i for i in validate_flow(doc, custom) if i.severity == "error"] == []
    labelled = chain(node("s", "set", fields=[{"path": "vars.x", "expression": "订单.月台 > 3"}]))
    assert [i for i in validate_flow(labelled, custom) if i.severity == "error"] == []


def test_context_helpers_agree_with_what_the_engine_evaluates():
    schema = flow_context_schema()
    assert set(schema["properties"]) >= {"order", "customer", "vars", "ref"}
    expr = compile_expression('customer.tier == "gold" and ref.region == "east"', schema)
    order = {"amount": 1, "customer": {"tier": "gold"}}
    assert expr(build_context(order, ref={"region": "east"})) is True
    assert build_context(order)["customer"] == {"tier": "gold"}
    assert build_context({"amount": 1})["customer"] == {}


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=6),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)


def _mutate(doc, path, value):
    target = doc
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return doc


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _paths(item, (*prefix, i))


BASES = [load_json(FIXTURES / "valid-basic.json"), load_json(BENCH_FLOWS / "routing.flow.json")]
DAMAGE = st.sampled_from(BASES).flatmap(
    lambda base: st.tuples(
        st.just(base),
        st.lists(
            st.tuples(st.sampled_from([p for p in _paths(base) if p]), JSONISH),
            min_size=1,
            max_size=3,
        ),
    )
)


@settings(max_examples=300, deadline=None)
@given(DAMAGE)
def test_any_damaged_document_gives_issues_and_never_raises(damage):
    base, changes = damage
    doc = json.loads(json.dumps(base))
    for path, value in changes:
        try:
            _mutate(doc, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    issues = validate_flow(doc)
    for issue in issues:
        assert issue.code and issue.path.startswith("/") and issue.message_zh
    if any(i.severity == "error" for i in issues):
        with pytest.raises(FlowValidationError):
            compile_flow(doc)
    else:
        compile_flow(doc)
