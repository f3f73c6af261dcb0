"""Approving inside chat apps (Feishu, WeCom): connecting an app, sending each assigned
approver a card through the outbox, taking their button click as a decision through the
approvals service, and updating every card of a task once it is decided, handed over or
withdrawn.

Outbox messages of kind ``chat`` carry one ``op``: ``cards`` (a new task: one ``send`` per
person and app), ``send``, ``refresh`` (a task changed or its SLA reminder fired: one
``patch`` per card) and ``patch``. Each ``send`` and ``patch`` is retried and dead-lettered on
its own. A reminder's ``refresh`` and ``patch`` carry ``remind``, the moment it fired: the
card shows the time left from then.

A platform is a module in :data:`PLATFORMS` with ``NAME``, ``DEFAULT_BASE_URL``,
``SETTINGS`` (name, is it secret), ``REQUIRED``, ``GENERATED`` (settings OrderFlow makes
itself when none is given or saved), ``CREDENTIAL`` (the setting that gets a
token), ``USER_FIELD`` (the user's id on it), ``APP_ID_HINT`` and ``REQUIRED_HINT`` (what to
fill in), ``REMIND_IN_PLACE`` (a reminder updates the card, or sends it again where an update
would use up the card's last chance to show the outcome), ``check``, ``fetch_token``, ``send``
and ``update``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..approvals.queries import node_names
from ..approvals.services import is_info
from ..channels import vault
from ..db import get_db, in_transaction, on_commit
from ..errors import NotFoundError, ValidationError
from ..models import (
    ApprovalTask,
    ChatApp,
    ChatCard,
    FlowVersion,
    Order,
    OutboxMessage,
    Run,
    User,
    utcnow,
)
from ..notifications import links
from ..notifications.delivery import task_values
from ..notifications.people import resolve
from ..queue import task_app
from ..runs import outbox
from ..runs.tasks import wake_outbox_many
from . import dingtalk, feishu, sla, wecom
from .errors import TokenExpiredError

log = logging.getLogger(__name__)

PLATFORMS = {feishu.NAME: feishu, wecom.NAME: wecom, dingtalk.NAME: dingtalk}
# A token is renewed this long before the platform says it expires.
TOKEN_MARGIN = timedelta(minutes=5)


# -- connecting an app ---------------------------------------------------------------------


def connect(
    db: Session, platform: str, app_id: str, settings: Mapping[str, str], base_url: str = ""
) -> ChatApp:
    """Create or change the connected app of ``platform``; blank secrets keep the saved ones.
    No commit."""
    module = PLATFORMS.get(platform)
    if module is None:
        raise ValidationError(
            _l(
                "Unknown chat platform %(name)s: use one of %(known)s.",
                name=platform,
                known=", ".join(PLATFORMS),
            ),
            fields={"platform": "unknown"},
        )
    app_id = app_id.strip()
    if not app_id or len(app_id) > 64:
        raise ValidationError(module.APP_ID_HINT, fields={"app_id": "required"})
    base_url = (base_url.strip() or module.DEFAULT_BASE_URL).rstrip("/")
    if not base_url.startswith(("https://", "http://")):
        raise ValidationError(
            _l(
                "The API address starts with https://, e.g. %(example)s.",
                example=module.DEFAULT_BASE_URL,
            ),
            fields={"base_url": "invalid"},
        )
    row = db.scalars(select(ChatApp).where(ChatApp.platform == platform)).first()
    old = vault.open_sealed(row.sealed) if row is not None else {}
    values = {
        name: (settings.get(name) or "").strip() or old.get(name, "") for name, _ in module.SETTINGS
    }
    for name, make in module.GENERATED.items():
        values[name] = values[name] or make()
    missing = [name for name in module.REQUIRED if not values[name]]
    if missing:
        raise ValidationError(module.REQUIRED_HINT, fields={name: "required" for name in missing})
    for name, problem in module.check(values).items():
        raise ValidationError(problem, fields={name: "invalid"})
    if row is None:
        row = ChatApp(platform=platform, app_id=app_id, sealed="", base_url=base_url)
        db.add(row)
    if row.app_id != app_id or row.base_url != base_url:
        row.token_sealed, row.token_expires_at = None, None
    row.app_id, row.base_url, row.enabled = app_id, base_url, True
    row.sealed = vault.seal(values)
    db.flush()
    return row


def connected(db: Session, platform: str) -> ChatApp | None:
    return db.scalars(select(ChatApp).where(ChatApp.platform == platform)).first()


def by_app_id(db: Session, platform: str, app_id: str) -> ChatApp:
    row = db.scalars(
        select(ChatApp).where(ChatApp.platform == platform, ChatApp.app_id == app_id)
    ).first()
    if row is None or not row.enabled:
        raise NotFoundError(_l("No connected app with this App ID."))
    return row


def secrets_of(row: ChatApp) -> dict[str, str]:
    return vault.open_sealed(row.sealed)


def token(database: Any, app_pk: int, *, fresh: bool = False, now: datetime | None = None) -> str:
    """The app's access token: the cached one while it is valid, else a new one (saved)."""
    now = now or utcnow()
    with database.session() as db:
        row = db.get(ChatApp, app_pk)
        if row is None:
            raise outbox.DeliveryError("the chat app was removed", permanent=True)
        if (
            not fresh
            and row.token_sealed
            and row.token_expires_at
            and row.token_expires_at > now + TOKEN_MARGIN
        ):
            return str(vault.open_sealed(row.token_sealed)["token"])
        module = PLATFORMS[row.platform]
        base_url, app_id, secret = row.base_url, row.app_id, secrets_of(row)[module.CREDENTIAL]
    value, lifetime = module.fetch_token(base_url, app_id, secret)

    def save(db: Session) -> None:
        saved = db.get(ChatApp, app_pk)
        if saved is not None:
            saved.token_sealed = vault.seal({"token": value})
            saved.token_expires_at = now + timedelta(seconds=lifetime)

    in_transaction(database, save)
    return value


