"""Sending one rendered message through one channel: SMTP email, the WeCom (企业微信),
DingTalk (钉钉) and Feishu (飞书) group robots in their documented JSON formats and
signatures, and a generic SMS gateway webhook.

Every sender raises :class:`DeliveryError` when the receiver does not take the message, so the
outbox retries it with backoff and finally dead-letters it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import smtplib
import ssl
import time
from collections.abc import Callable, Mapping
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any
from urllib.parse import quote_plus

import simplejson

from ..runs.outbox import DeliveryError, send_http
from ..signing import sign

TIMEOUT_SECONDS = 10
MAX_RESPONSE_BYTES = 64 * 1024

# Per kind: the settings the admin fills in (name, is it secret).
CHANNEL_KINDS: dict[str, tuple[tuple[str, bool], ...]] = {
    "email": (
        ("host", False),
        ("port", False),
        ("security", False),  # none | starttls | ssl
        ("username", False),
        ("password", True),
        ("sender", False),
    ),
    "wecom": (("webhook_url", False),),
    "dingtalk": (("webhook_url", False), ("secret", True)),
    "feishu": (("webhook_url", False), ("secret", True)),
    "sms": (("webhook_url", False), ("secret", True)),
}
ROBOTS = ("wecom", "dingtalk", "feishu")


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk robot signature: Base64(HMAC-SHA256(secret, "<timestamp>\\n<secret>"))."""
    mac = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu robot signature: Base64(HMAC-SHA256 keyed with "<timestamp>\\n<secret>", empty)."""
    mac = hmac.new(f"{timestamp}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(mac.digest()).decode()


def _post_json(url: str, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Any:
    data = simplejson.dumps(body, ensure_ascii=False, use_decimal=True).encode()
    wanted = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    _, raw = send_http(url, data, wanted, max_bytes=MAX_RESPONSE_BYTES, who="the channel")
    try:
        return simplejson.loads(raw) if raw else {}
    except ValueError:
        return {"raw": raw.decode("utf-8", "replace")[:200]}


def _robot_answer(reply: Any, ok_key: str) -> dict[str, Any]:
    """Robots answer HTTP 200 with an error code in the body when they refuse a message."""
    code = reply.get(ok_key, reply.get("StatusCode", 0)) if isinstance(reply, dict) else 0
    if code not in (0, None):
        message = reply.get("errmsg") or reply.get("msg") or reply.get("StatusMessage")
        raise DeliveryError(f"the robot refused the message: {code} {message}")
    return {"status": 200, "body": reply}


def send_wecom(config: Mapping[str, Any], msg: Mapping[str, Any]) -> dict[str, Any]:
    """WeCom group robot: markdown message; people are @-mentioned in a text line."""
    mentions = "".join(f"<@{uid}>" for uid in msg.get("wecom_ids", ()))
    content = msg["body"] + (f"\n{mentions}" if mentions else "")
    body = {"msgtype": "markdown", "markdown": {"content": content}}
    return _robot_answer(_post_json(config["webhook_url"], body), "errcode")


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
    return _robot_answer(_post_json(url, body), "errcode")


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
    return _robot_answer(_post_json(config["webhook_url"], body), "code")


def send_sms(config: Mapping[str, Any], msg: Mapping[str, Any]) -> dict[str, Any]:
    """A generic SMS gateway: JSON ``{"to", "text"}``, HMAC-signed like OrderFlow webhooks."""
    body = {"to": msg["phone"], "text": msg["body"], "idempotency_key": msg.get("key")}
    raw = simplejson.dumps(body, ensure_ascii=False).encode()
    stamp = int(time.time())
    headers = {"Idempotency-Key": str(msg.get("key") or "")}
    if config.get("secret"):
        headers["X-OrderFlow-Signature"] = sign(config["secret"], stamp, raw)
    reply = _post_json(config["webhook_url"], body, headers)
    return {"status": 200, "body": reply}


def send_email(config: Mapping[str, Any], msg: Mapping[str, Any]) -> dict[str, Any]:
    """Plain-text email through the configured SMTP server."""
    email = EmailMessage()
    email["Subject"] = msg["subject"]
    email["From"] = config.get("sender") or "orderflow@localhost"
    email["To"] = formataddr((msg.get("name") or "", msg["email"]))
    email["Message-ID"] = make_msgid(domain="orderflow")
    if msg.get("key"):
        email["X-OrderFlow-Key"] = str(msg["key"])
    email.set_content(msg["body"])
    host, port = config.get("host") or "127.0.0.1", int(config.get("port") or 25)
    security = config.get("security") or "none"
    try:
        if security == "ssl":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                host, port, timeout=TIMEOUT_SECONDS, context=ssl.create_default_context()
            )
        else:
            smtp = smtplib.SMTP(host, port, timeout=TIMEOUT_SECONDS)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.get("username"):
                smtp.login(config["username"], config.get("password") or "")
            refused = smtp.send_message(email)
    except smtplib.SMTPRecipientsRefused as err:
        raise DeliveryError(f"the mail server refused {msg['email']}", permanent=True) from err
    except smtplib.SMTPAuthenticationError as err:
        raise DeliveryError("the mail server refused the login", permanent=True) from err
    except (smtplib.SMTPException, OSError) as err:
        raise DeliveryError(f"cannot send the email: {err}") from err
    return {"status": 250, "refused": sorted(refused)}


SENDERS: dict[str, Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]] = {
    "email": send_email,
    "wecom": send_wecom,
    "dingtalk": send_dingtalk,
    "feishu": send_feishu,
    "sms": send_sms,
}
