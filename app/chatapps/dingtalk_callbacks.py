"""A DingTalk card callback to the URL OrderFlow registered for the app's callback route,
checked and taken as a decision.

DingTalk posts a click on a card sent with a ``callbackRouteKey`` to the ``callbackUrl``
registered for that key, as plain JSON: ``type`` (``actionCallback``), ``outTrackId``,
``corpId``, ``userId`` and ``content`` (a JSON text with ``cardPrivateData.actionIds`` and
``params``). It takes an ``apiSecret`` with the registration, but documents no signature,
timestamp or nonce on the request; so a click is taken only at the registered URL, whose path
carries a key made from that apiSecret (``dingtalk.url_key``). Refused before anything is
read: a wrong or missing key, a body that is not such JSON, a ``corpId`` other than the saved
corp id. A click by the person the card was sent to decides the task that card was sent for,
through ``approvals.services.decide`` with the same permission checks and exactly-once
outcome as on the page (a click delivered twice decides once); the audit says ``dingtalk``.
The answer updates the clicking person's card at once: how the task ended, or why nothing
happened.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Mapping
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..approvals import services as approvals
from ..errors import AppError
from ..models import ApprovalTask, ChatApp, ChatCard
from . import dingtalk, services
from .callbacks import Answer, refused

ACTION = "actionCallback"


def handle(db: Session, row: ChatApp, key: str, body: bytes) -> Answer:
    """Check and act on one card callback posted to ``row``'s URL with ``key`` in its path.
    Commits nothing."""
    settings = services.secrets_of(row)
    expected = dingtalk.url_key(settings)
    # Bytes: compare_digest refuses str with non-ASCII characters (a raise, not a refusal).
    if not expected or not key or not hmac.compare_digest(key.encode(), expected.encode()):
        return refused(401, "the key in the callback URL does not match: save the app again")
    try:
        event = json.loads(body or b"{}")
    except ValueError:
        return refused(400, "the body is not JSON")
    if not isinstance(event, dict) or not event.get("outTrackId"):
        return refused(400, "the body is not a card callback (no outTrackId)")
    corp_id = settings.get("corp_id") or ""
    if corp_id and str(event.get("corpId") or "") != corp_id:
        return refused(403, f"the callback is for another company than {corp_id}")
    if event.get("type", ACTION) != ACTION:
        return Answer(200, {})  # not a button click: nothing to change on the card
    return _act(db, row, event)


def _action(event: Mapping[str, Any]) -> str:
    """The clicked button's action id."""
    content = event.get("content") or event.get("value") or "{}"
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
        elif card.user_id != user.id:  # a forwarded card: only its recipient may use it
            said = _("This approval is not assigned to you.")
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
