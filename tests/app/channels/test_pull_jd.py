"""JD pull connector against a fake JOS gateway on loopback: the 360buy-style signature,
page paging, orders stored once with their fallbacks, rate limits and expired tokens."""

from __future__ import annotations

import hashlib
import json
from datetime import timedelta

from sqlalchemy import select

from app.channels import pull
from app.db import get_db
from app.models import Alert, ChannelPull, Order, StatusEvent

from .conftest import NOW, jd_order


def _sync(app, channel_id, now=NOW, **kw):
    with app.app_context():
        return pull.sync(get_db(app), channel_id, now=now, clock=lambda: now, **kw)


def test_the_jd_signature_wraps_sorted_parameters_in_the_secret():
    params = {"method": "jingdong.pop.order.search", "app_key": "JD0AAA11",
              "access_token": "tok", "timestamp": "2026-12-07 12:00:00", "v": "2.0",
              "360buy_param_json": '{"page":"1"}'}  # fmt: skip
    text = ('360buy_param_json{"page":"1"}access_tokentokapp_keyJD0AAA11'
            "methodjingdong.pop.order.searchtimestamp2026-12-07 12:00:00v2.0")  # fmt: skip
    expected = hashlib.md5(("s3cret" + text + "s3cret").encode()).hexdigest().upper()
    assert pull.jd_sign(params, "s3cret") == expected


def test_jd_orders_are_pulled_page_by_page_once(app, make_app, jd, pull_channel):
    jd.orders = [jd_order(9000 + i, "WAIT_SELLER_STOCK_OUT", NOW - timedelta(hours=i + 1))
                 for i in range(3)]  # fmt: skip
    channel_id = pull_channel("jd1", "jd_pull", jd, order_channel="jd")
    report = _sync(app, channel_id)
    assert (report.pulled, report.pages, report.error) == (3, 2, None)
    assert jd.bad_signatures == 0
    query = json.loads(jd.requests[0]["360buy_param_json"])
    assert query["page"] == "1" and query["end_date"] == "2026-12-07 12:00:00"
    with get_db(app).session() as db:
        order = db.scalars(select(Order).where(Order.external_id == "9000")).one()
        assert order.channel == "jd" and str(order.amount) == "120.00"
        assert order.data["lines"][0]["sku"] == "100012043978"  # no merchant code: JD SKU id
        assert order.data["shipping_address"]["city"] == "北京市"
        assert any("京东 SKU" in w["zh"] for w in order.data.get("intake_warnings", []))
    # Restarted, with the last order re-served in the overlap and a new one.
    jd.orders.append(jd_order(9100, "WAIT_SELLER_STOCK_OUT", NOW + timedelta(minutes=4)))
    jd.orders.append(jd_order(9000, "WAIT_GOODS_RECEIVE_CONFIRM", NOW + timedelta(minutes=4)))
    report = _sync(make_app(), channel_id, NOW + timedelta(minutes=6))
    assert report.pulled == 1
    with get_db(app).session() as db:
        ids = list(db.scalars(select(Order.external_id).where(Order.channel == "jd")))
        assert sorted(ids) == ["9000", "9001", "9002", "9100"]
        codes = list(db.scalars(select(StatusEvent.code).join(Order).where(
            Order.external_id == "9000").order_by(StatusEvent.id)))  # fmt: skip
        assert codes == ["PAID", "FULFILLED"]


def test_jd_rate_limit_and_expired_token(app, jd, pull_channel):
    jd.orders = [jd_order(9500, "WAIT_SELLER_STOCK_OUT", NOW - timedelta(hours=1))]
    channel_id = pull_channel("jd1", "jd_pull", jd, order_channel="jd")
    jd.rate_limit_next = 1
    report = _sync(app, channel_id)
    assert report.error == pull.RATE_LIMITED and report.state == pull.BACKOFF
    assert _sync(app, channel_id, NOW + timedelta(minutes=1)).pulled == 1
    jd.expire_session = True
    report = _sync(app, channel_id, NOW + timedelta(minutes=10))
    assert report.state == pull.NEEDS_TOKEN
    with get_db(app).session() as db:
        row = db.scalars(select(ChannelPull)).one()
        assert row.last_error_code == pull.TOKEN_EXPIRED and "access_token" in row.last_error
        assert db.scalars(select(Alert).where(Alert.source == "channel:jd1")).one()
