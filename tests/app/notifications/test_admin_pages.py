"""Admin pages of notifications: channels (secrets kept and masked, test message, allowlist),
templates, people's contact ids; the calendar command; who may open them."""

from __future__ import annotations

import pytest
from sqlalchemy import delete, select

from app.db import get_session
from app.errors import ValidationError
from app.models import AllowedHost, NotificationChannel, NotificationTemplate, User
from app.notifications import services
from app.notifications.services import save_channel

from ..conftest import csrf_token
from .servers import RobotServer, SmtpSink


def test_channel_pages_keep_secrets_send_a_test_and_allow_the_robot_host(
    app, client, login, make_user
):
    make_user("boss", roles=("admin",), email="boss@example.com")
    login("boss")
    token = csrf_token(client, "/admin/notifications/")
    with RobotServer({"dingtalk": "S3cret"}) as robots:
        url = robots.url("dingtalk").replace("127.0.0.1", "localhost")
        saved = client.post("/admin/notifications/channels", data={
            "csrf_token": token, "name": "运营群", "kind": "dingtalk", "enabled": "1",
            "webhook_url": url, "secret": "S3cret", "events": ["approval_needed"]})  # fmt: skip
        assert saved.status_code == 302
        page = client.get("/admin/notifications/?edit=1").get_data(as_text=True)
        assert "S3cret" not in page and "••••••" in page
        # Saving again with the mask keeps the stored secret.
        client.post("/admin/notifications/channels", data={
            "csrf_token": token, "id": "1", "name": "运营群", "kind": "dingtalk", "enabled": "1",
            "webhook_url": url, "secret": "••••••", "events": ["approval_needed", "approval_reminder"]})  # fmt: skip
        with app.app_context():
            from app.db import get_session

            db = get_session()
            channel = db.scalars(select(NotificationChannel)).one()
            assert channel.config["secret"] == "S3cret"
            assert channel.events == ["approval_needed", "approval_reminder"]
            assert db.scalars(select(AllowedHost.host)).all() == ["localhost"]
            db.get(User, 1).phone = "13900000000"
            db.commit()
        client.post("/admin/notifications/channels/1/test", data={"csrf_token": token})
        assert robots.problems == []
        (sent,) = robots.received
        assert sent["body"]["at"]["atMobiles"] == ["13900000000"]
    with SmtpSink() as smtp:
        client.post("/admin/notifications/channels", data={
            "csrf_token": token, "name": "mail", "kind": "email", "enabled": "1",
            **smtp.config()})  # fmt: skip
        answer = client.post("/admin/notifications/channels/2/test", data={"csrf_token": token})
        assert answer.status_code == 302
        (mail,) = smtp.wait(1)
        assert mail["To"].endswith("<boss@example.com>")


