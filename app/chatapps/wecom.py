"""WeCom (企业微信) as developer.work.weixin.qq.com documents a self-built app (自建应用): the
access token (``gettoken`` with the corp id and the app's secret), a button-interaction
template card sent to one person (``message/send``) and updated once the task has left
``pending`` (``message/update_template_card`` with the card's one-time ``response_code``),
and the passive reply that changes the clicking person's button at once (``update_button``).

Approve is a callback button. A template card takes no free text, so Reject opens the mobile
page of the task (signed in for that person), where a rejection asks for its reason.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from flask_babel import force_locale, pgettext
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..runs.outbox import DeliveryError, send_http
from . import cards, msgcrypt
from .errors import TokenExpiredError

NAME = "wecom"
DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
# The user's field that holds their WeCom userid (通讯录 账号).
USER_FIELD = "wecom_id"
# Settings the admin fills in besides the corp id: (name, is it secret).
SETTINGS = (
    ("agent_id", False),
    ("secret", True),
    ("token", True),
    ("aes_key", True),
)
REQUIRED = ("agent_id", "secret", "token", "aes_key")
# Settings OrderFlow makes itself when none is given or saved: none here.
GENERATED: dict[str, Callable[[], str]] = {}
# The setting that gets an access token.
CREDENTIAL = "secret"
APP_ID_HINT = _l(
    "Give the corp id (企业ID) from My Company in the admin console, e.g. ww1436e0e65a779aee."
)
REQUIRED_HINT = _l(
    "Fill in the app's AgentId and Secret, and the Token and EncodingAESKey of its receive "
    "URL (API 接收消息)."
)
# A card's update code works once: spent on a reminder, the card could not show the outcome
# later. A reminder sends the card again (with a fresh code) and spends the old one on saying so.
REMIND_IN_PLACE = False
# "Invalid", "expired" and "missing" access token: fetch a new one and try once more.
TOKEN_CODES = frozenset({40014, 42001, 41001})
# "System busy" and the frequency limits: worth another attempt later.
RETRIED = frozenset({-1, 45009, 45033})
# The card's button key is "<decision>:<task key>"; only approving is a callback button.
APPROVE = "approved"
# desc_color of the card's source line: 0 grey, 2 red, 3 green.
COLOURS = {"pending": 0, "approved": 3, "rejected": 2}


def check(values: Mapping[str, str]) -> dict[str, Any]:
    """Settings WeCom would refuse, by name: the AgentId is a number, the EncodingAESKey has
    43 Base64 characters."""
    problems: dict[str, Any] = {}
    if not values["agent_id"].isdigit():
        problems["agent_id"] = _l("The AgentId is the app's number, e.g. 1000002.")
    try:
        msgcrypt.key_of(values["aes_key"])
    except ValueError:
        problems["aes_key"] = _l(
            "The EncodingAESKey has 43 letters and digits, as the console generates it, "
            "e.g. 6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt."
        )
    return problems


def _call(url: str, body: Mapping[str, Any] | None, *, method: str = "POST") -> dict[str, Any]:
    data = json.dumps(body, ensure_ascii=False).encode() if body is not None else b""
    headers = {"Content-Type": "application/json; charset=utf-8"} if body is not None else {}
    status, raw = send_http(url, data, headers, method=method, who="WeCom")
    try:
        reply = json.loads(raw or b"{}")
    except ValueError:
        reply = None
    if not isinstance(reply, dict) or "errcode" not in reply:
        raise DeliveryError(f"HTTP {status} from WeCom: {raw[:200]!r}", permanent=True)
    code = reply["errcode"]
    if code in TOKEN_CODES:
        raise TokenExpiredError(f"WeCom refused the access token: {code} {reply.get('errmsg')}")
    if code != 0:
        # Busy and frequency limits are retried later; any other refusal (a bad userid, a bad
        # card, an app without the permission) will not change by sending it again.
        raise DeliveryError(
            f"WeCom refused the request: {code} {reply.get('errmsg')}",
            permanent=code not in RETRIED,
            status=status,
        )
    return reply


def api(
    base_url: str, path: str, token: str, query: Mapping[str, Any] | None = None,
    body: Mapping[str, Any] | None = None,
) -> dict[str, Any]:  # fmt: skip
    """The reply of a server API call (``path`` after /cgi-bin/): a POST of ``body``, else a GET."""
    url = f"{base_url}/cgi-bin/{path}?{urlencode({'access_token': token, **(query or {})})}"
    return _call(url, body, method="POST" if body is not None else "GET")


def fetch_token(base_url: str, corp_id: str, secret: str) -> tuple[str, int]:
    """A new ``access_token`` and its lifetime in seconds."""
    query = urlencode({"corpid": corp_id, "corpsecret": secret})
    reply = _call(f"{base_url}/cgi-bin/gettoken?{query}", None, method="GET")
    token = reply.get("access_token")
    if not token:
        raise DeliveryError("WeCom gave no access_token", permanent=True)
    return str(token), int(reply.get("expires_in") or 7200)


def _agent(settings: Mapping[str, str]) -> int:
    try:
        return int(settings.get("agent_id") or "")
    except ValueError as err:
        raise DeliveryError("the WeCom AgentId is not a number", permanent=True) from err


def card(values: Mapping[str, Any], language: str, task_id: str) -> dict[str, Any]:
    """The button-interaction template card for one person in ``language`` (``zh``/``en``)."""
    with force_locale("zh_Hans_CN" if language == "zh" else "en"):
        return _card(values, task_id)


def _card(v: Mapping[str, Any], task_id: str) -> dict[str, Any]:
    state, link = v["state"], v.get("link") or ""
    because = _("%(node)s: %(reason)s", node=v["node"], reason=v["reason"])
    quote = [because]
    if v["check_lines"]:
        quote.append(
            _(
                "Checks: %(failed)d of %(total)d failed",
                failed=v["checks_failed"],
                total=v["checks_total"],
            )
        )
        quote.extend(v["check_lines"])
    body: dict[str, Any] = {
        "card_type": "button_interaction",
        "source": {"desc": "OrderFlow", "desc_color": COLOURS.get(state, 0)},
        "main_title": {"title": cards.title(v), "desc": v["node"]},
        "horizontal_content_list": [
            {"keyname": _("Customer"), "value": v["customer"] or "—"},
            {"keyname": _("Amount"), "value": f"{v['currency']} {v['amount']}".strip() or "—"},
            {"keyname": _("Lines"), "value": v["lines"] or "—"},
            {"keyname": _("Decide by"), "value": v["due"] or "—"},
        ],
        "quote_area": {"type": 0, "title": _("Why it needs you"), "quote_text": "\n".join(quote)},
        "task_id": task_id,
        # Required, also once replace_text shows in its place.
        "button_list": [{"text": _("Approve"), "style": 1, "key": f"{APPROVE}:{v['task_key']}"}],
    }
    if v.get("notice"):
        body["sub_title_text"] = v["notice"]
    if state != cards.PENDING:
        # The buttons show as one grey button that cannot be clicked, saying how it ended.
        body["replace_text"] = cards.outcome(v).split("\n")[0]
        return body
    if link:
        body["card_action"] = {"type": 1, "url": link}
        body["button_list"] += [
            {"text": pgettext("chat card", "Reject"), "style": 2, "type": 1,
             "url": f"{link}#decision"},
            {"text": _("View details"), "style": 3, "type": 1, "url": link},
        ]  # fmt: skip
    return body


def new_task_id() -> str:
    """A card's ``task_id``: unique within the app, of letters, digits, ``_-@``."""
    return f"of-{uuid.uuid4().hex}"


