"""DingTalk (钉钉) as open.dingtalk.com documents an internal enterprise app (企业内部应用):
the access token of the new API (``POST /v1.0/oauth2/accessToken`` with the app key and
secret), an interactive card (互动卡片) sent to one person in a single chat with the app's
robot (``POST /v1.0/im/interactiveCards/send``) and updated in place once the task has left
``pending`` (``PUT /v1.0/im/interactiveCards`` with the card's ``outTrackId``).

The card is built from a template made once in DingTalk's card platform (卡片平台); OrderFlow
fills its variables (``cardParamMap``, every value a string). Approve is a callback button
(回传请求, action id ``approve``). DingTalk sends a click on a card sent with a
``callbackRouteKey`` to the URL registered for that key (``POST /v1.0/card/callbacks/register``
with ``callbackUrl``, ``apiSecret`` and ``forceUpdate``); OrderFlow registers its own URL
there, with a key in the path that only OrderFlow and DingTalk know (``url_key``). A card
takes no free text here, so Reject opens the mobile page of the task (signed in for that
person), where a rejection asks for its reason.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import force_locale, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..runs.outbox import DeliveryError, send_http
from . import cards
from .errors import TokenExpiredError

NAME = "dingtalk"
DEFAULT_BASE_URL = "https://api.dingtalk.com"
# The user's field that holds their DingTalk userid (员工 UserID).
USER_FIELD = "dingtalk_id"
# Settings the admin fills in besides the app key: (name, is it secret).
SETTINGS = (
    ("robot_code", False),
    ("card_template_id", False),
    ("callback_route_key", False),
    # When saved, a card callback naming another company (its ``corpId``) is refused.
    ("corp_id", False),
    ("app_secret", True),
    # The apiSecret registered with the callback URL; OrderFlow makes it (``GENERATED``).
    ("api_secret", True),
)
REQUIRED = ("robot_code", "card_template_id", "app_secret")
# Settings OrderFlow makes itself when none is given or saved.
GENERATED: dict[str, Callable[[], str]] = {"api_secret": lambda: secrets.token_urlsafe(24)}
# The setting that gets an access token.
CREDENTIAL = "app_secret"
# A reminder updates the card in place: an interactive card can be updated any number of times.
REMIND_IN_PLACE = True
APP_ID_HINT = _l(
    "Give the app's AppKey (Client ID) from its credentials page, e.g. dingxxh3ojxcc2xsyuvk."
)
REQUIRED_HINT = _l(
    "Fill in the app's AppSecret and RobotCode (for an internal app, its AppKey) and the card "
    "template id from the card platform."
)
# The callbackRouteKey the app's callback URL is registered under, unless one is given.
ROUTE_KEY = "orderflow-approvals"
# The new API's "invalid or expired token" codes, and the old API's (errcode 40014, 42001,
# 88 on some endpoints): fetch a new token and try once more.
TOKEN_CODES = frozenset({"InvalidAuthentication", "invalidAuthentication", 40014, 42001, 88})
# Throttled: worth another attempt later.
RETRIED = frozenset({"Throttling", "Throttling.Api", "Throttling.User", -1})
# The callback button's action id (the card's outTrackId says which task it is for).
APPROVE = "approve"


def check(_values: Mapping[str, str]) -> dict[str, Any]:
    """Settings DingTalk would refuse, by name: none it documents a form for."""
    return {}


def route_key(settings: Mapping[str, str]) -> str:
    """The ``callbackRouteKey`` the cards are sent with and the callback URL registered for."""
    return settings.get("callback_route_key") or ROUTE_KEY


def url_key(settings: Mapping[str, str]) -> str:
    """The key in the path of the callback URL OrderFlow registers, made from its apiSecret:
    DingTalk does not document how it signs a card callback with the apiSecret, so a click is
    taken only at the URL that was registered with DingTalk and is known to nobody else."""
    secret = (settings.get("api_secret") or "").encode()
    if not secret:  # an app saved before OrderFlow made one: no URL admits a click
        return ""
    return hmac.new(secret, b"orderflow dingtalk card callback", hashlib.sha256).hexdigest()[:32]


def _call(
    url: str, body: Mapping[str, Any], *, token: str | None = None, method: str = "POST"
) -> dict[str, Any]:
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if token:
        headers["x-acs-dingtalk-access-token"] = token
    data = json.dumps(body, ensure_ascii=False).encode()
    # The new API explains a refusal in the body ({"code", "message"}) with HTTP 400/401/403.
    status, raw = send_http(url, data, headers, method=method, who="DingTalk", client_errors=True)
    try:
        reply = json.loads(raw or b"{}")
    except ValueError:
        reply = None
    if not isinstance(reply, dict):
        raise DeliveryError(
            f"HTTP {status} from DingTalk: {raw[:200]!r}", permanent=status < 500, status=status
        )
    code = reply.get("code", reply.get("errcode"))
    if code in TOKEN_CODES or (status == 401 and token):
        raise TokenExpiredError(f"DingTalk refused the access token: {code} {_said(reply)}")
    if status >= 400 or code not in (None, 0, "0"):
        # Throttling is retried later; any other refusal (an unknown userid, a card template
        # not published, a missing permission) will not change by sending it again.
        again = code in RETRIED or status in (408, 409, 425, 429) or status >= 500
        raise DeliveryError(
            f"DingTalk refused the request: {code} {_said(reply)}",
            permanent=not again,
            status=status,
        )
    return reply


def _said(reply: Mapping[str, Any]) -> str:
    return str(reply.get("message") or reply.get("errmsg") or "")


def fetch_token(base_url: str, app_key: str, app_secret: str) -> tuple[str, int]:
    """A new ``accessToken`` of the new API and its lifetime in seconds."""
    reply = _call(
        f"{base_url}/v1.0/oauth2/accessToken", {"appKey": app_key, "appSecret": app_secret}
    )
    token = reply.get("accessToken")
    if not token:
        raise DeliveryError("DingTalk gave no accessToken", permanent=True)
    return str(token), int(reply.get("expireIn") or 7200)


def card(values: Mapping[str, Any], language: str) -> dict[str, str]:
    """The card template's variables for one person in ``language`` (``zh``/``en``)."""
    with force_locale("zh_Hans_CN" if language == "zh" else "en"):
        return _card(values, "：" if language == "zh" else ": ")


