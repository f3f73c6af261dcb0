"""How each sales platform delivers its webhooks: the signature it sends, the id of each
delivery, its topics, and the answer it expects.

One protocol per channel kind, declared once in ``PROTOCOLS``. A protocol verifies a
delivery with the platform's own scheme (constant-time comparison), splits it into
messages (one per order event; 抖店 sends several in one request) and says what to answer.
OrderFlow's own ``X-OrderFlow-Signature`` is accepted by every kind, for senders of one's
own and relays.

Topics are OrderFlow's: ``created`` (the order arrives), ``paid``, ``fulfilled``,
``delivered``, ``cancelled``, ``refunded`` (status events of a known order), ``updated``
(nothing to apply) and ``ignored`` (a message kind OrderFlow does not use).

Schemes, as the platforms document them:

- Shopify: ``X-Shopify-Hmac-Sha256`` is the Base64 HMAC-SHA256 of the raw body with the
  app's client secret; ``X-Shopify-Webhook-Id`` names the delivery, ``X-Shopify-Topic`` the
  topic (``orders/create`` ...). Any 2xx within 5 s is success.
- WooCommerce: ``X-WC-Webhook-Signature`` is the Base64 HMAC-SHA256 of the raw body with
  the webhook's secret; ``X-WC-Webhook-Delivery-ID``, ``X-WC-Webhook-Topic``
  (``order.created``, ``order.updated`` ...). Saving a webhook sends a ping
  (``webhook_id=<n>`` form body) that must be answered 2xx.
- 有赞 (Youzan) push: ``Event-Sign`` is the hex MD5 of client id + raw body + client secret,
  ``Client-Id`` and ``Event-Type`` (``trade_TradeCreate`` ...); the body carries the trade
  URL-encoded in ``msg``. Answer ``{"code": 0, "msg": "success"}``.
- 抖店 (Douyin shop) message push: ``event-sign`` is the hex MD5 of app key + raw body +
  app secret (HMAC-SHA256 with the app secret as key when ``sign-method: hmac-sha256``),
  ``app-id`` names the app; the body is a list of ``{"tag", "msg_id", "data"}``. Answer
  ``{"code": 0, "msg": "success"}``.
- Generic HMAC: the admin chooses the header, the algorithm (sha256, sha1), the encoding
  (hex, base64), an optional prefix (``sha256=``), whether the signed text is the body or
  ``<timestamp>.<body>`` (with a timestamp header and the replay window), and the headers
  naming the delivery and the topic.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote_plus

from flask_babel import lazy_gettext as _l
from werkzeug.datastructures import Headers

from ..errors import AppError, ValidationError
from ..jsonbody import parse_json
from . import kinds

REPLAY_WINDOW = timedelta(minutes=5)
TOPICS = ("created", "paid", "fulfilled", "delivered", "cancelled", "refunded", "updated")


class SignatureError(AppError):
    """The delivery is not signed by the channel, is stale, or was seen before."""

    code = "bad_signature"
    status = 401


@dataclass(frozen=True)
class Message:
    """One order event of a delivery."""

    delivery_id: str | None
    topic: str
    payload: Any
    # The platform's own name of the topic, kept on the status event and the held delivery.
    platform_topic: str = ""


@dataclass(frozen=True)
class Answer:
    status: int
    body: Any


def _mac(secret: str, text: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(secret.encode(), text, getattr(hashlib, algorithm)).digest()


def _same(given: str | None, expected: str) -> bool:
    if not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


def _missing(header: str) -> SignatureError:
    return SignatureError(
        _l("The %(header)s header is missing: the delivery is not signed.", header=header),
        code="missing_signature",
    )


def _mismatch(header: str) -> SignatureError:
    return SignatureError(
        _l(
            "The %(header)s signature does not match the body: check the secret saved for "
            "this channel against the one in the platform's admin.",
            header=header,
        )
    )


def _json(body: bytes) -> Any:
    return parse_json(body)  # one JSON parser for every request body


@dataclass(frozen=True)
class Protocol:
    """A platform's webhook scheme. Subclasses override what differs."""

    kind: str
    label: Mapping[str, str]
    header: str = ""
    answer_ok: Answer = field(default_factory=lambda: Answer(200, None))

    def handshake(self, headers: Headers, body: bytes) -> Answer | None:
        """An answer for a set-up request (a ping) that carries no order, else None."""
        return None

    def verify(
        self,
        secret: str,
        settings: Mapping[str, Any],
        headers: Headers,
        body: bytes,
        now: datetime,
    ) -> None:
        raise NotImplementedError

    def messages(self, headers: Headers, body: bytes) -> list[Message]:
        raise NotImplementedError

    def answer(self, results: list[Any]) -> Answer | None:
        """The platform's expected answer; None: OrderFlow's own (the order as JSON)."""
        return None


