"""Feishu (飞书) as open.feishu.cn documents it: the tenant access token, sending and updating
an interactive message card (im/v1/messages), and the card-action callback's signature
(``X-Lark-Signature`` = hex SHA-256 of timestamp + nonce + encrypt key + body) and encryption
(AES-256-CBC, key = SHA-256 of the encrypt key, IV = the first 16 bytes of the Base64 text).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import Headers

from ..runs.outbox import DeliveryError, send_http
from . import cards
from .errors import TokenExpiredError

NAME = "feishu"
DEFAULT_BASE_URL = "https://open.feishu.cn"
# The user's field that holds their id on this platform (an open id or the tenant's user id).
USER_FIELD = "feishu_id"
# Settings the admin fills in: (name, is it secret).
SETTINGS = (
    ("app_secret", True),
    ("verification_token", True),
    ("encrypt_key", True),
)
REQUIRED = ("app_secret", "verification_token")
# Settings OrderFlow makes itself when none is given or saved: none here.
GENERATED: dict[str, Callable[[], str]] = {}
# The setting that gets an access token.
CREDENTIAL = "app_secret"
APP_ID_HINT = _l("Give the app's App ID from the developer console, e.g. cli_a1b2c3d4e5f6.")
REQUIRED_HINT = _l("Fill in the App Secret and the Verification Token from the app's console.")
# A reminder updates the card in place: a message card can be patched any number of times.
REMIND_IN_PLACE = True
# "Invalid" and "missing" access token: fetch a new one and try once more.
TOKEN_CODES = frozenset({99991661, 99991663, 99991668})
# "Request too frequent" (the platform's and the message API's own): worth another attempt.
RETRIED = frozenset({99991400, 230020})


def check(_values: Mapping[str, str]) -> dict[str, Any]:
    """Problems with the settings beyond missing ones: none to find before the first call."""
    return {}


def signature(timestamp: str, nonce: str, encrypt_key: str, body: bytes) -> str:
    """The documented ``X-Lark-Signature`` of a callback."""
    return hashlib.sha256((timestamp + nonce + encrypt_key).encode() + body).hexdigest()


def signature_ok(headers: Headers, encrypt_key: str, body: bytes) -> bool:
    """Whether the callback's signature headers match its body."""
    given = headers.get("X-Lark-Signature") or ""
    expected = signature(
        headers.get("X-Lark-Request-Timestamp") or "",
        headers.get("X-Lark-Request-Nonce") or "",
        encrypt_key,
        body,
    )
    return bool(given) and hmac.compare_digest(given.encode(), expected.encode())


def decrypt(encrypted: str, encrypt_key: str) -> str:
    """The plain text of an ``encrypt`` field; ValueError when it is not one."""
    raw = base64.b64decode(encrypted, validate=True)
    if len(raw) < 32 or len(raw) % 16:
        raise ValueError("not an AES-CBC text")
    key = hashlib.sha256(encrypt_key.encode()).digest()
    decryptor = Cipher(algorithms.AES(key), modes.CBC(raw[:16])).decryptor()
    padded = decryptor.update(raw[16:]) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return (unpadder.update(padded) + unpadder.finalize()).decode()


def encrypt(plain: str, encrypt_key: str, iv: bytes) -> str:
    """The inverse of :func:`decrypt` (what Feishu does); used by the local fake."""
    key = hashlib.sha256(encrypt_key.encode()).digest()
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plain.encode()) + padder.finalize()
    encryptor = Cipher(algorithms.AES(key), modes.CBC(iv)).encryptor()
    return base64.b64encode(iv + encryptor.update(padded) + encryptor.finalize()).decode()


def _call(
    url: str, body: Mapping[str, Any] | None, *, token: str | None = None, method: str = "POST"
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    # Feishu explains a refusal in the body ({"code", "msg"}), often with HTTP 400.
    status, raw = send_http(url, data, headers, method=method, who="Feishu", client_errors=True)
    try:
        reply = json.loads(raw or b"{}")
    except ValueError:
        reply = {}
    if not isinstance(reply, dict):
        reply = {}
    again = status in (408, 409, 425, 429)
    code = reply.get("code", 0 if status < 400 else None)
    if code in TOKEN_CODES or (status == 401 and token):
        raise TokenExpiredError(f"Feishu refused the access token: {code} {reply.get('msg')}")
    if code is None:
        raise DeliveryError(
            f"HTTP {status} from Feishu: {raw[:200]!r}", permanent=not again, status=status
        )
    if code != 0:
        # Rate limits are retried later; any other refusal (a bad receiver, a bad card, no
        # permission) will not change by sending the same request again.
        raise DeliveryError(
            f"Feishu refused the request: {code} {reply.get('msg')}",
            permanent=code not in RETRIED and not again,
            status=status,
        )
    return reply


def get(base_url: str, path: str, query: Mapping[str, Any], token: str) -> dict[str, Any]:
    """The ``data`` of a GET of an open API (``path`` after /open-apis/)."""
    url = f"{base_url}/open-apis/{path}?{urlencode(query)}"
    return _call(url, None, token=token, method="GET").get("data") or {}


def fetch_token(base_url: str, app_id: str, app_secret: str) -> tuple[str, int]:
    """A new ``tenant_access_token`` and its lifetime in seconds."""
    reply = _call(
        f"{base_url}/open-apis/auth/v3/tenant_access_token/internal",
        {"app_id": app_id, "app_secret": app_secret},
    )
    token = reply.get("tenant_access_token")
    if not token:
        raise DeliveryError("Feishu gave no tenant_access_token", permanent=True)
    return str(token), int(reply.get("expire") or 7200)


def receive_id_type(feishu_id: str) -> str:
    """Open ids start with ``ou_``; anything else is the tenant's user id."""
    return "open_id" if feishu_id.startswith("ou_") else "user_id"


def send_card(base_url: str, token: str, feishu_id: str, card: Mapping[str, Any]) -> str:
    """Send ``card`` to one person; the new message id."""
    reply = _call(
        f"{base_url}/open-apis/im/v1/messages?receive_id_type={receive_id_type(feishu_id)}",
        {
            "receive_id": feishu_id,
            "msg_type": "interactive",
            "content": json.dumps(card, ensure_ascii=False),
        },
        token=token,
    )
    message_id = (reply.get("data") or {}).get("message_id")
    if not message_id:
        raise DeliveryError("Feishu gave no message_id for the card", permanent=True)
    return str(message_id)


def update_card(base_url: str, token: str, message_id: str, card: Mapping[str, Any]) -> None:
    """Replace the content of a card already sent (PATCH im/v1/messages/:message_id)."""
    _call(
        f"{base_url}/open-apis/im/v1/messages/{message_id}",
        {"content": json.dumps(card, ensure_ascii=False)},
        token=token,
        method="PATCH",
    )


def send(
    base_url: str,
    token: str,
    _settings: Mapping[str, str],
    to: str,
    values: Mapping[str, Any],
    language: str,
) -> tuple[str, str | None]:
    """Send the card for ``values`` to one person; (message id, update code: none needed)."""
    return send_card(base_url, token, to, cards.card(values, language)), None


def update(
    base_url: str,
    token: str,
    _settings: Mapping[str, str],
    _to: str,
    message_id: str,
    _code: str | None,
    values: Mapping[str, Any],
    language: str,
) -> str | None:
    """Show ``values`` on a card already sent; the next update code (none needed)."""
    update_card(base_url, token, message_id, cards.card(values, language))
    return None
