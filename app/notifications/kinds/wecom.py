"""The WeCom (企业微信) group robot: a markdown message; people are @-mentioned by user id."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import lazy_gettext as _l

from .base import ChannelKind, post_json, robot_answer, webhook_url


def send_wecom(config: Mapping[str, Any], msg: Mapping[str, Any]) -> dict[str, Any]:
    """WeCom group robot: markdown message; people are @-mentioned in a text line."""
    mentions = "".join(f"<@{uid}>" for uid in msg.get("wecom_ids", ()))
    content = msg["body"] + (f"\n{mentions}" if mentions else "")
    body = {"msgtype": "markdown", "markdown": {"content": content}}
    return robot_answer(post_json(config["webhook_url"], body), "errcode")


KIND = ChannelKind(
    name="wecom",
    label=_l("WeCom group robot"),
    title={"en": "WeCom", "zh": "企业微信"},
    settings=(webhook_url("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…"),),
    send=send_wecom,
    address={"wecom_ids": "wecom_id"},
    style="markdown",
)
