"""A Feishu card-action callback, checked as documented and taken as a decision.

Refused before anything is read: a bad signature, a wrong verification token, a timestamp
more than five minutes away, an event id already taken (a replay). The clicking person is
mapped to their OrderFlow user and decides through ``approvals.services.decide`` with the
same permission checks and exactly-once outcome as on the page; the audit says ``feishu``.
"""

from __future__ import annotations

import hmac
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from flask_babel import force_locale
from flask_babel import gettext as _
from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from werkzeug.datastructures import Headers

from ..approvals import services as approvals
from ..errors import AppError
from ..i18n import in_both
from ..models import ApprovalTask, ChatApp, ChatReceipt, utcnow
from . import cards, feishu, services

MAX_SKEW_SECONDS = 300
KEEP_RECEIPTS = timedelta(days=1)


@dataclass
class Answer:
    """What to answer the platform: an HTTP status and a JSON body, or a ``text`` body."""

    status: int
    body: dict[str, Any] = field(default_factory=dict)
    text: str | None = None


def refused(status: int, message: str) -> Answer:
    """A refusal saying why, before anything was done."""
    return Answer(status, {"error": message})


def _toast(kind: str, texts: Mapping[str, str]) -> dict[str, Any]:
    return {
        "type": kind,
        "content": texts["zh"],
        "i18n": {"zh_cn": texts["zh"], "en_us": texts["en"]},
    }


def handle(
    db: Session, row: ChatApp, headers: Headers, body: bytes, *, now: float | None = None
) -> Answer:
    """Check and act on one callback to ``row``'s URL. Commits nothing."""
    secrets = services.secrets_of(row)
    encrypt_key = secrets.get("encrypt_key") or ""
    try:
        outer = json.loads(body or b"{}")
    except ValueError:
        return refused(400, "the body is not JSON")
    signed = "X-Lark-Signature" in headers
    if signed and (not encrypt_key or not feishu.signature_ok(headers, encrypt_key, body)):
        return refused(401, "bad X-Lark-Signature")
    if "encrypt" in outer:
        if not encrypt_key:
            return refused(400, "an encrypted callback, but no Encrypt Key is saved for this app")
        try:
            event = json.loads(feishu.decrypt(str(outer["encrypt"]), encrypt_key))
        except ValueError:
            return refused(400, "the encrypt field cannot be decrypted with the saved Encrypt Key")
    else:
        event = outer
    header = event.get("header") or {}
    given_token = str(header.get("token") or event.get("token") or "")
    if not hmac.compare_digest(
        given_token.encode(), (secrets.get("verification_token") or "").encode()
    ):
        return refused(401, "the verification token does not match")
    if event.get("type") == "url_verification":
        return Answer(200, {"challenge": event.get("challenge")})
    if not signed and encrypt_key:
        return refused(401, "a card action without X-Lark-Signature")
    stamp = headers.get("X-Lark-Request-Timestamp") or ""
    moment = now if now is not None else time.time()
    if not stamp.isdigit() or abs(moment - int(stamp)) > MAX_SKEW_SECONDS:
        return refused(401, "the request timestamp is missing or more than 5 minutes away")
    if header.get("event_type") != "card.action.trigger":
        return Answer(200, {})  # other events are not ours to act on
    event_id = str(header.get("event_id") or "")[:128]
    if not event_id:
        return refused(400, "no event_id")
    if not take_receipt(db, row, event_id):
        return refused(409, "this callback was taken already (replayed event_id)")
    return _act(db, event.get("event") or {})


def take_receipt(db: Session, row: ChatApp, key: str) -> bool:
    """Record that the callback ``key`` of ``row`` was taken; False when it was already (a
    replay). A concurrent twin fails the commit on the unique key instead. No commit."""
    if db.scalars(
        select(ChatReceipt.id).where(
            ChatReceipt.chat_app_id == row.id, ChatReceipt.event_key == key
        )
    ).first():
        return False
    received = utcnow()
    # Older receipts are not needed: their timestamps are refused as expired anyway.
    db.execute(delete(ChatReceipt).where(ChatReceipt.received_at < received - KEEP_RECEIPTS))
    db.add(ChatReceipt(chat_app_id=row.id, event_key=key, received_at=received))
    db.flush()
    return True


def _act(db: Session, event: Mapping[str, Any]) -> Answer:
    action = event.get("action") or {}
    value = action.get("value") or {}
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            value = {}
    task_key, decision = str(value.get("task") or ""), str(value.get("decision") or "")
    user = services.user_for(db, event.get("operator") or {})
    if user is None:
        texts = in_both(
            lambda: _(
                "Your Feishu account is not linked to an OrderFlow user: ask an admin to enter "
                "your Feishu id on your contact details."
            )
        )
        return Answer(200, {"toast": _toast("error", texts)})
    reason = str((action.get("form_value") or {}).get("reason") or "").strip() or None
    try:
        approvals.decide(
            db, user, task_key, decision, comment=reason, via="feishu", device="Feishu"
        )
    except AppError as err:
        said = err.message
        task = db.scalars(select(ApprovalTask).where(ApprovalTask.task_key == task_key)).first()
        texts = (task is not None and closed_by_sla(db, task)) or in_both(lambda: said)
        answer: dict[str, Any] = {"toast": _toast("error", texts)}
        if task is not None and task.status != "pending":
            answer["card"] = _card(db, task, user.locale or "zh")
        return Answer(200, answer)
    task = approvals.get_task(db, task_key)
    texts = in_both(lambda: _("Approved.") if decision == "approved" else _("Rejected."))
    return Answer(
        200, {"toast": _toast("success", texts), "card": _card(db, task, user.locale or "zh")}
    )


def closed_by_sla(db: Session, task: ApprovalTask) -> dict[str, str] | None:
    """Why a click on ``task``'s card comes too late, in Chinese and in English, when its SLA
    closed it (escalated to someone else, or its time limit passed); else None."""
    out = {}
    for language, locale in (("zh", "zh_Hans_CN"), ("en", "en")):
        values = services.card_values(db, task, language)
        if values["state"] not in (cards.ESCALATED, cards.TIMED_OUT):
            return None
        with force_locale(locale):
            out[language] = cards.outcome(values)
    return out


def _card(db: Session, task: ApprovalTask, language: str) -> dict[str, Any]:
    return {"type": "raw", "data": cards.card(services.card_values(db, task, language), language)}