def _card(v: Mapping[str, Any], colon: str) -> dict[str, str]:
    state, link = v["state"], v.get("link") or ""
    amount = f"{v['currency']} {v['amount']}".strip()
    lines = [
        f"**{_('Customer')}**{colon}{v['customer'] or '—'}",
        f"**{_('Amount')}**{colon}{amount or '—'}",
        f"**{_('Lines')}**{colon}{v['lines'] or '—'}",
        f"**{_('Decide by')}**{colon}{v['due'] or '—'}",
        "",
        f"**{_('Why it needs you')}**",
        _("%(node)s: %(reason)s", node=v["node"], reason=v["reason"]),
    ]
    if v["check_lines"]:
        heading = _(
            "Checks: %(failed)d of %(total)d failed",
            failed=v["checks_failed"],
            total=v["checks_total"],
        )
        lines += ["", f"**{heading}**", *v["check_lines"]]
    pending = state == cards.PENDING
    # Markdown needs two spaces before a line break to keep lines apart.
    return {
        "title": cards.title(v),
        "node": v["node"],
        "markdown": "  \n".join(lines),
        "state": state,
        "pending": "true" if pending else "false",
        "approve_text": _("Approve"),
        "reject_text": pgettext("chat card", "Reject"),
        "details_text": _("View details"),
        "detail_url": link,
        "reject_url": f"{link}#decision" if link else "",
        "outcome": "" if pending else cards.outcome(v),
        "notice": str(v.get("notice") or ""),
    }


def new_track_id() -> str:
    """A card's ``outTrackId``: unique within the app."""
    return f"of-{uuid.uuid4().hex}"


def send(
    base_url: str,
    token: str,
    settings: Mapping[str, str],
    to: str,
    values: Mapping[str, Any],
    language: str,
) -> tuple[str, str | None]:
    """Send the card for ``values`` to the DingTalk userid ``to`` in a single chat with the
    app's robot; (its outTrackId, which names the card in callbacks and updates; no code)."""
    track_id = new_track_id()
    reply = _call(
        f"{base_url}/v1.0/im/interactiveCards/send",
        {
            "cardTemplateId": settings.get("card_template_id") or "",
            "singleChatReceiver": json.dumps({"userId": to}),
            "conversationType": 0,
            "robotCode": settings.get("robot_code") or "",
            "outTrackId": track_id,
            "callbackRouteKey": route_key(settings),
            "cardData": {"cardParamMap": card(values, language)},
            "userIdType": 1,
        },
        token=token,
    )
    result = reply.get("result") if isinstance(reply.get("result"), dict) else reply
    if not (result or {}).get("processQueryKey"):
        raise DeliveryError("DingTalk gave no processQueryKey for the card", permanent=True)
    return track_id, None


def update(
    base_url: str,
    token: str,
    _settings: Mapping[str, str],
    _to: str,
    track_id: str,
    _code: str | None,
    values: Mapping[str, Any],
    language: str,
) -> str | None:
    """Show ``values`` on the card ``track_id``; None (DingTalk needs no update code)."""
    _call(
        f"{base_url}/v1.0/im/interactiveCards",
        {
            "outTrackId": track_id,
            "cardData": {"cardParamMap": card(values, language)},
            "userIdType": 1,
            "cardOptions": {"updateCardDataByKey": True},
        },
        token=token,
        method="PUT",
    )
    return None


def register(base_url: str, token: str, settings: Mapping[str, str], url: str) -> None:
    """Register ``url`` as where DingTalk sends the clicks on cards sent with the app's
    ``callbackRouteKey``, replacing what was registered for that key before."""
    reply = _call(
        f"{base_url}/v1.0/card/callbacks/register",
        {
            "callbackRouteKey": route_key(settings),
            "callbackUrl": url,
            "apiSecret": settings.get("api_secret") or "",
            "forceUpdate": True,
        },
        token=token,
    )
    if reply.get("success") is False:
        raise DeliveryError(f"DingTalk did not register the callback URL: {_said(reply)}")
