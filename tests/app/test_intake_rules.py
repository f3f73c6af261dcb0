"""Intake rules: addresses cleaned and the same buyer order across channels stored once, for
orders from the API, a batch, and a template bundle's channels."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import func, select

from app.bundles import services as templates
from app.db import get_db, in_transaction
from app.errors import ConfigError, ValidationError
from app.models import IntakeRule, Order
from app.orders import intake
from app.orders import intake_rules as rules

from .flows_fixtures import order_doc

LIVE = {"channels": ["douyin", "taobao"], "clean_address": True,
        "dedup": ["shipping_address.phone", "amount", "custom.live_session"]}  # fmt: skip


def _order(external_id: str, channel: str = "douyin", amount: str = "648.00"):
    return order_doc(
        external_id,
        amount,
        channel=channel,
        shipping_address={"country": "CN", "province": "", "city": "", "district": "",
                          "street": "浙江杭州市余杭区五常街道文一西路969号",
                          "phone": "+86 138-5710-2233"},
        custom={"live_session": "LIVE-0302-A"},
    )  # fmt: skip


def _stored(database):
    with database.session() as db:
        return {o.external_id: o.data for o in db.scalars(select(Order))}


def test_a_channel_with_a_rule_gets_clean_addresses_and_one_order_per_buyer_order(app):
    database = get_db(app)
    in_transaction(database, lambda db: rules.install(db, "template:live", LIVE))
    first = in_transaction(database, lambda db: intake.receive(db, _order("DY-1")))
    again = in_transaction(database, lambda db: intake.receive(db, _order("TB-9", "taobao")))
    assert first.created and not again.created
    assert again.matched == "dedup_key" and again.order.id == first.order.id
    other = in_transaction(database, lambda db: intake.receive(db, _order("JD-1", "jd")))
    assert other.created  # jd has no rule: neither cleaned nor matched
    stored = _stored(database)
    assert sorted(stored) == ["DY-1", "JD-1"]
    address = stored["DY-1"]["shipping_address"]
    assert (address["province"], address["city"], address["district"]) == (
        "浙江省",
        "杭州市",
        "余杭区",
    )
    assert stored["DY-1"]["custom"]["raw_address"] == "浙江杭州市余杭区五常街道文一西路969号"
    assert stored["JD-1"]["shipping_address"]["province"] == ""


def test_a_batch_stores_one_order_per_buyer_order(app):
    database = get_db(app)
    in_transaction(database, lambda db: rules.install(db, "template:live", LIVE))
    in_transaction(database, lambda db: intake.receive(db, _order("DY-1")))
    batch = [
        _order("TB-1", "taobao"),
        _order("DY-2", amount=99),
        _order("TB-2", "taobao", amount=99),
    ]
    received = in_transaction(database, lambda db: intake.receive_many(db, batch))
    assert [(r.created, r.matched) for r in received] == [
        (False, "dedup_key"),  # DY-1 came earlier
        (True, None),
        (False, "dedup_key"),  # the same as DY-2, earlier in this batch
    ]
    assert received[2].order.id == received[1].order.id
    assert sorted(_stored(database)) == ["DY-1", "DY-2"]


def test_importing_the_live_commerce_bundle_installs_its_rule(app):
    database = get_db(app)
    bundle = templates.get_builtin("live-commerce-intake")
    plan = in_transaction(database, lambda db: templates.dry_run(db, bundle).to_dict())
    (item,) = [i for i in plan["items"] if i["kind"] == "intake_rule"]
    assert item["action"] == "create" and "douyin" in item["note"]
    in_transaction(
        database, lambda db: templates.import_bundle(db, None, bundle, create_fields=True)
    )
    with database.session() as db:
        (rule,) = db.scalars(select(IntakeRule))
        assert (rule.source, rule.clean_address) == ("template:live-commerce-intake", True)
        assert rule.channels == sorted(bundle.intake["channels"])
    again = in_transaction(database, lambda db: templates.dry_run(db, bundle).to_dict())
    assert [i["action"] for i in again["items"] if i["kind"] == "intake_rule"] == ["unchanged"]
    received = in_transaction(database, lambda db: intake.receive(db, _order("DY-7")))
    assert received.order.data["shipping_address"]["city"] == "杭州市"
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(IntakeRule)) == 1


def test_an_address_the_parser_fails_on_is_stored_as_received(app, monkeypatch):
    database = get_db(app)
    in_transaction(database, lambda db: rules.install(db, "template:live", LIVE))

    def broken(rule, doc):
        raise RuntimeError("parser failure")

    monkeypatch.setattr(rules, "prepare_order", broken)  # the parser itself failing
    received = in_transaction(database, lambda db: intake.receive(db, _order("DY-1")))
    assert received.created
    assert received.order.data["shipping_address"]["province"] == ""  # as received


def test_without_the_address_parser_a_bundle_that_cleans_addresses_is_not_imported(
    app, without_cpca
):
    database = get_db(app)
    bundle = templates.get_builtin("live-commerce-intake")
    for lang, words in (("en", "cleans shipping addresses"), ("zh", "清洗收货地址")):
        with app.test_request_context(headers={"Accept-Language": lang}):
            plan = in_transaction(database, lambda db: templates.dry_run(db, bundle).to_dict())
        (refusal,) = [r for r in plan["refusals"] if "clean_address" in r]
        assert words in refusal and "live-commerce-intake" in refusal
        assert 'pip install "orderflow[address]"' in refusal
    with pytest.raises(ValidationError) as err:
        in_transaction(
            database, lambda db: templates.import_bundle(db, None, bundle, create_fields=True)
        )
    assert 'pip install "orderflow[address]"' in str(err.value.message)
    with database.session() as db:
        assert db.scalar(select(func.count()).select_from(IntakeRule)) == 0


def test_without_the_address_parser_an_order_to_clean_is_refused_not_stored_uncleaned(
    app, without_cpca
):
    database = get_db(app)
    in_transaction(database, lambda db: rules.install(db, "template:live", LIVE))
    with pytest.raises(ConfigError) as err:
        in_transaction(database, lambda db: intake.receive(db, _order("DY-1")))
    assert err.value.code == "address_parser_missing"
    assert "live" in str(err.value.message) and "clean_address" in str(err.value.message)
    assert 'pip install "orderflow[address]"' in str(err.value.message)
    assert _stored(database) == {}
    # Orders of channels the rule does not clean are stored as ever.
    assert in_transaction(database, lambda db: intake.receive(db, _order("JD-1", "jd"))).created


RECEIVE_ONE = """
import sys, tempfile
from pathlib import Path
from app import create_app
from app.db import get_db, in_transaction
from app.errors import ConfigError, ValidationError
from app.migrate import upgrade
from app.orders import intake
from app.orders import intake_rules as rules
from tests.app.flows_fixtures import order_doc

folder = Path(tempfile.mkdtemp())
url = f"sqlite:///{folder / 'of.db'}"
upgrade(url)
app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": str(folder / "instance"),
                  "SECRET_KEY": "test"})
database = get_db(app)
rule = {"channels": ["douyin"], "clean_address": sys.argv[1] == "clean", "dedup": []}
in_transaction(database, lambda db: rules.install(db, "template:live", rule))
doc = order_doc("DY-1", channel="douyin",
                shipping_address={"street": "浙江杭州市余杭区五常街道文一西路969号"})
received = in_transaction(database, lambda db: intake.receive(db, doc))
assert received.created
print("pandas" in sys.modules)
"""


@pytest.mark.parametrize(("mode", "pandas"), [("keep", "False"), ("clean", "True")])
def test_an_order_loads_pandas_only_when_its_address_is_cleaned(mode, pandas):
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "-c", RECEIVE_ONE, mode],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == pandas