def with_token(database: Any, app_pk: int, call: Any) -> Any:
    """``call(token)``; when the platform says the token expired, once more with a new one."""
    try:
        return call(token(database, app_pk))
    except TokenExpiredError:
        log.info("chat app %s: access token refused, fetching a new one", app_pk)
        return call(token(database, app_pk, fresh=True))


def register_callback(database: Any, app_pk: int, url: str) -> None:
    """Register ``url`` with DingTalk as where the clicks on the app's cards are sent (its
    card callback route), with a fresh token if the cached one is refused."""
    with database.session() as db:
        row = db.get(ChatApp, app_pk)
        if row is None or row.platform != dingtalk.NAME:
            raise outbox.DeliveryError("no connected DingTalk app", permanent=True)
        base_url, settings = row.base_url, secrets_of(row)
    if not settings.get("api_secret"):
        raise outbox.DeliveryError("the app has no apiSecret yet: save it again", permanent=True)
    with_token(database, app_pk, lambda t: dingtalk.register(base_url, t, settings, url))


# -- queuing ---------------------------------------------------------------------------------


def queue(db: Session, op: str, key: str, *, wake: bool = True, **payload: Any) -> OutboxMessage:
    """One ``chat`` outbox message, woken after commit (``wake``). No commit."""
    now = utcnow()
    message = OutboxMessage(kind="chat", effect_id=key, status=outbox.PENDING, attempts=0,
                            next_attempt_at=now, created_at=now, payload={"op": op, **payload})  # fmt: skip
    db.add(message)
    if not wake:
        return message

    def woken() -> None:

        if message.id is not None:
            wake_outbox_many([message.id])

    on_commit(db, woken)
    return message


def any_app(db: Session) -> bool:
    return db.scalars(select(ChatApp.id).where(ChatApp.enabled.is_(True))).first() is not None


# -- delivering ------------------------------------------------------------------------------


def deliver(message: OutboxMessage, _secret: str) -> dict[str, Any]:
    """The outbox deliverer of ``chat`` messages."""

    app = task_app()
    database = get_db(app)
    payload = message.payload
    op = payload.get("op")
    with app.app_context():
        if op in ("cards", "refresh"):
            children = in_transaction(database, lambda db: _fan_out(db, app, message))
            results = [outbox.deliver(database, child) for child in children]
            return {"status": 200, "parts": len(children), "results": results}
        if op == "send":
            return _send(database, payload)
        if op == "patch":
            return _patch(database, payload)
    raise outbox.DeliveryError(f"unknown chat operation {op!r}", permanent=True)


