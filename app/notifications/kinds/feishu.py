"""The Feishu (飞书) custom group bot: a rich-text post with a link and @-mentions, signed
(``timestamp`` and ``sign`` in the body) when the bot has a secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from .base import ChannelKind, post_json, robot_answer, signing_secret, webhook_url


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu robot signature: Base64(HMAC-SHA256 keyed with "<timestamp>\\n<secret>", empty)."""
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def send_feishu(config: Mapping[str, Any], msg: Mapping[str, Any]) -> dict[str, Any]:
    """Feishu custom bot: a rich-text post; signed with timestamp and sign when it has a secret."""
    lines: list[list[dict[str, Any]]] = [
        [{"tag": "text", "text": line}] for line in msg["body"].splitlines() if line.strip()
    ]
    if msg.get("link"):
        lines.append(
            [{"tag": "a", "text": msg.get("link_label") or msg["link"], "href": msg["link"]}]
        )
    mentions = [{"tag": "at", "user_id": uid} for uid in msg.get("feishu_ids", ())]
    if mentions:
        lines.append(mentions)
    body: dict[str, Any] = {
        "msg_type": "post",
        "content": {"post": {"zh_cn": {"title": msg["subject"], "content": lines}}},
    }
    secret = config.get("secret")
    if secret:
        stamp = int(time.time())
        body = {"timestamp": str(stamp), "sign": feishu_sign(secret, stamp), **body}
    return robot_answer(post_json(config["webhook_url"], body), "code")


KIND = ChannelKind(
    name="feishu",
    label=_l("Feishu group robot"),
    title={"en": "Feishu", "zh": "飞书"},
    settings=(
        webhook_url("https://open.feishu.cn/open-apis/bot/v2/hook/…"),
        signing_secret(),
    ),
    send=send_feishu,
    address={"feishu_ids": "feishu_id"},
)
