"""A DingTalk callback to the app's URL, checked as documented and taken as a decision.

DingTalk posts ``{"encrypt": ...}`` with ``msg_signature``, ``timestamp`` (milliseconds) and
``nonce`` in the query, the scheme of its event subscription (事件订阅), checked with the
app's Token and aes_key for its app key. Refused before anything is read: a bad
``msg_signature``, a timestamp more than five minutes away, a text that does not decrypt for
this app key (or its corp id, when saved), a request already taken (the same ``msg_signature``: a replay). The URL check
(``check_url``) and any other event are answered with the encrypted ``success``. A card
callback (回传请求: ``outTrackId``, ``userId``, ``content`` with the button's action id) by
the person the card was sent to decides the task that card was sent for, through
``approvals.services.decide`` with the same permission checks and exactly-once outcome as
on the page; the audit says ``dingtalk``. The answer updates the clicking person's card at
once: how the task ended, or why nothing happened.
"""

from __future__ import annotations

import hmac
import json
import secrets
import time
from collections.abc import Mapping
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..approvals import services as approvals
from ..errors import AppError
from ..models import ApprovalTask, ChatApp, ChatCard
from . import dingtalk, msgcrypt, services
from .callbacks import MAX_SKEW_SECONDS, Answer, refused, take_receipt


def _arg(args: Mapping[str, str], *names: str) -> str:
    # DingTalk's samples read both spellings (msg_signature/signature, timestamp/timeStamp).
    return next((args[n] for n in names if args.get(n)), "")


def success(settings: Mapping[str, str], owner: str, now: float | None = None) -> Answer:
    """The encrypted ``success`` DingTalk expects back from a callback URL, for ``owner`` (the
    app key or the corp id the callback was encrypted for)."""
    moment = now if now is not None else time.time()
    stamp, nonce = str(int(moment * 1000)), secrets.token_hex(8)
    encrypted = msgcrypt.encrypt("success", settings["aes_key"], owner)
    signature = msgcrypt.signature(settings.get("token") or "", stamp, nonce, encrypted)
    return Answer(
        200, {"msg_signature": signature, "timeStamp": stamp, "nonce": nonce, "encrypt": encrypted}
    )


def handle(
    db: Session, row: ChatApp, args: Mapping[str, str], body: bytes, *, now: float | None = None
) -> Answer:
    """Check and act on one callback posted to ``row``'s URL. Commits nothing."""
    settings = services.secrets_of(row)
    try:
        outer = json.loads(body or b"{}")
    except ValueError:
        return refused(400, "the body is not JSON")
    encrypted = outer.get("encrypt") if isinstance(outer, dict) else None
    if not isinstance(encrypted, str) or not encrypted:
        return refused(400, 'the body has no "encrypt" field')
    given = _arg(args, "msg_signature", "signature")
    stamp, nonce = _arg(args, "timestamp", "timeStamp"), _arg(args, "nonce")
    expected = msgcrypt.signature(settings.get("token") or "", stamp, nonce, encrypted)
    # Bytes: compare_digest refuses str with non-ASCII characters (a raise, not a refusal).
    if not given or not hmac.compare_digest(given.encode(), expected.encode()):
        return refused(401, "bad msg_signature (check the Token saved for this app)")
    moment = now if now is not None else time.time()
    if not stamp.isdigit() or abs(moment - int(stamp) / 1000) > MAX_SKEW_SECONDS:
        return refused(401, "the timestamp is missing or more than 5 minutes away")
    try:
        owner, plain = _decrypted(encrypted, settings, row.app_id)
        event = json.loads(plain)
    except ValueError as err:
        return refused(400, f"the callback cannot be decrypted: {err}")
    if not isinstance(event, dict) or "outTrackId" not in event:
        return success(settings, owner, now)  # check_url and other events: acknowledged
    if not take_receipt(db, row, f"sig:{given}"):
        return refused(409, "this callback was taken already (replayed msg_signature)")
    return _act(db, row, event)


def _decrypted(encrypted: str, settings: Mapping[str, str], app_key: str) -> tuple[str, str]:
    """(owner, plain text): an app's own subscription encrypts for its app key, a company-wide
    one for the corp id (when one is saved). ValueError saying why it is not for the app key."""
    try:
        return app_key, msgcrypt.decrypt(encrypted, settings["aes_key"], app_key)
    except ValueError as err:
        corp_id = settings.get("corp_id") or ""
        try:
            if corp_id:
                return corp_id, msgcrypt.decrypt(encrypted, settings["aes_key"], corp_id)
        except ValueError:
            pass
        raise err from None


def _action(event: Mapping[str, Any]) -> str:
    """The clicked button's action id."""
    content = event.get("content") or "{}"
    try:
        data = json.loads(content) if isinstance(content, str) else content
    except ValueError:
        data = {}
    private = (data.get("cardPrivateData") if isinstance(data, dict) else None) or {}
    actions = private.get("actionIds") or [""]
    return str(actions[0])


def _act(db: Session, row: ChatApp, event: Mapping[str, Any]) -> Answer:
    """Decide as the clicking person; the update of their card. The task is the one this
    app's card ``outTrackId`` was sent for, never one named in the click."""
    card = db.scalars(
        select(ChatCard).where(
            ChatCard.chat_app_id == row.id, ChatCard.message_id == str(event["outTrackId"])
        )
    ).first()
    task_key = card.task_key if card is not None else ""
    user = services.user_by(db, dingtalk.NAME, str(event.get("userId") or ""))
    language = (user.locale if user else None) or "zh"
    task = None
    with force_locale("zh_Hans_CN" if language == "zh" else "en"):
        if user is None:
            said = _("Not linked to an OrderFlow user: ask an admin to enter your DingTalk userid.")
        elif card is None or _action(event) != dingtalk.APPROVE:
            said = _("This button is not OrderFlow's.")
        else:
            try:
                approvals.decide(db, user, task_key, "approved", via="dingtalk", device="DingTalk")
            except AppError as err:
                said = str(err.message)
            else:
                said = ""
            task = db.scalars(select(ApprovalTask).where(ApprovalTask.task_key == task_key)).first()
    body: dict[str, Any] = {
        "cardUpdateOptions": {"updateCardDataByKey": True, "updatePrivateDataByKey": True},
        "userPrivateData": {"cardParamMap": {"notice": said}},
    }
    if task is not None and task.status != "pending":
        values = services.card_values(db, task, language) | {"notice": said}
        body["cardData"] = {"cardParamMap": dingtalk.card(values, language)}
    return Answer(200, body)