def _fan_out(db: Session, app: Any, message: OutboxMessage) -> list[int]:
    task = db.scalars(
        select(ApprovalTask).where(ApprovalTask.task_key == message.payload["task"])
    ).first()
    if task is None:
        return []
    apps = list(db.scalars(select(ChatApp).where(ChatApp.enabled.is_(True))))
    children: list[OutboxMessage] = []
    if message.payload["op"] == "cards":
        if task.status != "pending" or is_info(task):  # an info request is answered on the page
            return []

        who = (
            {"user": task.assignee}
            if task.assignee
            else {"role": task.role, "scope": task.scope or ""}
            if task.role
            else {"department": task.department}
        )
        people = [u for u, _ in resolve(db, [who], utcnow()) if isinstance(u, User)]
        wanted = {f"chat:{r.id}:{task.task_key}:{u.id}": (r, u) for u in people for r in apps
                  if person_id(u, r.platform)}  # fmt: skip
        done = set(
            db.scalars(select(OutboxMessage.effect_id).where(OutboxMessage.effect_id.in_(wanted)))
        )
        for key, (row, user) in wanted.items():
            if key in done:
                continue
            link = links.issue(db, app, task.task_key, user.username, channel=row.platform)
            children.append(queue(db, "send", key, wake=False, app=row.id, task=task.task_key,
                                  user=user.id, link=link))  # fmt: skip
    else:
        for card_row in db.scalars(select(ChatCard).where(ChatCard.task_key == task.task_key)):
            key = f"chatp:{message.id}:{card_row.id}"
            remind = message.payload.get("remind")
            extra = {"remind": remind} if remind else {}
            children.append(queue(db, "patch", key, wake=False, card=card_row.id, **extra))
    db.flush()
    return [c.id for c in children]


def card_values(
    db: Session,
    task: ApprovalTask,
    language: str,
    link: str = "",
    *,
    reminded_at: datetime | None = None,
) -> dict[str, Any]:
    """What a card says about ``task`` in ``language``; with ``reminded_at`` (an SLA reminder
    fired then), the time left before the deadline while the task is pending."""

    values = task_values(db, task, language)
    run = db.get(Run, task.run_id)
    version = db.get(FlowVersion, run.flow_version_id) if run else None
    order = db.get(Order, run.order_id) if run and run.order_id else None
    lines = (order.data.get("lines") if order else None) or []
    shown = [
        f"{line.get('sku') or line.get('name') or '?'} × {line.get('qty', 1)}" for line in lines[:3]
    ]
    more = len(lines) - len(shown)
    summary = "，".join(shown) if language == "zh" else ", ".join(shown)
    if more > 0:
        summary += f" 等共 {len(lines)} 行" if language == "zh" else f" and {more} more"
    decided_by = task.decided_by or ""
    if decided_by:
        person = db.scalars(select(User).where(User.username == decided_by)).first()
        decided_by = (person.display_name or person.username) if person else decided_by
    return values | {
        "task_key": task.task_key,
        "state": task.status,
        "node": node_names(version, language).get(task.node_id, task.node_id),
        "lines": summary,
        "link": link,
        "decided_by": decided_by,
        "comment": task.comment or "",
        **sla.values(db, task, language, reminded_at),
    }


