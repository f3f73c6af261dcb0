"""A WeCom receive-URL callback, checked as documented and taken as a decision.

``GET`` verifies the URL: the ``echostr`` is checked against ``msg_signature``, decrypted and
echoed. ``POST`` carries the encrypted XML event, refused before anything is read on a bad
``msg_signature``, a timestamp more than five minutes away, a text that does not decrypt for
this corp id, or a request already taken (the same ``msg_signature``: a replay). A click on
Approve (``template_card_event``) by the person it was sent to decides through
``approvals.services.decide`` with the same permission checks and exactly-once outcome as on
the page; the audit says ``wecom``. The encrypted passive reply turns the clicking person's
buttons into one grey button saying what happened, or why nothing did.
"""

from __future__ import annotations

import hmac
import re
import time
import xml.etree.ElementTree as ET  # noqa: S405 (only the decrypted, signed event is parsed)
from collections.abc import Mapping
from secrets import randbelow

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..approvals import services as approvals
from ..errors import AppError
from ..models import ApprovalTask, ChatApp, ChatCard
from . import cards, msgcrypt, services, wecom
from .callbacks import MAX_SKEW_SECONDS, Answer, closed_by_sla, refused, take_receipt

# The outer body is parsed before it is trusted: only the Base64 text inside <Encrypt> is read.
ENCRYPT = re.compile(r"<Encrypt>\s*(?:<!\[CDATA\[)?([A-Za-z0-9+/=]+)(?:\]\]>)?\s*</Encrypt>")


def _checked(
    settings: Mapping[str, str], args: Mapping[str, str], encrypted: str, now: float | None
) -> Answer | None:
    given, stamp, nonce = (args.get(k) or "" for k in ("msg_signature", "timestamp", "nonce"))
    expected = msgcrypt.signature(settings.get("token") or "", stamp, nonce, encrypted)
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        return refused(401, "bad msg_signature (check the Token saved for this app)")
    moment = now if now is not None else time.time()
    if not stamp.isdigit() or abs(moment - int(stamp)) > MAX_SKEW_SECONDS:
        return refused(401, "the timestamp is missing or more than 5 minutes away")
    return None


def verify(row: ChatApp, args: Mapping[str, str], *, now: float | None = None) -> Answer:
    """Answer WeCom's check of the receive URL: the decrypted ``echostr``."""
    settings = services.secrets_of(row)
    echostr = args.get("echostr") or ""
    problem = _checked(settings, args, echostr, now)
    if problem is not None:
        return problem
    try:
        return Answer(200, text=msgcrypt.decrypt(echostr, settings["aes_key"], row.app_id))
    except ValueError as err:
        return refused(400, f"the echostr cannot be decrypted: {err}")


def handle(
    db: Session, row: ChatApp, args: Mapping[str, str], body: bytes, *, now: float | None = None
) -> Answer:
    """Check and act on one event posted to ``row``'s receive URL. Commits nothing."""
    settings = services.secrets_of(row)
    found = ENCRYPT.search(body.decode("utf-8", errors="replace"))
    if found is None:
        return refused(400, "the body has no <Encrypt> element")
    encrypted = found.group(1)
    problem = _checked(settings, args, encrypted, now)
    if problem is not None:
        return problem
    try:
        plain = msgcrypt.decrypt(encrypted, settings["aes_key"], row.app_id)
        event = ET.fromstring(plain)  # noqa: S314 (signed by WeCom and decrypted with our key)
    except (ValueError, ET.ParseError) as err:
        return refused(400, f"the event cannot be decrypted: {err}")
    if (event.findtext("MsgType"), event.findtext("Event")) != ("event", "template_card_event"):
        return Answer(200, text="")  # other messages and events are not ours to act on
    if not take_receipt(db, row, f"sig:{args['msg_signature']}"):
        return refused(409, "this callback was taken already (replayed msg_signature)")
    person = event.findtext("FromUserName") or ""
    said = _act(db, row, person, event.findtext("EventKey") or "", event.findtext("ResponseCode"))
    return Answer(200, text=_reply(settings, row.app_id, person, said))


def _act(db: Session, row: ChatApp, person: str, key: str, code: str | None) -> str:
    """Decide as the clicking person; what their button should say now."""
    decision, _sep, task_key = key.partition(":")
    user = services.user_by(db, wecom.NAME, person)
    language = (user.locale if user else None) or "zh"
    with force_locale("zh_Hans_CN" if language == "zh" else "en"):
        if user is None:
            return _("Not linked to an OrderFlow user: ask an admin to enter your WeCom userid.")
        if decision != wecom.APPROVE:
            return _("This button is not OrderFlow's.")
        card = db.scalars(
            select(ChatCard).where(ChatCard.chat_app_id == row.id, ChatCard.task_key == task_key,
                                   ChatCard.user_id == user.id)
        ).first()  # fmt: skip
        if card is not None and code:
            card.update_code = code[:128]  # the click's fresh code updates the card next
        try:
            approvals.decide(db, user, task_key, decision, via="wecom", device="WeCom")
        except AppError as err:
            task = db.scalars(select(ApprovalTask).where(ApprovalTask.task_key == task_key)).first()
            closed = closed_by_sla(db, task) if task is not None else None
            return closed.get(language, closed["zh"]) if closed else str(err.message)
        task = db.scalars(select(ApprovalTask).where(ApprovalTask.task_key == task_key)).one()
        return cards.outcome(services.card_values(db, task, language)).split("\n")[0]


def _reply(settings: Mapping[str, str], corp_id: str, person: str, said: str) -> str:
    """The encrypted passive reply (``update_button``) as WeCom expects it."""
    stamp, nonce = str(int(time.time())), str(randbelow(10**10))
    encrypted = msgcrypt.encrypt(
        wecom.button_reply(person, corp_id, said, int(stamp)), settings["aes_key"], corp_id
    )
    signature = msgcrypt.signature(settings.get("token") or "", stamp, nonce, encrypted)
    return (
        f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
        f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
        f"<TimeStamp>{stamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
    )