_SHOPIFY_TOPICS = {
    "orders/create": "created",
    "orders/paid": "paid",
    "orders/fulfilled": "fulfilled",
    "orders/partially_fulfilled": "updated",
    "orders/cancelled": "cancelled",
    "refunds/create": "refunded",
    "orders/updated": "updated",
    "orders/edited": "updated",
}


class Shopify(Protocol):
    def verify(self, secret, settings, headers, body, now) -> None:  # noqa: ANN001
        given = headers.get("X-Shopify-Hmac-Sha256")
        if not given:
            raise _missing("X-Shopify-Hmac-Sha256")
        if not _same(given, base64.b64encode(_mac(secret, body)).decode()):
            raise _mismatch("X-Shopify-Hmac-Sha256")

    def messages(self, headers, body) -> list[Message]:  # noqa: ANN001
        topic = headers.get("X-Shopify-Topic", "orders/create")
        payload = _json(body)
        if topic == "refunds/create" and isinstance(payload, Mapping):
            payload = {"id": payload.get("order_id"), "refund": payload}
        return [
            Message(
                headers.get("X-Shopify-Webhook-Id") or headers.get("X-Shopify-Event-Id"),
                _SHOPIFY_TOPICS.get(topic, "ignored"),
                payload,
                topic,
            )
        ]


_WOO_STATUS = {
    "processing": "paid",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "refunded": "refunded",
}


class WooCommerce(Protocol):
    def handshake(self, headers, body) -> Answer | None:  # noqa: ANN001
        if body.startswith(b"webhook_id="):
            return Answer(200, {"status": "ok", "ping": True})
        return None

    def verify(self, secret, settings, headers, body, now) -> None:  # noqa: ANN001
        given = headers.get("X-WC-Webhook-Signature")
        if not given:
            raise _missing("X-WC-Webhook-Signature")
        if not _same(given, base64.b64encode(_mac(secret, body)).decode()):
            raise _mismatch("X-WC-Webhook-Signature")

    def messages(self, headers, body) -> list[Message]:  # noqa: ANN001
        topic = headers.get("X-WC-Webhook-Topic", "order.created")
        payload = _json(body)
        status = payload.get("status") if isinstance(payload, Mapping) else None
        if topic == "order.created":
            ours = "created"
        elif topic == "order.updated":
            ours = _WOO_STATUS.get(str(status), "updated")
        elif topic in ("order.deleted", "order.restored"):
            ours = "cancelled" if topic == "order.deleted" else "updated"
        else:
            ours = "ignored"
        return [Message(headers.get("X-WC-Webhook-Delivery-ID"), ours, payload, topic)]


_YOUZAN_TYPES = {
    "trade_TradeCreate": "created",
    "trade_TradeBuyerPay": "paid",
    "trade_TradePaid": "paid",
    "trade_TradeSellerShip": "fulfilled",
    "trade_TradePartlySellerShip": "updated",
    "trade_TradeSuccess": "delivered",
    "trade_TradeClose": "cancelled",
    "trade_refund_RefundSuccess": "refunded",
    "trade_TradeMemoModified": "updated",
}


