"""A channel kind, and a new sales channel, is one mapping file: dropped beside the shipped
ones, it is listed on the integrations page in the reader's language, a channel of that kind
takes its orders as that sales channel, the order schemas accept it, and the simulator and
the dashboard name it in Chinese."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from app import order_fields, sales_channels
from app.channels import kinds, mapping
from app.channels import services as channels
from app.db import get_db, in_transaction
from app.errors import ValidationError

from .test_channels import _send

XHS_FILE = {
    "kind": {
        "label": {
            "zh": "小红书推送（OrderFlow 签名）",
            "en": "Xiaohongshu push (OrderFlow signature)",
        },
        "position": 55,
        "sales_channel": "xiaohongshu",
    },
    "sales_channels": {"xiaohongshu": {"zh": "小红书", "en": "Xiaohongshu"}},
    "description": "Xiaohongshu shop orders",
    "fields": {
        "external_id": {"path": "order_id", "type": "string", "required": True},
        "currency": {"const": "CNY"},
        "amount": {"path": "total", "type": "decimal", "required": True},
        "customer.id": {"path": "buyer", "type": "string"},
        "lines": {
            "each": "items",
            "fields": {
                "sku": {"path": "sku", "type": "string", "required": True},
                "qty": {"path": "n", "type": "int", "required": True},
                "price": {"path": "price", "type": "decimal"},
            },
        },
    },
}


def _forget() -> None:
    kinds._declared.cache_clear()
    sales_channels.sales_channels.cache_clear()
    mapping.shipped.cache_clear()
    order_fields._cache.clear()
    order_fields.forget()


@pytest.fixture
def xiaohongshu(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    folder = tmp_path / "mappings"
    shutil.copytree(kinds.MAPPINGS, folder)
    (folder / "xhs.json").write_text(json.dumps(XHS_FILE, ensure_ascii=False), encoding="utf-8")
    monkeypatch.setattr(kinds, "MAPPINGS", folder)
    monkeypatch.setattr(sales_channels, "MAPPINGS", folder)
    _forget()
    yield
    monkeypatch.undo()
    _forget()


def test_the_file_declares_the_kind_and_the_sales_channel(xiaohongshu: None) -> None:
    listed = kinds.kinds()
    assert listed.index("douyin") < listed.index("xhs") < listed.index("b2b_po")
    assert kinds.label("xhs")["zh"] == "小红书推送（OrderFlow 签名）"
    assert sales_channels.channel_name("xiaohongshu", "zh") == "小红书"
    assert sales_channels.channel_name("taobao", "zh") == "淘宝"


def test_its_orders_arrive_as_that_sales_channel(app, client, api, xiaohongshu: None) -> None:
    made = in_transaction(
        get_db(app),
        lambda db: channels.create_channel(db, None, key="xhs-main", kind="xhs", order_channel=""),
    )
    assert made.order_channel == "xiaohongshu"
    payload = {"order_id": "XHS-1", "total": "88.00", "buyer": "u-1",
               "items": [{"sku": "SKU-1", "n": 2, "price": "44.00"}]}  # fmt: skip
    response = _send(client, "xhs-main", made.secret, payload)
    assert response.status_code == 201, response.json
    data = api.get(f"/orders/{response.json['id']}").json["data"]
    assert data["channel"] == "xiaohongshu" and data["external_id"] == "XHS-1"


def test_an_unknown_sales_channel_is_refused_naming_the_known_ones(app, xiaohongshu: None) -> None:
    with pytest.raises(ValidationError) as refused:
        in_transaction(
            get_db(app),
            lambda db: channels.create_channel(
                db, None, key="xhs-2", kind="xhs", order_channel="weibo"
            ),
        )
    message = refused.value.fields["order_channel"]
    assert "xiaohongshu" in message and "taobao" in message


def test_pages_name_it_in_the_readers_language(app, client, login, make_user, xiaohongshu) -> None:
    make_user("root", roles=("admin",))
    login("root")
    page = client.get("/admin/outbox/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "小红书推送（OrderFlow 签名）" in page and ">小红书</option>" in page
    assert ">淘宝</option>" in page
