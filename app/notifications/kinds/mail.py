"""Email: plain text through the admin's SMTP server (none, STARTTLS or SSL/TLS)."""

from __future__ import annotations

import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from typing import Any

from flask_babel import lazy_gettext as _l

from ...runs.outbox import DeliveryError
from .base import ChannelKind, Setting

TIMEOUT_SECONDS = 10


def _port(text: str) -> Any:
    if not text.isdigit() or not 0 < int(text) < 65536:
        return _l("Give the port as a number, e.g. 25, 465 or 587.")
    return None


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


KIND = ChannelKind(
    name="email",
    label=_l("Email (SMTP)"),
    title={"en": "email", "zh": "邮件"},
    settings=(
        Setting("host", _l("Mail server"), required=True, example="smtp.example.com"),
        Setting("port", _l("Port"), example="25", check=_port),
        Setting(
            "security",
            _l("Connection security"),
            choices=(
                ("none", _l("None (plain connection)")),
                ("starttls", "STARTTLS"),
                ("ssl", "SSL/TLS"),
            ),
        ),  # fmt: skip
        Setting("username", _l("User name")),
        Setting("password", _l("Password"), secret=True),
        Setting("sender", _l("Sender address"), example="orderflow@example.com"),
    ),
    send=send_email,
    address={"email": "email"},
    personal=True,
    required_hint=_l("An email channel needs the mail server and its port."),
)
