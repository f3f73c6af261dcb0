"""Dead-letter reasons in the reader's language, with what to do."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from app.db import get_db
from app.models import OutboxMessage
from app.runs import outbox
from app.runs.delivery_reasons import reason_text

from .conftest import csrf_token

# (stored error, English, Chinese)
CASES = [
    (
        "destination host 'erp.acme.cn' is not on the allowlist; not contacted",
        "The host erp.acme.cn is not on the allowlist, so nothing was sent.",
        "主机 erp.acme.cn 不在允许列表中，因此没有发送。请在下方“允许的目标主机”中添加它",
    ),
    ("HTTP 503 from erp.acme.cn", "erp.acme.cn answered HTTP 503.", "erp.acme.cn 返回 HTTP 503。"),
    (
        "HTTP 307 from erp.acme.cn redirects to https://x.cn/; redirects are not followed "
        "(give the final address)",
        "a redirect to https://x.cn/; redirects are not followed",
        "重定向到 https://x.cn/；系统不跟随重定向，请填写最终地址。",
    ),
    (
        "cannot reach erp.acme.cn: [Errno 111] Connection refused",
        "Cannot reach erp.acme.cn ([Errno 111] Connection refused).",
        "无法连接 erp.acme.cn（[Errno 111] Connection refused）。",
    ),
    (
        "not a usable URL 'ftp://x': not http(s)",
        "'ftp://x' is not an address that can be called",
        "'ftp://x' 不是可调用的地址；请填写带主机名的 http:// 或 https:// 地址",
    ),
    (
        "the channel was removed or disabled",
        "The notification channel was removed or switched off.",
        "通知渠道已删除或已停用。",
    ),
    (
        "the mail server refused the login",
        "The mail server refused the login",
        "邮件服务器拒绝登录：请检查该渠道的用户名和密码。",
    ),
    ("something nobody foresaw", "something nobody foresaw", "something nobody foresaw"),
]


@pytest.mark.parametrize(("stored", "en", "zh"), CASES)
def test_stored_reason_reads_in_each_language(app, stored, en, zh):
    for lang, expected in (("en", en), ("zh", zh)):
        with app.test_request_context("/", headers={"Accept-Language": lang}):
            assert expected in reason_text(stored)


def test_outbox_page_explains_a_dead_letter_in_chinese(app, client, make_user):
    with get_db(app).session() as db:
        db.add(
            OutboxMessage(
                kind="webhook",
                payload={"url": "https://erp.acme.cn/orders", "body": {}},
                status=outbox.DEAD,
                attempts=1,
                effect_id="e-1",
                last_error="destination host 'erp.acme.cn' is not on the allowlist; not contacted",
            )
        )
        db.commit()
        assert db.scalars(select(OutboxMessage.id)).one()
    make_user("boss", roles=("admin",))
    client.post(
        "/login",
        data={"username": "boss", "password": "correct-horse", "csrf_token": csrf_token(client)},
    )
    page = client.get("/admin/outbox/", headers={"Accept-Language": "zh"}).get_data(as_text=True)
    assert "主机 erp.acme.cn 不在允许列表中，因此没有发送" in page
    assert "not on the allowlist" not in page