def _send(database: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
    with database.session() as db:
        row = db.get(ChatApp, payload["app"])
        user = db.get(User, payload["user"])
        task = db.scalars(
            select(ApprovalTask).where(ApprovalTask.task_key == payload["task"])
        ).first()
        to = person_id(user, row.platform) if row is not None and user is not None else None
        if row is None or not row.enabled or not to or task is None:
            raise outbox.DeliveryError("the app, the person or the task is gone", permanent=True)
        if task.status != "pending":
            return {"status": 200, "skipped": "decided before the card went out"}
        language = user.locale or "zh"
        values = card_values(db, task, language, payload.get("link") or "")
        base_url, module, settings = row.base_url, PLATFORMS[row.platform], secrets_of(row)
    message_id, code = with_token(
        database,
        payload["app"],
        lambda t: module.send(base_url, t, settings, to, values, language),
    )

    def record(db: Session) -> None:
        db.add(ChatCard(chat_app_id=payload["app"], task_key=payload["task"], user_id=payload["user"],
                        message_id=message_id, update_code=code, shows="pending",
                        sent_at=utcnow()))  # fmt: skip

    in_transaction(database, record)
    return {"status": 200, "message_id": message_id}


def _patch(database: Any, payload: Mapping[str, Any]) -> dict[str, Any]:
    with database.session() as db:
        card_row = db.get(ChatCard, payload["card"])
        if card_row is None:
            raise outbox.DeliveryError("the card record is gone", permanent=True)
        row = db.get(ChatApp, card_row.chat_app_id)
        user = db.get(User, card_row.user_id)
        task = db.scalars(
            select(ApprovalTask).where(ApprovalTask.task_key == card_row.task_key)
        ).one()
        to = person_id(user, row.platform) if row is not None and user is not None else None
        if row is None or not to:
            raise outbox.DeliveryError("the app or the person is gone", permanent=True)
        language = user.locale or "zh"
        remind = payload.get("remind")
        reminded_at = datetime.fromisoformat(remind) if remind else None
        values = card_values(db, task, language, reminded_at=reminded_at)
        base_url, module, settings = row.base_url, PLATFORMS[row.platform], secrets_of(row)
        app_pk, message_id, code = row.id, card_row.message_id, card_row.update_code
        state = "reminder" if values.get("left") else values["state"]
        task_key, username, platform = task.task_key, user.username, row.platform
    if state == "reminder" and not module.REMIND_IN_PLACE:
        values["link"] = in_transaction(database, lambda db: links.issue(
            db, task_app(), task_key, username, channel=platform))  # fmt: skip
        return _send_again(database, payload["card"], module, (base_url, settings, to), values)
    next_code = with_token(
        database,
        app_pk,
        lambda t: module.update(base_url, t, settings, to, message_id, code, values, language),
    )

    def record(db: Session) -> None:
        saved = db.get(ChatCard, payload["card"])
        if saved is not None:
            saved.shows, saved.updated_at = state, utcnow()
            if saved.update_code == code:  # a click may have brought a fresh code meanwhile
                saved.update_code = next_code

    in_transaction(database, record)
    return {"status": 200, "message_id": message_id}


def _send_again(
    database: Any,
    card_pk: int,
    module: Any,
    where: tuple[str, Mapping[str, str], str],
    values: dict[str, Any],
) -> dict[str, Any]:
    """A reminder on a platform whose card updates are scarce: the card goes out again with the
    time left (the card record now names it), and the old one says to decide on the new one.
    The old one keeps its buttons when it can no longer be updated: a click there still
    decides."""
    base_url, settings, to = where
    with database.session() as db:
        card_row = db.get(ChatCard, card_pk)
        user = db.get(User, card_row.user_id) if card_row is not None else None
        if card_row is None or user is None:
            raise outbox.DeliveryError("the card record or the person is gone", permanent=True)
        app_pk, old_id, old_code = card_row.chat_app_id, card_row.message_id, card_row.update_code
        language = user.locale or "zh"
    message_id, code = with_token(
        database, app_pk, lambda t: module.send(base_url, t, settings, to, values, language)
    )

    def record(db: Session) -> None:
        saved = db.get(ChatCard, card_pk)
        if saved is not None:
            saved.message_id, saved.update_code = message_id, code
            saved.shows, saved.updated_at = "reminder", utcnow()

    in_transaction(database, record)
    if old_code:
        old = values | {"state": "superseded", "link": ""}
        try:
            with_token(database, app_pk, lambda t: module.update(
                base_url, t, settings, to, old_id, old_code, old, language))  # fmt: skip
        except outbox.DeliveryError as err:
            log.info("chat card %s: the old card was not marked as sent again: %s", card_pk, err)
    return {"status": 200, "message_id": message_id, "sent_again": True}


def person_id(user: User, platform: str) -> str | None:
    """``user``'s id on ``platform`` (their Feishu id, their WeCom userid), if known."""
    return getattr(user, PLATFORMS[platform].USER_FIELD) or None


def user_by(db: Session, platform: str, person: str) -> User | None:
    """The OrderFlow user whose id on ``platform`` is ``person``."""
    if not person:
        return None
    field = getattr(User, PLATFORMS[platform].USER_FIELD)
    return db.scalars(select(User).where(field == person)).first()


def user_for(db: Session, ids: Mapping[str, Any]) -> User | None:
    """The OrderFlow user whose Feishu id is the clicking person's open id or user id."""
    known = [str(v) for k, v in ids.items() if k in ("open_id", "user_id") and v]
    if not known:
        return None
    return db.scalars(select(User).where(or_(*(User.feishu_id == v for v in known)))).first()
