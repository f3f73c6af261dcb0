"""Every shipped bundle: manifest and flow schemas, compiled flows, sample outcomes in simulation."""

from __future__ import annotations

import json

import pytest
from jsonschema import Draft202012Validator

from flow_engine import compile_flow, flow_schema
from templates_lib import (
    BUNDLES_DIR,
    INDUSTRIES,
    builtin_bundles,
    load_dir,
    manifest_schema,
    run_sample,
)

BUNDLES = builtin_bundles()
IDS = [b.id for b in BUNDLES]
SAMPLES = [(b, s) for b in BUNDLES for s in b.resolved().samples]


def test_every_bundle_folder_is_listed() -> None:
    folders = sorted(p.name for p in BUNDLES_DIR.iterdir() if p.is_dir())
    assert folders == sorted(IDS)


@pytest.mark.parametrize("bundle", BUNDLES, ids=IDS)
def test_manifest_and_flows_pass_their_schemas(bundle) -> None:
    Draft202012Validator.check_schema(manifest_schema())
    assert not list(Draft202012Validator(manifest_schema()).iter_errors(bundle.manifest))
    flows = Draft202012Validator(flow_schema())
    for doc in bundle.resolved().flows:
        assert not list(flows.iter_errors(doc)), doc["key"]


@pytest.mark.parametrize("bundle", BUNDLES, ids=IDS)
def test_every_flow_compiles_and_is_bilingual(bundle) -> None:
    resolved = bundle.resolved()
    for doc in resolved.flows:
        compiled = compile_flow(doc, publishing=True)  # every bundle must publish
        assert compiled.trigger_event == "order.created"
        assert doc["name"]["zh"] and doc["name"]["en"]
    assert bundle.name["zh"] != bundle.name["en"]
    assert set(bundle.industries) <= set(INDUSTRIES)
    assert bundle.samples, "every bundle ships sample orders"


@pytest.mark.parametrize(
    ("bundle", "sample"), SAMPLES, ids=[f"{b.id}:{s['id']}" for b, s in SAMPLES]
)
def test_sample_orders_produce_their_expected_outcomes(bundle, sample) -> None:
    assert run_sample(bundle.resolved(), sample) == []


def test_b2b_routing_has_at_least_21_rules() -> None:
    bundle = next(b for b in BUNDLES if b.id == "b2b-flexible-routing")
    assert bundle.stats["rules"] >= 21


def test_a_wrong_expectation_is_reported() -> None:
    bundle = load_dir(BUNDLES_DIR / "b2b-flexible-routing").resolved()
    sample = json.loads(json.dumps(bundle.samples[0]))
    sample["expect"]["b2b-order-routing"]["vars"]["carrier.chosen"] = "SF-B2B"
    sample["expect"]["b2b-po-merge"] = {"status": "waiting"}
    assert run_sample(bundle, sample) == [
        "b2b-order-routing: vars.carrier.chosen is 'ANE', expected 'SF-B2B'",
        "b2b-po-merge: no run started, expected waiting",
    ]
