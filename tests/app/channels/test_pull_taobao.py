"""Taobao/Tmall pull connector against a fake TOP gateway on loopback: signatures as TOP
documents them, paging, the cursor surviving a restart, no order stored twice, status
changes as events, rate limits backed off, an expired session stopping the connector."""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from sqlalchemy import func, select, text

from app.channels import pull
from app.db import get_db
from app.models import Alert, ChannelPull, Order, StatusEvent

from .conftest import NOW, taobao_trade


def _sync(app, channel_id, now=NOW, **kw):
    with app.app_context():
        return pull.sync(get_db(app), channel_id, now=now, clock=lambda: now, **kw)


def _orders(app):
    with get_db(app).session() as db:
        return sorted(db.scalars(select(Order.external_id).where(Order.channel == "tmall")))


def _row(app, channel_id):
    with get_db(app).session() as db:
        row = db.scalars(select(ChannelPull).where(ChannelPull.channel_id == channel_id)).one()
        db.expunge(row)
        return row


def test_the_signature_follows_the_top_documentation():
    # Sorted by name, name and value concatenated: the documented ordering example.
    assert pull._concat({"foo": "1", "bar": "2", "foo_bar": "3", "foobar": "4"}) == (
        "bar2foo1foo_bar3foobar4"
    )
    params = {"method": "taobao.trade.fullinfo.get", "app_key": "12345678", "session": "s1",
              "timestamp": "2026-12-07 12:00:00", "format": "json", "v": "2.0",
              "sign_method": "md5", "fields": "tid,status", "tid": "1001", "empty": ""}  # fmt: skip
    text_ = ("app_key12345678fieldstid,statusformatjsonmethodtaobao.trade.fullinfo.get"
             "sessions1sign_methodmd5tid1001timestamp2026-12-07 12:00:00v2.0")  # fmt: skip
    expected = hashlib.md5(("helloworld" + text_ + "helloworld").encode()).hexdigest().upper()
    assert pull.top_sign(params, "helloworld") == expected
    assert pull.top_sign({**params, "sign": "X"}, "helloworld") == expected  # sign left out
    keyed = hmac.new(b"helloworld", text_.replace("md5", "hmac").encode(), hashlib.md5)
    assert pull.top_sign({**params, "sign_method": "hmac"}, "helloworld", "hmac") == (
        keyed.hexdigest().upper()
    )


def test_pages_are_pulled_and_a_restart_resumes_from_the_cursor(
    app, make_app, taobao, pull_channel
):
    taobao.orders = [taobao_trade(1000 + i, "WAIT_BUYER_PAY", NOW - timedelta(hours=i + 1))
                     for i in range(5)]  # fmt: skip
    taobao.orders.append(taobao_trade(1005, "WAIT_BUYER_PAY", NOW - timedelta(minutes=3)))
    channel_id = pull_channel("tb", "taobao_pull", taobao)
    report = _sync(app, channel_id)
    assert (report.pulled, report.pages, report.error) == (6, 3, None)
    assert _orders(app) == [str(1000 + i) for i in range(6)]
    assert taobao.bad_signatures == 0 and taobao.requests
    assert {r["session"] for r in taobao.requests} == {taobao.session}
    pages = [r["page_no"] for r in taobao.requests if r["method"].endswith("increment.get")]
    assert pages == ["1", "2", "3"]
    row = _row(app, channel_id)
    assert row.cursor == NOW and row.window_end is None and row.total_pulled == 6
    assert row.state == pull.RUNNING and row.next_attempt_at == NOW + timedelta(seconds=300)

    # A new app instance (a restart) goes on from the cursor, minus the overlap: the trade
    # modified just before the cursor (1005) is served again and is not stored a second time.
    later = NOW + timedelta(minutes=10)
    taobao.orders.append(taobao_trade(2001, "WAIT_BUYER_PAY", NOW + timedelta(minutes=5)))
    taobao.requests.clear()
    again = make_app()
    report = _sync(again, channel_id, later)
    first = taobao.requests[0]
    assert first["start_modified"] == "2026-12-07 11:55:00"  # cursor 12:00 minus 5 minutes
    assert first["end_modified"] == "2026-12-07 12:10:00"
    assert report.pulled == 1 and _orders(again) == [*(str(1000 + i) for i in range(6)), "2001"]
    assert [r["tid"] for r in taobao.requests if "tid" in r] == ["2001"]  # 1005 not refetched
    # The same window served once more: nothing new, nothing doubled.
    report = _sync(again, channel_id, later + timedelta(minutes=6))
    assert report.pulled == 0 and len(_orders(again)) == 7