def _md5(text: bytes) -> str:
    return hashlib.md5(text).hexdigest()  # noqa: S324 (the platforms' documented scheme)


class Youzan(Protocol):
    def verify(self, secret, settings, headers, body, now) -> None:  # noqa: ANN001
        given = headers.get("Event-Sign")
        if not given:
            raise _missing("Event-Sign")
        client_id = str(settings.get("app_key") or headers.get("Client-Id") or "")
        if not _same(given.lower(), _md5(client_id.encode() + body + secret.encode())):
            raise _mismatch("Event-Sign")

    def messages(self, headers, body) -> list[Message]:  # noqa: ANN001
        doc = _json(body)
        if not isinstance(doc, Mapping):
            return [Message(None, "ignored", doc)]
        kind = str(headers.get("Event-Type") or doc.get("type") or "")
        msg = doc.get("msg")
        trade: Any = None
        if isinstance(msg, str) and msg:
            try:
                trade = json.loads(unquote_plus(msg))
            except ValueError:
                trade = None
        if trade is None:
            trade = {"tid": doc.get("id")}
        ident = "|".join(str(doc.get(k) or "") for k in ("type", "id", "version"))
        return [Message(ident if doc.get("id") else None, _YOUZAN_TYPES.get(kind, "ignored"),
                        trade, kind)]  # fmt: skip

    def answer(self, results: list[Any]) -> Answer:
        return Answer(200, {"code": 0, "msg": "success"})


# 抖店 message tags (订单消息): created, paid, shipped, completed, address changed, cancelled.
_DOUYIN_TAGS = {
    "100": "created",
    "101": "paid",
    "102": "fulfilled",
    "103": "delivered",
    "105": "updated",
    "106": "cancelled",
    "206": "refunded",
}


class Douyin(Protocol):
    def verify(self, secret, settings, headers, body, now) -> None:  # noqa: ANN001
        given = headers.get("event-sign")
        if not given:
            raise _missing("event-sign")
        app_key = str(settings.get("app_key") or "")
        if app_key and headers.get("app-id") not in (None, app_key):
            raise SignatureError(
                _l("The app-id header names another app than this channel's."),
                code="bad_signature",
            )
        text = (app_key or headers.get("app-id", "")).encode() + body + secret.encode()
        if (headers.get("sign-method") or "").lower() == "hmac-sha256":
            expected = hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()
        else:
            expected = _md5(text)
        if not _same(given.lower(), expected):
            raise _mismatch("event-sign")

    def messages(self, headers, body) -> list[Message]:  # noqa: ANN001
        doc = _json(body)
        items = doc if isinstance(doc, list) else [doc]
        out = []
        for item in items:
            if not isinstance(item, Mapping):
                out.append(Message(None, "ignored", item))
                continue
            data = item.get("data")
            if isinstance(data, str):
                try:
                    data = json.loads(data)
                except ValueError:
                    data = None
            if isinstance(data, Mapping) and "order_id" not in data and data.get("p_id"):
                data = {**data, "order_id": str(data["p_id"])}
            tag = str(item.get("tag") or "")
            out.append(Message(item.get("msg_id"), _DOUYIN_TAGS.get(tag, "ignored"), data, tag))
        return out

    def answer(self, results: list[Any]) -> Answer:
        return Answer(200, {"code": 0, "msg": "success"})


HMAC_SETTINGS = {
    "header": "X-Signature",
    "algorithm": "sha256",
    "encoding": "hex",
    "prefix": "",
    "signed": "body",
    "timestamp_header": "",
    "delivery_header": "",
    "topic_header": "",
    "topics": {},
    "mapping": "canonical",
}
_HEADER = re.compile(r"^[A-Za-z0-9-]{1,64}$")


