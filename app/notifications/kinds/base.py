"""What a notification channel kind declares (:class:`ChannelKind`, :class:`Setting`), where
people are reached (:data:`PERSON_FIELDS`), and what senders share: posting JSON to a robot
or gateway through the outbox's HTTP client, and reading a robot's answer.

Every sender raises :class:`DeliveryError` when the receiver does not take the message, so the
outbox retries it with backoff and finally dead-letters it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from flask_babel import lazy_gettext as _l

from ...jsontext import body_bytes, json_loads
from ...runs.outbox import DeliveryError, send_http

MAX_RESPONSE_BYTES = 64 * 1024
NAME_RE = r"^[a-z][a-z0-9_]{1,31}$"

# A text a person reads: a catalogue string (``_l("Port")``) or ``{"en": ..., "zh": ...}``.
Text = Any
# A sender: (the channel's settings, one message with its address) -> what the receiver said.
Sender = Callable[[Mapping[str, Any], Mapping[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class Setting:
    """One setting of a channel kind, as the admin fills it in on the channel form.

    ``url``: the address the channel posts to. It is checked like every outbound address when
    saved, its host goes on the outbound allowlist (configuring the channel is the admin's
    decision to send there), and it is checked against the allowlist again at each send.
    ``check`` returns a problem with a filled-in value (a text), or None.
    """

    name: str
    label: Text
    secret: bool = False
    required: bool = False
    url: bool = False
    example: str = ""
    hint: Text = None
    choices: tuple[tuple[str, Text], ...] = ()
    check: Callable[[str], Text | None] | None = None


@dataclass(frozen=True)
class ChannelKind:
    """A kind of notification channel: its settings, its sender and where it reaches people.

    ``address`` maps each key the sender reads in a message to the user attribute it comes
    from (``{"email": "email"}``). A ``personal`` kind sends to one person at the first of
    them, and skips people without it; personal messages carry single-use sign-in links, and
    they are the only ones that reach an order's own contacts (a consignee). A kind that is not
    personal posts to a group; its keys hold lists that @-mention the people it concerns.
    ``style`` is the shape of the built-in message texts: ``text``, ``markdown`` or
    ``short`` (one line, for SMS).
    """

    name: str
    label: Text
    title: Mapping[str, str]
    settings: tuple[Setting, ...]
    send: Sender
    address: Mapping[str, str]
    personal: bool = False
    style: str = "text"
    required_hint: Text = None

    def setting(self, name: str) -> Setting | None:
        return next((s for s in self.settings if s.name == name), None)

    @property
    def secrets(self) -> frozenset[str]:
        return frozenset(s.name for s in self.settings if s.secret)

    @property
    def urls(self) -> tuple[str, ...]:
        return tuple(s.name for s in self.settings if s.url)

    def address_of(self, person: Any) -> dict[str, Any] | None:
        """The message's address for ``person`` (a user or an order's contact); None when
        this kind cannot reach them."""
        if self.personal:
            key, attribute = next(iter(self.address.items()))
            value = getattr(person, attribute, None)
            return {key: value, "name": person.display_name} if value else None
        return {
            key: [value] if (value := getattr(person, attribute, None)) else []
            for key, attribute in self.address.items()
        }


def _phone(text: str) -> tuple[str | None, Text | None]:
    phone = text.replace(" ", "").replace("-", "")
    if phone and not (phone.lstrip("+").isdigit() and 6 <= len(phone.lstrip("+")) <= 15):
        return None, _l("Give the mobile number in digits, e.g. 13800138000.")
    return phone or None, None


def _chat_id(text: str) -> tuple[str | None, Text | None]:
    return text[:64] or None, None


@dataclass(frozen=True)
class PersonField:
    """A user attribute that holds where the person is reached, as the contact page edits it:
    ``clean`` turns the typed text into the stored value, or gives a problem."""

    label: Text
    clean: Callable[[str], tuple[str | None, Text | None]]
    inputmode: str = "text"


# Where people are reached, besides their account's email address (shown, not edited, on the
# contact page). A channel kind's address names these or ``email``.
PERSON_FIELDS: dict[str, PersonField] = {
    "phone": PersonField(_l("Mobile number (SMS, DingTalk @)"), _phone, "tel"),
    "wecom_id": PersonField(_l("WeCom user id"), _chat_id),
    "dingtalk_id": PersonField(_l("DingTalk user id"), _chat_id),
    "feishu_id": PersonField(_l("Feishu user id (open_id)"), _chat_id),
}


def webhook_url(example: str) -> Setting:
    """The webhook address a robot or gateway takes messages at."""
    return Setting("webhook_url", _l("Webhook address"), required=True, url=True, example=example)


def signing_secret(hint: Text = None) -> Setting:
    return Setting("secret", _l("Signing secret"), secret=True, hint=hint)


def post_json(url: str, body: Mapping[str, Any], headers: Mapping[str, str] | None = None) -> Any:
    """POST ``body`` as JSON; the parsed answer (``{"raw": ...}`` when it is not JSON)."""
    data = body_bytes(body)
    wanted = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    _, raw = send_http(url, data, wanted, max_bytes=MAX_RESPONSE_BYTES, who="the channel")
    try:
        return json_loads(raw) if raw else {}
    except ValueError:
        return {"raw": raw.decode("utf-8", "replace")[:200]}


def robot_answer(reply: Any, ok_key: str) -> dict[str, Any]:
    """Robots answer HTTP 200 with an error code in the body when they refuse a message."""
    code = reply.get(ok_key, reply.get("StatusCode", 0)) if isinstance(reply, dict) else 0
    if code not in (0, None):
        message = reply.get("errmsg") or reply.get("msg") or reply.get("StatusMessage")
        raise DeliveryError(f"the robot refused the message: {code} {message}")
    return {"status": 200, "body": reply}