def test_a_page_served_again_stores_no_order_twice(app, taobao, pull_channel):
    taobao.orders = [taobao_trade(3000 + i, "WAIT_SELLER_SEND_GOODS", NOW - timedelta(hours=1))
                     for i in range(3)]  # fmt: skip
    channel_id = pull_channel("tb", "taobao_pull", taobao)
    _sync(app, channel_id)
    with get_db(app).session() as db:  # the cursor lost: the whole day is pulled again
        db.execute(text("UPDATE channel_pulls SET cursor = NULL"))
        db.commit()
    taobao.requests.clear()
    report = _sync(app, channel_id, NOW + timedelta(minutes=1), force=True)  # "sync now"
    assert report.pulled == 0 and report.pages >= 2
    assert _orders(app) == ["3000", "3001", "3002"]
    # Known trades are not fetched in full again.
    assert not [r for r in taobao.requests if r["method"] == "taobao.trade.fullinfo.get"]
    with get_db(app).session() as db:  # paid at first sight: one PAID event each, once
        assert db.scalar(select(func.count()).select_from(StatusEvent)) == 3


def test_a_changed_status_becomes_a_status_event(app, taobao, pull_channel):
    taobao.orders = [taobao_trade(4000, "WAIT_SELLER_SEND_GOODS", NOW - timedelta(hours=1))]
    channel_id = pull_channel("tb", "taobao_pull", taobao)
    _sync(app, channel_id)
    shipped = taobao_trade(4000, "WAIT_BUYER_CONFIRM_GOODS", NOW + timedelta(minutes=3))
    taobao.orders = [shipped]
    _sync(app, channel_id, NOW + timedelta(minutes=6))
    _sync(app, channel_id, NOW + timedelta(minutes=12))  # served again in the overlap
    with get_db(app).session() as db:
        codes = list(db.scalars(select(StatusEvent.code).order_by(StatusEvent.id)))
        order = db.scalars(select(Order).where(Order.external_id == "4000")).one()
        assert codes == ["PAID", "FULFILLED"]
        assert order.status != "new"
    assert _orders(app) == ["4000"]


def test_a_rate_limit_backs_off_and_a_later_sync_succeeds(app, make_app, taobao, pull_channel):
    taobao.orders = [taobao_trade(5000 + i, "WAIT_BUYER_PAY", NOW - timedelta(hours=i + 1))
                     for i in range(4)]  # fmt: skip
    channel_id = pull_channel("tb", "taobao_pull", taobao)
    # Page 1 (and its two full-info calls) answered, then the gateway limits the app.
    real = pull.TaobaoClient.payload
    calls = {"n": 0}

    def limit_after_first_page(self, item):
        calls["n"] += 1
        if calls["n"] == 3:
            taobao.rate_limit_next = 2
        return real(self, item)

    pull.TaobaoClient.payload = limit_after_first_page
    try:
        report = _sync(app, channel_id)
    finally:
        pull.TaobaoClient.payload = real
    assert report.error == pull.RATE_LIMITED and report.state == pull.BACKOFF
    row = _row(app, channel_id)
    assert row.next_page == 2 and row.total_pulled == 2  # page 1 committed
    assert row.next_attempt_at == NOW + timedelta(minutes=1) and row.failures == 1
    assert "App Call Limited" in row.last_error
    assert _sync(app, channel_id, NOW + timedelta(seconds=30)).skipped == "not_due"
    second = _sync(app, channel_id, NOW + timedelta(minutes=1))  # still limited: longer wait
    assert second.error == pull.RATE_LIMITED
    assert _row(app, channel_id).next_attempt_at == NOW + timedelta(minutes=3)
    taobao.requests.clear()
    done = _sync(make_app(), channel_id, NOW + timedelta(minutes=3))
    assert done.error is None and done.pulled == 2
    first = [r for r in taobao.requests if r["method"].endswith("increment.get")][0]
    assert first["page_no"] == "2"  # resumed on the page after the last committed one
    assert len(_orders(app)) == 4
    row = _row(app, channel_id)
    assert row.state == pull.RUNNING and row.failures == 0 and row.last_error is None


