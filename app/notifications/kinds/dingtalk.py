"""The DingTalk (钉钉) custom group robot: markdown with @mobiles and @user ids, signed
(``timestamp`` and ``sign`` in the address) when the robot has a secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote_plus

from flask_babel import lazy_gettext as _l

from .base import ChannelKind, post_json, robot_answer, signing_secret, webhook_url


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signature: Base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>"))."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def send_dingtalk(config: Mapping[str, Any], msg: Mapping[str, Any]) -> dict[str, Any]:
    """DingTalk custom robot: markdown with @mobiles; signed when the robot has a secret."""
    url = config["webhook_url"]
    secret = config.get("secret")
    if secret:
        stamp = int(time.time() * 1000)
        joiner = "&" if "?" in url else "?"
        url = f"{url}{joiner}timestamp={stamp}&sign={quote_plus(dingtalk_sign(secret, stamp))}"
    mobiles = list(msg.get("mobiles", ()))
    text = msg["body"] + ("\n\n" + " ".join(f"@{m}" for m in mobiles) if mobiles else "")
    body = {
        "msgtype": "markdown",
        "markdown": {"title": msg["subject"], "text": text},
        "at": {
            "atMobiles": mobiles,
            "atUserIds": list(msg.get("dingtalk_ids", ())),
            "isAtAll": False,
        },
    }
    return robot_answer(post_json(url, body), "errcode")


KIND = ChannelKind(
    name="dingtalk",
    label=_l("DingTalk group robot"),
    title={"en": "DingTalk", "zh": "钉钉"},
    settings=(
        webhook_url("https://oapi.dingtalk.com/robot/send?access_token=…"),
        signing_secret(),
    ),
    send=send_dingtalk,
    address={"mobiles": "phone", "dingtalk_ids": "dingtalk_id"},
    style="markdown",
)
