"""Stored documents in older formats are upgraded by migration functions."""

from __future__ import annotations

import copy

import pytest

from flow_engine import (
    CURRENT_FORMAT_VERSION,
    FlowMigrationError,
    compile_flow,
    migrate,
    start_run,
    validate_flow,
)
from flow_engine.migrations import MIGRATIONS
from tests.flow_engine.helpers import NOW, sample_order

V1 = {
    "format_version": 1,
    "key": "legacy-routing",
    "name": "旧版路由",
    "trigger": "order.created",
    "condition": 'order.channel != "offline"',
    "nodes": [
        {"id": "start", "kind": "start", "props": {}},
        {"id": "big", "kind": "condition", "props": {"expression": "order.amount > 5000"}},
        {"id": "yes", "kind": "end", "props": {"outcome": "review"}},
        {"id": "no", "kind": "end", "props": {"outcome": "auto"}},
    ],
    "edges": [
        {"source": "start", "target": "big"},
        {"source": "big", "target": "yes", "label": "true"},
        {"source": "big", "target": "no", "label": "false"},
    ],
}


def test_every_older_version_has_a_migration():
    assert sorted(MIGRATIONS) == list(range(1, CURRENT_FORMAT_VERSION))


def test_v1_document_is_upgraded_to_the_current_format():
    original = copy.deepcopy(V1)
    doc = migrate(V1)
    assert V1 == original, "migration never modifies its input"
    assert doc["format_version"] == CURRENT_FORMAT_VERSION
    assert doc["name"] == {"en": "旧版路由", "zh": "旧版路由"}
    assert doc["trigger"] == {"event": "order.created", "filter": 'order.channel != "offline"'}
    assert doc["nodes"][1] == {
        "id": "big",
        "type": "condition",
        "config": {"expression": "order.amount > 5000"},
    }
    assert doc["edges"][1] == {"from": "big", "to": "yes", "branch": "true"}
    assert validate_flow(doc) == []


def test_v1_document_validates_compiles_and_runs():
    assert validate_flow(V1) == []
    flow = compile_flow(V1)
    assert flow.flow.format_version == CURRENT_FORMAT_VERSION
    result = start_run(flow, sample_order(amount=9000), run_id="R", now=NOW)
    assert result.snapshot.outcome == "review"
    assert flow.matches("order.created", sample_order(channel="taobao"), now=NOW)
    assert not flow.matches("order.created", sample_order(channel="offline"), now=NOW)


def test_current_documents_pass_through_unchanged():
    doc = migrate(V1)
    assert migrate(doc) == doc


@pytest.mark.parametrize("version", [99, 0, "2", None, True])
def test_unknown_versions_are_refused(version):
    with pytest.raises(FlowMigrationError):
        migrate({**V1, "format_version": version})