def test_an_expired_session_stops_the_connector_with_an_alert(app, client, taobao, pull_channel):
    taobao.orders = [taobao_trade(6000, "WAIT_BUYER_PAY", NOW - timedelta(hours=1))]
    channel_id = pull_channel("tb", "taobao_pull", taobao)
    taobao.expire_session = True
    report = _sync(app, channel_id)
    assert report.error == pull.TOKEN_EXPIRED and report.state == pull.NEEDS_TOKEN
    row = _row(app, channel_id)
    assert row.next_attempt_at is None and "Invalid session" in row.last_error
    with get_db(app).session() as db:
        alerts = list(db.scalars(select(Alert).where(Alert.source == "channel:tb")))
        assert len(alerts) == 1 and "会话已过期" in alerts[0].title
        assert pull.due(db, NOW + timedelta(days=1)) == []  # never retried in a loop
    assert _sync(app, channel_id, NOW + timedelta(hours=1)).skipped == pull.NEEDS_TOKEN
    # A new session saved: running again, and the order arrives.
    taobao.expire_session = False
    taobao.session = "6100e23a-session-2"
    with app.app_context():
        from app.channels import services as channels
        from app.db import in_transaction

        in_transaction(get_db(app), lambda db: pull.configure(
            db, channels.get_channel(db, "tb"), session="6100e23a-session-2"))  # fmt: skip
    assert _sync(app, channel_id, NOW + timedelta(hours=1)).pulled == 1
    with get_db(app).session() as db:  # the stop's alert is resolved by the new session
        assert db.scalars(select(Alert.status).where(Alert.source == "channel:tb")).one() == (
            "resolved"
        )


def test_credentials_are_encrypted_and_a_wrong_key_is_a_clear_stop(
    app, make_app, taobao, pull_channel
):
    channel_id = pull_channel("tb", "taobao_pull", taobao)
    with get_db(app).session() as db:
        raw = db.execute(text("SELECT credentials FROM channel_pulls")).scalar_one()
    assert taobao.secret not in raw and taobao.session not in raw and taobao.app_key not in raw
    other = make_app(SECRETS_KEY="another-key")
    report = _sync(other, channel_id)
    assert report.error == pull.UNREADABLE and report.state == pull.NEEDS_TOKEN
    row = _row(app, channel_id)
    assert row.last_error_code == pull.UNREADABLE and "decrypt" in row.last_error
    assert taobao.requests == []


def test_the_periodic_task_syncs_due_connectors_and_an_unreachable_platform_backs_off(
    app, taobao, pull_channel
):
    from datetime import UTC, datetime

    from app.channels import services as channels
    from app.channels import tasks
    from app.db import in_transaction

    now = datetime.now(UTC)  # the periodic task runs at the real time
    taobao.orders = [taobao_trade(8800, "WAIT_BUYER_PAY", now - timedelta(minutes=20))]
    due_id = pull_channel("tb", "taobao_pull", taobao)
    down = {"url": "http://127.0.0.1:9/router/rest"}  # nothing listens there
    gone_id = pull_channel("tb-down", "taobao_pull", taobao)

    def point_elsewhere(db):
        channel = channels.get_channel(db, "tb-down")
        pull.configure(db, channel, api_url=down["url"])

    with app.app_context():
        in_transaction(get_db(app), point_elsewhere)
    reports = {r["channel"]: r for r in tasks.pull_due.call_local()}
    assert reports["tb"]["pulled"] == 1 and reports["tb"]["error"] is None
    assert reports["tb-down"]["error"] == pull.NETWORK
    assert _row(app, gone_id).state == pull.BACKOFF
    assert _row(app, gone_id).next_attempt_at > now
    assert _orders(app) == ["8800"]
    # Nothing is due right after: neither runs again.
    assert tasks.pull_due.call_local() == []
    assert _row(app, due_id).last_sync_at is not None