def test_template_page_names_events_and_languages_in_the_readers_words(client, login, make_user):
    make_user("boss", roles=("admin",))
    login("boss")
    path = "/admin/notifications/templates?kind=sms&event=approval_reminder&language=en"
    zh = client.get(path, headers={"Accept-Language": "zh"}).get_data(as_text=True)
    en = client.get(path, headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<option value="approval_reminder" selected>审批提醒</option>' in zh
    assert '<option value="approval_reminder" selected>Approval reminder</option>' in en
    assert '<option value="flow_message" >流程通知节点</option>' in zh
    for page in (zh, en):
        assert '<option value="zh"  lang="zh">中文</option>' in page
        assert '<option value="en" selected lang="en">English</option>' in page
        assert ">approval_needed<" not in page and ">en<" not in page
    channels = client.get("/admin/notifications/", headers={"Accept-Language": "zh"})
    assert "待审批" in channels.get_data(as_text=True)


def test_template_page_saves_and_resets(app, client, login, make_user):
    make_user("boss", roles=("admin",))
    login("boss")
    path = "/admin/notifications/templates?kind=sms&event=approval_reminder&language=en"
    page = client.get(path).get_data(as_text=True)
    assert "needs your approval" in page
    token = csrf_token(client, path)
    form = {"csrf_token": token, "kind": "sms", "event": "approval_reminder", "language": "en"}
    client.post(
        "/admin/notifications/templates",
        data={**form, "subject": "", "body": "Order {{ order_id }}: {{ link }}"},
    )
    assert "Order {{ order_id }}: {{ link }}" in client.get(path).get_data(as_text=True)
    bad = client.post(
        "/admin/notifications/templates", data={**form, "subject": "", "body": "{% if %}"}
    )
    assert bad.status_code == 302
    client.post("/admin/notifications/templates", data={**form, "action": "reset"})
    with app.app_context():
        from app.db import get_session

        assert get_session().scalars(select(NotificationTemplate)).all() == []


def test_people_set_where_they_are_reached_and_only_admins_see_channels(
    app, client, login, make_user
):
    make_user("li", roles=("approver",))
    login("li")
    assert client.get("/admin/notifications/").status_code == 403
    assert client.get("/admin/calendar/").status_code == 403
    token = csrf_token(client, "/notifications/contact")
    client.post("/notifications/contact", data={"csrf_token": token, "phone": "138-0013-8000",
                                                "wecom_id": "LiQiang", "feishu_id": "ou_1"})  # fmt: skip
    bad = client.post("/notifications/contact", data={"csrf_token": token, "phone": "call me"})
    assert bad.status_code == 302
    with app.app_context():
        from app.db import get_session

        li = get_session().scalars(select(User).where(User.username == "li")).one()
        assert (li.phone, li.wecom_id, li.dingtalk_id, li.feishu_id) == (
            "13800138000",
            "LiQiang",
            None,
            "ou_1",
        )


def test_calendar_command_seeds_statutory_holidays(runner, app):
    from app.cli import cli

    result = runner.invoke(
        cli,
        ["calendar", "seed", "2026"],
        env={
            "DATABASE_URL": app.config["DATABASE_URL"],
            "ORDERFLOW_INSTANCE_PATH": app.config["INSTANCE_PATH"],
        },
    )
    assert result.exit_code == 0, result.output
    assert "2026:" in result.output
    shown = runner.invoke(
        cli,
        ["calendar", "show", "--year", "2026"],
        env={
            "DATABASE_URL": app.config["DATABASE_URL"],
            "ORDERFLOW_INSTANCE_PATH": app.config["INSTANCE_PATH"],
        },
    )
    assert "2026-10-10  workday  国庆节调休" in shown.output


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "cannot be used: it contains a space or control character"),
        ("zh", "无法使用：含有空格或控制字符"),
    ],
)
def test_a_channel_address_the_sender_cannot_call_is_refused(app, language, expected):
    url = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=a b"
    with app.test_request_context(headers={"Accept-Language": language}):
        with pytest.raises(ValidationError) as info:
            save_channel(get_session(), None, channel_id=None, name="ops", kind="wecom",
                         enabled=True, events=[], settings={"webhook_url": url})  # fmt: skip
        message = str(info.value.message)
    assert info.value.fields == {"webhook_url": "invalid"}
    assert expected in message and url in message and "https://erp.example.com/" in message


def test_a_channel_two_admins_remove_at_once_is_removed_without_an_error(
    app, client, login, make_user, monkeypatch
):
    """Seen on PostgreSQL: the second of two removals found no row left and failed; any
    model's delete is the same (see ``Base``)."""
    make_user("boss", roles=("admin",), email="boss@example.com")
    login("boss")
    with app.app_context():
        db = get_session()
        channel_id = save_channel(db, None, channel_id=None, name="robot", kind="dingtalk",
                                  enabled=True, events=("approval_needed",),
                                  settings={"webhook_url": "http://127.0.0.1:9/r", "secret": "S"}).id  # fmt: skip
        db.commit()
    token = csrf_token(client, "/admin/notifications/")
    read = services.get_channel

    def read_then_the_other_admin_removes_it(db, wanted):
        channel = read(db, wanted)
        table = NotificationChannel.__table__
        db.connection().execute(delete(table).where(table.c.id == wanted))
        return channel

    monkeypatch.setattr(services, "get_channel", read_then_the_other_admin_removes_it)
    answer = client.post(f"/admin/notifications/channels/{channel_id}/delete",
                         data={"csrf_token": token}, headers={"Accept-Language": "en"})  # fmt: skip
    assert answer.status_code == 302
    with app.app_context():
        assert get_session().get(NotificationChannel, channel_id) is None