def send(
    base_url: str,
    token: str,
    settings: Mapping[str, str],
    to: str,
    values: Mapping[str, Any],
    language: str,
) -> tuple[str, str | None]:
    """Send the card for ``values`` to the WeCom userid ``to``; (its task_id, which names the
    card in callbacks and updates, and the response_code of its first update)."""
    task_id = new_task_id()
    reply = _call(
        f"{base_url}/cgi-bin/message/send?{urlencode({'access_token': token})}",
        {
            "touser": to,
            "msgtype": "template_card",
            "agentid": _agent(settings),
            "template_card": card(values, language, task_id),
            "enable_duplicate_check": 0,
        },
    )
    if reply.get("invaliduser"):
        raise DeliveryError(
            f"WeCom does not know the userid {to!r} in this app's visible range", permanent=True
        )
    if not reply.get("msgid"):
        raise DeliveryError("WeCom gave no msgid for the card", permanent=True)
    return task_id, (str(reply["response_code"]) if reply.get("response_code") else None)


def update(
    base_url: str,
    token: str,
    settings: Mapping[str, str],
    to: str,
    task_id: str,
    code: str | None,
    values: Mapping[str, Any],
    language: str,
) -> str | None:
    """Show ``values`` on the card ``task_id`` sent to ``to``, spending its one-time
    ``code``; None (the code is used up)."""
    if not code:
        raise DeliveryError(
            "no response_code is left to update this WeCom card (each is good for one update)",
            permanent=True,
        )
    _call(
        f"{base_url}/cgi-bin/message/update_template_card?{urlencode({'access_token': token})}",
        {
            "userids": [to],
            "agentid": _agent(settings),
            "response_code": code,
            "template_card": card(values, language, task_id),
        },
    )
    return None


def button_reply(to: str, corp_id: str, replace_name: str, now: int | None = None) -> str:
    """The plain XML of a passive reply that turns the clicking person's buttons into one
    grey button saying ``replace_name`` (``update_button``)."""
    stamp = now if now is not None else int(time.time())
    return (
        f"<xml><ToUserName><![CDATA[{_cdata(to)}]]></ToUserName>"
        f"<FromUserName><![CDATA[{_cdata(corp_id)}]]></FromUserName>"
        f"<CreateTime>{stamp}</CreateTime><MsgType><![CDATA[update_button]]></MsgType>"
        f"<Button><ReplaceName><![CDATA[{_cdata(replace_name)}]]></ReplaceName></Button></xml>"
    )


def _cdata(text: str) -> str:
    # "]]>" would end the section early: split it across two sections.
    return text.replace("]]>", "]]]]><![CDATA[>")
