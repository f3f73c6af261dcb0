"""Pull channels wired to fake platforms on loopback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from app.channels import pull
from app.channels import services as channels
from app.db import get_db, in_transaction

from .fake_platforms import Platform, jd_answer, serve, taobao_answer

NOW = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 12:00 in China
CN = timedelta(hours=8)


def cn(moment: datetime) -> str:
    return (moment + CN).strftime("%Y-%m-%d %H:%M:%S")


@pytest.fixture(autouse=True)
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pull, "PAGE_SIZE", 2)


@pytest.fixture
def taobao() -> Any:
    with serve(Platform("12345678", "tb-secret-0123456789", "6100e23a-session-1"),
               taobao_answer) as platform:  # fmt: skip
        yield platform


@pytest.fixture
def jd() -> Any:
    with serve(Platform("JD0AAA11", "jd-secret-0123456789", "jd-access-token-1"),
               jd_answer) as platform:  # fmt: skip
        yield platform


@pytest.fixture
def pull_channel(app: Any) -> Callable[..., int]:
    """Configure a pull channel pointed at a fake platform; returns its id."""

    def make(key: str, kind: str, platform: Platform, order_channel: str = "tmall") -> int:
        def work(db: Any) -> int:
            channel = channels.create_channel(
                db, None, key=key, kind=kind, order_channel=order_channel
            )
            with app.app_context():
                pull.configure(db, channel, app_key=platform.app_key,
                               app_secret=platform.secret, session=platform.session,
                               api_url=platform.url)  # fmt: skip
            return channel.id

        return in_transaction(get_db(app), work)

    return make


def taobao_trade(tid: int, status: str, modified: datetime, sku: str = "SKU-1") -> dict[str, Any]:
    full = {
        "tid": tid, "status": status, "payment": "99.00", "post_fee": "0.00",
        "created": cn(modified), "modified": cn(modified), "buyer_open_uid": f"AAF{tid}",
        "buyer_nick": "t**3", "receiver_name": "王敏", "receiver_state": "浙江省",
        "receiver_city": "杭州市", "receiver_district": "西湖区",
        "receiver_address": "文三路 90 号", "receiver_zip": "310012",
        "receiver_mobile": "13800000000",
        "orders": {"order": [{"outer_sku_id": sku, "num": 1, "price": "99.00", "title": "杯子"}]},
    }  # fmt: skip
    return {"id": tid, "status": status, "modified": cn(modified), "full": full}


def jd_order(order_id: int, state: str, modified: datetime) -> dict[str, Any]:
    full = {
        "orderId": str(order_id), "orderState": state, "orderTotalPrice": "128.00",
        "orderPayment": "120.00", "freightPrice": "8.00", "orderStartTime": cn(modified),
        "modified": cn(modified), "pin": f"jd_{order_id}", "venderRemark": "",
        "consigneeInfo": {"fullname": "李雷", "mobile": "139****0000", "province": "北京",
                          "city": "北京市", "county": "朝阳区",
                          "fullAddress": "北京朝阳区建国路 1 号"},
        "itemInfoList": [{"skuId": "100012043978", "outerSkuId": "", "skuName": "耳机",
                          "jdPrice": "120.00", "itemTotal": "1"}],
    }  # fmt: skip
    return {"id": order_id, "status": state, "modified": cn(modified), "full": full}
