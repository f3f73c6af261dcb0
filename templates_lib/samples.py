"""Sample orders and their expected outcomes: run them in simulation and compare.

The same comparison serves the app, which builds an :class:`Observed` per run from the
database after a real ingest, so a bundle's promises are checked the same way in both.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flow_engine import compile_flow, simulate

from .bundle import Bundle
from .intake import dig, prepare_order

__all__ = [
    "Observed",
    "check_expectations",
    "compare",
    "run_sample",
    "sample_now",
    "simulate_sample",
]


@dataclass
class Observed:
    """What one run of a flow did, as far as a sample's expectations look."""

    status: str
    outcome: str | None
    waiting_at: list[str]
    vars: Mapping[str, Any]
    order: Mapping[str, Any]
    # Codes and node ids as the stored rows carry them (None where a row lacks one).
    alerts: list[str | None] = field(default_factory=list)
    webhooks: list[str | None] = field(default_factory=list)
    notifications: list[str | None] = field(default_factory=list)


def _norm(value: Any) -> Any:
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float | Decimal):
        return Decimal(str(value)).normalize()
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            if value.strip() and value.strip().lstrip("-").replace(".", "", 1).isdigit():
                return Decimal(value).normalize()
        except InvalidOperation:
            pass
        return value
    if isinstance(value, Mapping):
        if set(value) == {"$decimal"}:
            return Decimal(value["$decimal"]).normalize()
        if len(value) == 1 and next(iter(value)) in ("$datetime", "$date"):
            return next(iter(value.values()))
        return {k: _norm(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_norm(v) for v in value]
    return value


def compare(flow_key: str, expect: Mapping[str, Any], seen: Observed) -> list[str]:
    """Every difference between an expected outcome and an observed run, as text."""
    out = []
    label = f"{flow_key}: "
    if seen.status != expect["status"]:
        out.append(f"{label}status is {seen.status}, expected {expect['status']}")
    if "outcome" in expect and seen.outcome != expect["outcome"]:
        out.append(f"{label}outcome is {seen.outcome}, expected {expect['outcome']}")
    if "waiting_at" in expect and sorted(seen.waiting_at) != sorted(expect["waiting_at"]):
        out.append(f"{label}waiting at {sorted(seen.waiting_at)}, expected {expect['waiting_at']}")
    for part, data in (("vars", seen.vars), ("order", seen.order)):
        for path, want in (expect.get(part) or {}).items():
            got = dig(data, path)
            if _norm(got) != _norm(want):
                out.append(f"{label}{part}.{path} is {got!r}, expected {want!r}")
    tags = set(dig(seen.order, "tags") or ())
    missing = [t for t in expect.get("tags") or () if t not in tags]
    if missing:
        out.append(f"{label}order lacks tags {missing} (has {sorted(tags)})")
    for part in ("alerts", "webhooks", "notifications"):
        if part in expect and sorted(getattr(seen, part)) != sorted(expect[part]):
            out.append(f"{label}{part} are {sorted(getattr(seen, part))}, expected {expect[part]}")
    return out


def sample_now(sample: Mapping[str, Any]) -> datetime:
    """When a sample order arrives: its ``now``, else the order's ``created_at``."""
    text = sample.get("now") or sample["order"].get("created_at")
    return datetime.fromisoformat(str(text))


def _observe(report: Any) -> Observed:
    data = report.to_dict()
    effects = data["effects"]
    return Observed(
        status=data["status"],
        outcome=data["outcome"],
        waiting_at=[p["node"] for p in data["pending"]],
        vars=data["vars"],
        order=data["order"],
        alerts=[e["payload"].get("code") for e in effects if e["kind"] == "alert"],
        webhooks=[e["node"] for e in effects if e["kind"] == "webhook"],
        notifications=[
            e["node"]
            for e in effects
            if e["kind"] == "notify" and e["payload"].get("kind") != "approval_reminder"
        ],
    )


def simulate_sample(
    bundle: Bundle, sample: Mapping[str, Any], *, events: Sequence[Mapping[str, Any]] = ()
) -> dict[str, Observed | None]:
    """Per flow of ``bundle`` (resolved), its simulated run of ``sample``, or None when its
    trigger does not match the order."""
    now = sample_now(sample)
    ref = bundle.ref()
    order = prepare_order(bundle, sample["order"])
    customer = order.get("customer") or {}
    for row in ref.get("customers") or ():
        if customer.get("id") is not None and str(row.get("id")) == str(customer["id"]):
            order = {**order, "customer": {**customer, **row}}
    out: dict[str, Observed | None] = {}
    for doc in bundle.flows:
        flow = compile_flow(doc, publishing=True)  # what is shipped must publish
        if not flow.matches("order.created", order, now=now, ref=ref):
            out[doc["key"]] = None
            continue
        report = simulate(
            flow,
            order,
            events=events,
            now=now,
            ref=ref,
            webhook_responses=sample.get("webhook_responses") or {},
        )
        out[doc["key"]] = _observe(report)
    return out


def run_sample(bundle: Bundle, sample: Mapping[str, Any]) -> list[str]:
    """Simulate ``sample`` (and its follow-up events) and list every unmet expectation."""
    problems = check_expectations(
        bundle.flow_keys, sample["expect"], simulate_sample(bundle, sample)
    )
    if "then" in sample:
        later = simulate_sample(bundle, sample, events=sample["then"]["events"])
        problems += [
            f"after events: {p}"
            for p in check_expectations(bundle.flow_keys, sample["then"]["expect"], later)
        ]
    return problems


def check_expectations(
    keys: Sequence[str], expect: Mapping[str, Any], seen: Mapping[str, Observed | None]
) -> list[str]:
    """Compare the runs seen per flow key with ``expect``: listed flows ran as described,
    flows not listed (or listed as null) started no run."""
    out = []
    for key in keys:
        want = expect.get(key)
        got = seen.get(key)
        if want is None and got is not None:
            out.append(f"{key}: started a run ({got.status}/{got.outcome}) but none was expected")
        elif want is not None and got is None:
            out.append(f"{key}: no run started, expected {want['status']}")
        elif want is not None and got is not None:
            out += compare(key, want, got)
    return out
