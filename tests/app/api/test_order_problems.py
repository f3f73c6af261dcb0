"""An order's problems have one format whichever way the order comes in: where (JSON path and
field label), what and why (message and rule), and an accepted value, in both languages."""

from __future__ import annotations

import json

import pytest
import simplejson
from click.testing import CliRunner

from app import order_fields
from app.cli import cli
from app.db import get_session

from ..editor.helpers import Json, review_doc, store
from ..flows_fixtures import order_doc
from .conftest import Api


def _post(api: Api, doc: object, path: str = "/orders", **headers: str):
    body = simplejson.dumps(doc, use_decimal=True)
    return api.post(path, data=body, content_type="application/json", headers=headers)


def _broken(change: str) -> dict:
    doc = order_doc("P1")
    if change == "amount":
        doc["amount"] = "lots"
    elif change == "currency":
        del doc["currency"]
    elif change == "qty":
        doc["lines"][0]["qty"] = "two"
    elif change == "huge":
        doc["amount"] = 10**13
    elif change == "channel":
        doc["channel"] = "nowhere"
    return doc


@pytest.mark.parametrize(
    ("change", "lang", "path", "rule", "field", "message", "example"),
    [
        ("amount", "en", "/amount", "type", "Amount", "“Amount” must be a number, e.g. `12.5`.",
         "12.5"),
        ("amount", "zh", "/amount", "type", "金额", "「金额」应为数字，例如 `12.5`。", "12.5"),
        ("currency", "en", "/currency", "required", "Currency",
         "“Currency” is required, e.g. `CNY`.", '"CNY"'),
        ("currency", "zh", "/currency", "required", "币种", "「币种」必填，例如 `CNY`。", '"CNY"'),
        ("qty", "en", "/lines/0/qty", "type", "Lines #1 › Quantity",
         "“Lines #1 › Quantity” must be a whole number, e.g. `3`.", "1"),
        ("qty", "zh", "/lines/0/qty", "type", "订单行第 1 项 › 数量",
         "「订单行第 1 项 › 数量」应为整数，例如 `3`。", "1"),
        ("huge", "en", "/amount", "maximum", "Amount", "“Amount” must be at most 999999999999.",
         "999999999999"),
        ("channel", "en", "/channel", "enum", "Channel", None, '"taobao"'),
        ("channel", "zh", "/channel", "enum", "渠道", None, '"taobao"'),
    ],
)  # fmt: skip
def test_each_problem_says_where_what_why_and_what_is_accepted(
    api, change, lang, path, rule, field, message, example
):
    response = _post(api, _broken(change), **{"Accept-Language": lang})
    assert response.status_code == 422
    (problem,) = response.json["error"]["details"]
    assert (problem["path"], problem["rule"], problem["field"]) == (path, rule, field)
    assert problem["example"] == example
    if message is not None:
        assert problem["message"] == message
    elif lang == "en":  # every channel by its name, the code beside it
        assert problem["message"].startswith(
            "“Channel” cannot be `nowhere`; choose one of: Taobao (`taobao`), Tmall (`tmall`), "
        )
    else:
        assert problem["message"].startswith(
            "「渠道」不能是 `nowhere`，请从以下选择：淘宝（`taobao`）、"
        )


def test_each_missing_field_is_named_in_its_own_problem(api):
    doc = order_doc("P4")
    del doc["currency"], doc["channel"]
    response = _post(api, doc, **{"Accept-Language": "en"})
    said = [(p["path"], p["message"]) for p in response.json["error"]["details"]]
    assert said == [
        ("/channel", "“Channel” is required, e.g. `taobao`."),
        ("/currency", "“Currency” is required, e.g. `CNY`."),
    ]


def test_not_an_object_gets_the_same_format_with_a_whole_order_as_example(app, api):
    response = _post(api, {"orders": [order_doc("P2"), 7]}, "/orders/batch")
    (problem,) = response.json["error"]["details"]
    assert problem["path"] == "/orders/1" and problem["rule"] == "type"
    assert problem["field"] == "Order" and problem["message"] == "An order is a JSON object."
    accepted = json.loads(problem["example"])
    assert set(accepted) == {"external_id", "channel", "amount", "currency"}
    with app.app_context():
        order_fields.validate(get_session(), accepted)  # the example is an order


def test_a_custom_field_is_named_by_its_label(app, api):
    with app.app_context():
        db = get_session()
        order_fields.add_field(db, None, name="po_number", type="string", label_en="PO number",
                               label_zh="采购单号", required=True)  # fmt: skip
        db.commit()
    for lang, field in (("en", "Custom › PO number"), ("zh", "自定义 › 采购单号")):
        wrong = _post(api, order_doc("CF1", custom={"po_number": 7}), **{"Accept-Language": lang})
        (problem,) = wrong.json["error"]["details"]
        assert (problem["path"], problem["field"], problem["example"]) == (
            "/custom/po_number",
            field,
            '"text"',
        )
    missing = _post(api, order_doc("CF2"), **{"Accept-Language": "en"})
    (problem,) = missing.json["error"]["details"]
    assert problem["path"] == "/custom" and json.loads(problem["example"]) == {"po_number": "text"}


def test_every_way_in_gives_the_same_problem(
    app, app_config, api, client, login, make_user, tmp_path
):
    bad = _broken("amount")
    single = _post(api, bad, **{"Accept-Language": "en"}).json["error"]
    batch = _post(api, {"orders": [order_doc("P3"), bad]}, "/orders/batch",
                  **{"Accept-Language": "en"}).json["error"]  # fmt: skip
    assert single["code"] == batch["code"] == "invalid_order"
    (problem,) = single["details"]
    assert batch["details"] == [{**problem, "path": "/orders/1/amount"}]
    assert (
        problem["message_zh"] == "「金额」应为数字，例如 `12.5`。" and problem["field_zh"] == "金额"
    )
    # The editor's simulated order, as the page's script reads it.
    store(app, review_doc())
    make_user("wang", roles=("supervisor",))
    login("wang")
    simulated = Json(client).post(
        "/flows/large-order-review/simulate",
        {"doc": review_doc(), "order": json.loads(simplejson.dumps(bad, use_decimal=True))},
    )
    assert simulated.status_code == 422
    assert simulated.get_json()["error"]["details"] == [problem]
    # The command line names the order, the path, the field and an accepted value.
    listed = tmp_path / "bad.json"
    listed.write_text(simplejson.dumps([bad], use_decimal=True))
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": "test"}  # fmt: skip
    refused = CliRunner().invoke(cli, ["order", "ingest", str(listed)], env=env)
    assert "order 1 /amount: “Amount” must be a number, e.g. `12.5`." in refused.output
