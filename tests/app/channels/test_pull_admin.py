"""The integrations page for pull connectors: credentials saved encrypted and never shown
back, bad input refused with every field named and nothing saved, the connector's state
and last problem in the reader's language; the CLI's one-shot sync."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from click.testing import CliRunner
from sqlalchemy import select, text

from app.channels import pull
from app.channels import services as channels
from app.cli import cli
from app.db import get_db, in_transaction
from app.models import ChannelPull, Order
from tests.app.conftest import csrf_token

from .conftest import NOW, taobao_trade


def _tb_channel(app):
    return in_transaction(get_db(app), lambda db: channels.create_channel(
        db, None, key="tb", kind="taobao_pull", order_channel="tmall").id)  # fmt: skip


def test_credentials_form_saves_encrypted_and_refuses_bad_input(app, client, login, make_user):
    channel_id = _tb_channel(app)
    make_user("ops", roles=("admin",))
    login("ops")
    page = client.get("/admin/outbox/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert 'data-testid="pull-tb"' in page and "需要填写凭据" in page
    token = csrf_token(client, "/admin/outbox/")
    bad = client.post(f"/admin/outbox/pulls/{channel_id}/credentials", data={
        "csrf_token": token, "app_key": "12 34", "app_secret": "short", "session": "",
        "api_url": "ftp://gw", "interval": "5"}, headers={"Accept-Language": "en"},
        follow_redirects=True).get_data(as_text=True)  # fmt: skip
    for words in ("App key:", "App secret:", "Session (access token):", "API address:",
                  "Poll interval (seconds):", "for example"):  # fmt: skip
        assert words in bad
    with get_db(app).session() as db:
        assert db.execute(text("SELECT credentials FROM channel_pulls")).scalar() is None
    good = client.post(f"/admin/outbox/pulls/{channel_id}/credentials", data={
        "csrf_token": token, "app_key": "12345678", "app_secret": "tb-secret-0123456789",
        "session": "6100e23a-session-1", "api_url": "", "interval": "600"},
        headers={"Accept-Language": "zh"}, follow_redirects=True).get_data(as_text=True)  # fmt: skip
    assert "凭据已保存" in good and "tb-secret-0123456789" not in good
    assert "6100e23a-session-1" not in good and "运行中" in good
    with get_db(app).session() as db:
        raw = db.execute(text("SELECT credentials, interval_seconds FROM channel_pulls")).one()
        assert "tb-secret" not in raw[0] and "6100e23a" not in raw[0] and raw[1] == 600
    # Blank secret fields keep what is saved.
    client.post(f"/admin/outbox/pulls/{channel_id}/credentials",
                data={"csrf_token": token, "interval": "900"})  # fmt: skip
    with app.app_context(), get_db(app).session() as db:
        from app.channels import vault

        row = db.scalars(select(ChannelPull)).one()
        assert vault.open_sealed(row.credentials)["session"] == "6100e23a-session-1"
        assert row.interval_seconds == 900


def test_the_page_shows_a_stopped_connector_in_business_words(
    app, client, login, make_user, taobao, pull_channel
):
    channel_id = pull_channel("tb", "taobao_pull", taobao)
    taobao.expire_session = True
    with app.app_context():
        pull.sync(get_db(app), channel_id, now=NOW, clock=lambda: NOW)
    make_user("ops", roles=("admin",))
    login("ops")
    zh = client.get("/admin/outbox/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "需要新的授权会话" in zh and "店铺重新授权" in zh and "Invalid session" in zh
    en = client.get("/admin/outbox/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Needs a new session" in en and "authorises the app again" in en
    token = csrf_token(client, "/admin/outbox/")
    answer = client.post(f"/admin/outbox/pulls/{channel_id}/sync", data={"csrf_token": token})
    assert answer.status_code == 302


def test_cli_pulls_once(app, app_config, taobao, pull_channel):
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": app_config["SECRET_KEY"]}  # fmt: skip

    def run(*args):
        return CliRunner().invoke(cli, list(args), env=env)

    now = datetime.now(UTC)  # the CLI syncs at the real time
    taobao.orders = [taobao_trade(7000, "WAIT_BUYER_PAY", now - timedelta(minutes=30))]
    pull_channel("tb", "taobao_pull", taobao)
    result = run("channel", "pull", "tb", "--once")
    assert result.exit_code == 0, result.output
    assert "1 new orders" in result.output
    with get_db(app).session() as db:
        assert db.scalars(select(Order.external_id)).all() == ["7000"]
    taobao.expire_session = True
    taobao.orders.append(taobao_trade(7001, "WAIT_BUYER_PAY", now))
    result = run("channel", "pull", "tb", "--once")
    assert result.exit_code == 1 and "token_expired" in result.output


def test_cli_sets_up_credentials_or_names_what_is_wrong(app, app_config):
    env = {"ORDERFLOW_INSTANCE_PATH": app_config["INSTANCE_PATH"],
           "DATABASE_URL": app_config["DATABASE_URL"], "SECRET_KEY": app_config["SECRET_KEY"]}  # fmt: skip

    def run(*args):
        return CliRunner().invoke(cli, list(args), env=env)

    added = run("channel", "add", "jd-main", "--kind", "jd_pull", "--order-channel", "jd")
    assert added.exit_code == 0 and "pull-setup jd-main" in added.output
    assert "Webhook URL" not in added.output
    bad = run("channel", "pull-setup", "jd-main", "--app-key", "x", "--app-secret",
              "jd-secret-0123456789", "--session", "jd-access-token-1")  # fmt: skip
    assert bad.exit_code == 1 and "app_key" in bad.output and "12345678" in bad.output
    with get_db(app).session() as db:
        assert db.execute(text("SELECT credentials FROM channel_pulls")).scalar() is None
    good = run("channel", "pull-setup", "jd-main", "--app-key", "JD0AAA11", "--app-secret",
               "jd-secret-0123456789", "--session", "jd-access-token-1", "--interval", "120")  # fmt: skip
    assert good.exit_code == 0, good.output
    assert "https://api.jd.com/routerjson every 120 s" in good.output
