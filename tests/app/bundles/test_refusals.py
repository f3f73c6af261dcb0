"""Malformed bundles are refused with a precise message and leave nothing behind; an export
reads back as the same flows, tables and kept alert rules."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from app.bundles import export, services
from app.errors import ValidationError
from app.models import CustomField, Flow, ReferenceTable, TemplateImport, TemplateItem
from templates_lib import BUNDLES_DIR, builtin_bundle, read_dir, to_zip

B2B = BUNDLES_DIR / "b2b-flexible-routing"


def _zip(mutate) -> bytes:
    files = read_dir(B2B)
    mutate(files)
    return to_zip(files)


def _edit(files, name, change) -> None:
    doc = json.loads(files[name])
    change(doc)
    files[name] = json.dumps(doc, ensure_ascii=False).encode()


def _broken_expression(files) -> None:
    def change(doc):
        node = next(n for n in doc["nodes"] if n["id"] == "credit_ok")
        node["config"]["expression"] = "customer.outstnding + order.amount >"

    _edit(files, "flows/b2b-order-routing.flow.json", change)


@pytest.mark.parametrize(
    ("mutate", "code", "where"),
    [
        (lambda f: f.__setitem__("manifest.json", b'{"format": 1, "id": '), "bad_json", "line 1"),
        (
            lambda f: _edit(f, "manifest.json", lambda d: d.__setitem__("industries", [])),
            "manifest_schema",
            "/industries",
        ),
        (
            lambda f: _edit(
                f,
                "manifest.json",
                lambda d: d.__setitem__(
                    "status_mappings", {"overseas_warehouse_system": {"OUT": "shipped"}}
                ),
            ),
            "manifest_schema",
            "/status_mappings",
        ),  # fmt: skip
        (_broken_expression, "flow_invalid", "credit_ok"),
        (
            lambda f: f.__setitem__(
                "tables/carriers.csv", f["tables/carriers.csv"] + b"X,Y,*,,abc,1,0,b2b,true\n"
            ),
            "bad_cell",
            "cost",
        ),
    ],
    ids=[
        "bad-json",
        "schema-violation",
        "status-source-too-long",
        "broken-expression",
        "bad-table-cell",
    ],  # fmt: skip
)
def test_malformed_bundle_is_refused_precisely(mutate, code, where, tx) -> None:
    with pytest.raises(ValidationError) as caught:
        tx(lambda db: services.import_bundle(db, None, services.read_upload(_zip(mutate))))
    err = caught.value
    assert err.code == "invalid_bundle"
    assert code in {p["code"] for p in err.details}
    assert where in str(err.message)
    assert tx(_counts) == (0, 0, 0, 0, 0)


def test_missing_custom_fields_refuse_the_import_and_nothing_is_left(tx) -> None:
    bundle = builtin_bundle("b2b-flexible-routing")
    with pytest.raises(ValidationError) as caught:
        tx(lambda db: services.import_bundle(db, None, bundle, publish=True))
    message = str(caught.value.message)
    assert "po_number (text, 采购单号)" in message
    assert "merge_delivery_at (date and time" in message
    assert tx(_counts) == (0, 0, 0, 0, 0)
    tx(lambda db: services.import_bundle(db, None, bundle, create_fields=True))
    assert tx(_counts) == (2, 2, 5, 1, 2)


def test_conflicting_flow_is_renamed_overwritten_or_skipped(tx) -> None:
    bundle = builtin_bundle("large-order-finance-review")
    tx(lambda db: services.import_bundle(db, None, bundle))
    changed = bundle.resolved({"threshold": "8000"})
    plans = {
        policy: tx(lambda db, p=policy: services.dry_run(db, changed, policy=p).to_dict())
        for policy in ("rename", "overwrite", "skip")
    }
    flow = [i for i in plans["rename"]["items"] if i["kind"] == "flow"][0]
    assert (flow["action"], flow["target"]) == ("rename", "large-order-finance-review-2")
    assert [i["action"] for i in plans["overwrite"]["items"] if i["kind"] == "flow"] == [
        "overwrite"
    ]
    assert [i["action"] for i in plans["skip"]["items"] if i["kind"] == "flow"] == ["skip"]
    tx(lambda db: services.import_bundle(db, None, bundle, params={"threshold": "8000"}))
    keys = tx(lambda db: sorted(db.scalars(select(Flow.key))))
    assert keys == ["large-order-finance-review", "large-order-finance-review-2"]


def test_export_reads_back_as_the_same_flows_tables_and_alert_rules(tx) -> None:
    bundle = builtin_bundle("b2b-flexible-routing")
    tx(lambda db: services.import_bundle(db, None, bundle, create_fields=True))

    def build(db):
        made = export.build_bundle(
            db,
            bundle_id="my-b2b",
            name_en="Our B2B desk",
            name_zh="我们的 B2B 订单台",
            flow_keys=list(bundle.flow_keys),
            table_names=["customers", "carriers"],
        )
        return services.read_upload(export.export_zip(made))

    exported = tx(build)
    resolved = bundle.resolved()
    assert [f["key"] for f in exported.flows] == sorted(resolved.flow_keys)
    assert sorted(exported.flows, key=lambda f: f["key"]) == sorted(
        resolved.flows, key=lambda f: f["key"]
    )
    rows = {t.name: sorted(t.rows, key=lambda r: r["id"]) for t in exported.tables}
    assert rows == {t.name: sorted(t.rows, key=lambda r: r["id"]) for t in resolved.tables}
    assert [r["key"] for r in exported.alert_rules] == ["b2b.credit_holds"]
    assert {f["name"] for f in exported.custom_fields} >= {"po_number", "merge_request"}
    # Importing the export again finds everything already there, unchanged.
    plan = tx(lambda db: services.dry_run(db, exported, policy="skip").to_dict())
    assert {i["action"] for i in plan["items"] if i["kind"] != "webhook_host"} == {"unchanged"}


def _counts(db) -> tuple[int, ...]:
    count = select(func.count())
    return tuple(
        db.scalar(count.select_from(model))
        for model in (Flow, ReferenceTable, CustomField, TemplateImport, TemplateItem)
    )


def test_bundle_alert_rules_go_live_and_the_admins_own_rules_are_exported(tx) -> None:
    from app.alerts import exchange
    from app.alerts import services as alerts
    from app.models import AlertRule

    bundle = builtin_bundle("b2b-flexible-routing")
    plan = tx(lambda db: services.dry_run(db, bundle, policy="skip").to_dict())
    (item,) = [i for i in plan["items"] if i["kind"] == "alert_rule"]
    assert "evaluated by the workers" in item["note"]
    tx(lambda db: services.import_bundle(db, None, bundle, create_fields=True))
    live = tx(lambda db: [(r.key, r.source, r.enabled) for r in db.scalars(select(AlertRule))])
    assert live == [("b2b.credit_holds", "template:b2b-flexible-routing", True)]
    # The admin tunes the template's rule and adds one of their own.
    own = {"key": "ops.big_orders", "name_zh": "大单", "kind": "order",
           "definition": {"condition": "order.amount > 50000"}}  # fmt: skip

    def tune(db):  # type: ignore[no-untyped-def]
        rule = db.scalars(select(AlertRule).where(AlertRule.key == "b2b.credit_holds")).one()
        values = exchange.translate(exchange.export_rule(rule))[0]
        alerts.save_rule(db, None, {**values, "severity": "critical"}, existing=rule)
        alerts.save_rule(db, None, own)

    tx(tune)
    again = tx(lambda db: services.dry_run(db, bundle, policy="skip").to_dict())
    (item,) = [i for i in again["items"] if i["kind"] == "alert_rule"]
    assert item["action"] == "unchanged"  # the bundle did not change since it was imported
    tx(lambda db: services.import_bundle(db, None, bundle, create_fields=True, policy="skip"))
    severity = tx(
        lambda db: db.scalars(
            select(AlertRule.severity).where(AlertRule.key == "b2b.credit_holds")
        ).one()
    )
    assert severity == "critical"  # so importing it again keeps the admin's tuning

    def build(db):  # type: ignore[no-untyped-def]
        made = export.build_bundle(db, bundle_id="ours", name_en="Ours", name_zh="我们的",
                                   flow_keys=list(bundle.flow_keys))  # fmt: skip
        return services.read_upload(export.export_zip(made))

    exported = {r["key"]: r for r in tx(build).alert_rules}
    assert sorted(exported) == ["b2b.credit_holds", "ops.big_orders"]
    assert exported["b2b.credit_holds"]["severity"] == "critical"
    assert exported["ops.big_orders"]["rule"]["native"]["definition"]["condition"] == (
        "order.amount > 50000"
    )