def check_hmac_settings(settings: Any) -> dict[str, Any]:
    """The generic HMAC kind's settings, completed with defaults; ValidationError lists
    every problem with what is accepted."""
    if settings is None:
        settings = {}
    problems: dict[str, str] = {}
    if not isinstance(settings, Mapping):
        raise ValidationError(_l("The signature settings are not a JSON object."))
    out = {**HMAC_SETTINGS, **settings}
    unknown = sorted(set(settings) - set(HMAC_SETTINGS) - {"app_key"})
    if unknown:
        problems["settings"] = str(_l("Unknown settings: %(names)s.", names=", ".join(unknown)))
    for name in ("header", "timestamp_header", "delivery_header", "topic_header"):
        value = out[name]
        if (value or name == "header") and not _HEADER.match(str(value)):
            problems[name] = str(_l("A header name such as X-Signature."))
    if out["algorithm"] not in ("sha256", "sha1"):
        problems["algorithm"] = str(_l("sha256 or sha1."))
    if out["encoding"] not in ("hex", "base64"):
        problems["encoding"] = str(_l("hex or base64."))
    if out["signed"] not in ("body", "timestamp.body"):
        problems["signed"] = str(_l("body, or timestamp.body with a timestamp header."))
    elif out["signed"] == "timestamp.body" and not out["timestamp_header"]:
        problems["timestamp_header"] = str(_l("Name the header carrying the timestamp."))
    topics = out["topics"]
    if not isinstance(topics, Mapping) or any(v not in TOPICS for v in topics.values()):
        problems["topics"] = str(
            _l("Map the sender's topics to %(topics)s.", topics=", ".join(TOPICS))
        )
    if problems:
        raise ValidationError(
            _l("The signature settings are not valid."), code="invalid_settings", fields=problems
        )
    return dict(out)


class GenericHmac(Protocol):
    def verify(self, secret, settings, headers, body, now) -> None:  # noqa: ANN001
        conf = {**HMAC_SETTINGS, **settings}
        given = headers.get(conf["header"])
        if not given:
            raise _missing(conf["header"])
        text = body
        if conf["signed"] == "timestamp.body":
            stamp = headers.get(conf["timestamp_header"]) or ""
            if not stamp.isdigit() or len(stamp) > 12:
                raise _missing(conf["timestamp_header"])
            if abs(now.timestamp() - int(stamp)) > REPLAY_WINDOW.total_seconds():
                raise SignatureError(
                    _l("The signature timestamp is outside the %(n)d-second window.",
                       n=int(REPLAY_WINDOW.total_seconds())),
                    code="stale_signature",
                )  # fmt: skip
            text = stamp.encode() + b"." + body
        digest = _mac(secret, text, conf["algorithm"])
        encoded = digest.hex() if conf["encoding"] == "hex" else base64.b64encode(digest).decode()
        if not _same(given, f"{conf['prefix']}{encoded}"):
            raise _mismatch(conf["header"])

    def messages(self, headers, body) -> list[Message]:  # noqa: ANN001
        return [Message(None, "created", _json(body))]

    def configured(self, settings: Mapping[str, Any]) -> Callable[[Headers, bytes], list[Message]]:
        conf = {**HMAC_SETTINGS, **settings}

        def read(headers: Headers, body: bytes) -> list[Message]:
            topic = headers.get(conf["topic_header"], "") if conf["topic_header"] else ""
            ours = conf["topics"].get(topic, "created" if not topic else "ignored")
            delivery = headers.get(conf["delivery_header"]) if conf["delivery_header"] else None
            return [Message(delivery, ours, _json(body), topic)]

        return read


class OrderFlowSigned(Protocol):
    """The orders of a B2B partner or another system of one's own, signed as OrderFlow signs."""


PROTOCOLS: dict[str, Protocol] = {
    "shopify": Shopify("shopify", kinds.label("shopify")),
    "woocommerce": WooCommerce("woocommerce", kinds.label("woocommerce")),
    "youzan": Youzan("youzan", kinds.label("youzan")),
    "douyin": Douyin("douyin", kinds.label("douyin")),
    "hmac": GenericHmac("hmac", kinds.label("hmac")),
}
