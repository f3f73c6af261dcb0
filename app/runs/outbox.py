"""Delivering outbox messages: claim, send, record, retry with backoff, dead-letter.

A message is claimed with a conditional UPDATE that also sets a lease from the time of
claiming; a worker killed while sending leaves the lease to expire, and the next sweep sends
it again. Receivers get the effect id as ``Idempotency-Key`` so that a message delivered
twice is processed once. Whatever goes wrong in a delivery ends as a recorded failure:
retried with backoff, dead-lettered after ``MAX_ATTEMPTS``; never a message left ``sending``.
"""

from __future__ import annotations

import http.client
import logging
import os
import random
import secrets
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from flow_engine import EffectResult
from flow_engine.outbound import is_reserved_header, url_problem

from ..db import Database, in_transaction, on_commit, rows_matched
from ..errors import ConflictError, NotFoundError, ValidationError
from ..jsontext import body_bytes, json_loads
from ..models import AllowedHost, OutboxMessage, Subscription, utcnow
from ..queue import task_app
from ..signing import sign
from . import services

log = logging.getLogger(__name__)

PENDING, SENDING, SENT, DEAD = "pending", "sending", "sent", "dead"
MAX_ATTEMPTS = 8
LEASE = timedelta(minutes=2)
TIMEOUT_SECONDS = 10
MAX_RESPONSE_BYTES = 256 * 1024


class DeliveryError(Exception):
    """The receiver did not accept the message; ``permanent`` ones are not retried."""

    def __init__(self, message: str, *, permanent: bool = False, status: int | None = None) -> None:
        super().__init__(message)
        self.permanent = permanent
        self.status = status


def backoff(attempts: int) -> timedelta:
    """Exponential backoff with jitter: about 10 s, 20 s, 40 s ... capped at one hour."""
    base = min(10 * 2 ** max(attempts - 1, 0), 3600)
    return timedelta(seconds=base * random.uniform(0.8, 1.2))  # noqa: S311 (jitter, not security)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    # The allowlist was checked for the host the flow names; a redirect would send the
    # signed body somewhere that was never checked, so it is reported instead of followed.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def send_http(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    method: str = "POST",
    max_bytes: int = MAX_RESPONSE_BYTES,
    who: str | None = None,
    client_errors: bool = False,
) -> tuple[int, bytes]:
    """Send one request without following redirects; ``(status, body)`` or DeliveryError.

    4xx answers (but 408, 409, 425 and 429) and redirects are permanent failures; timeouts,
    refused connections and 5xx are retried by the caller's backoff. ``client_errors``: a
    4xx answer is returned with its body instead (APIs that explain a refusal in it).
    """
    who = who or url
    if not url.startswith(("http://", "https://")):
        raise DeliveryError(f"not an http(s) URL: {url!r}", permanent=True)
    try:
        request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
        with _OPENER.open(request, timeout=TIMEOUT_SECONDS) as response:
            return response.status, response.read(max_bytes)
    except urllib.error.HTTPError as err:
        if client_errors and 400 <= err.code < 500:
            with err:
                return err.code, err.read(max_bytes)
        location = err.headers.get("Location") if err.headers else None
        err.close()
        if 300 <= err.code < 400:
            raise DeliveryError(
                f"HTTP {err.code} from {who} redirects to {location or 'elsewhere'}; "
                "redirects are not followed (give the final address)",
                permanent=True,
                status=err.code,
            ) from err
        permanent = 400 <= err.code < 500 and err.code not in (408, 409, 425, 429)
        raise DeliveryError(
            f"HTTP {err.code} from {who}", permanent=permanent, status=err.code
        ) from err
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        raise DeliveryError(f"cannot reach {who}: {getattr(err, 'reason', err)}") from err
    except http.client.InvalidURL as err:
        raise DeliveryError(f"not a valid URL {url!r}: {err}", permanent=True) from err
    except ValueError as err:  # a header name or value http.client refuses: it never will send
        raise DeliveryError(f"cannot send to {who}: {err}", permanent=True) from err
    except http.client.HTTPException as err:  # the receiver broke off its answer: try again
        raise DeliveryError(f"bad answer from {who}: {type(err).__name__} {err}") from err


def _webhook(message: OutboxMessage, secret: str) -> dict[str, Any]:
    payload = message.payload
    body = body_bytes(payload.get("body") or {})
    timestamp = int(time.time())
    headers = {
        **_custom_headers(message),
        "Content-Type": "application/json; charset=utf-8",
        "User-Agent": "OrderFlow-Webhook/1",
        "Idempotency-Key": message.effect_id or f"outbox-{message.id}",
        "X-OrderFlow-Signature": sign(secret, timestamp, body),
    }
    status, raw = send_http(payload["url"], body, headers, method=payload.get("method", "POST"))
    try:
        parsed: Any = json_loads(raw) if raw else None
    except ValueError:
        parsed = raw.decode("utf-8", "replace")
    return {"status": status, "body": parsed}


def _custom_headers(message: OutboxMessage) -> dict[str, str]:
    # Flows saved before reserved headers were refused may still carry them: they are dropped,
    # so a receiver's signature check and deduplication keep working.
    stored = message.payload.get("headers") or {}
    dropped = sorted(str(k) for k in stored if is_reserved_header(str(k)))
    if dropped:
        log.warning("outbox %s: reserved headers %s ignored", message.id, ", ".join(dropped))
    return {str(k): str(v) for k, v in stored.items() if not is_reserved_header(str(k))}


Deliverer = Callable[[OutboxMessage, str], dict[str, Any]]

# How each kind of message is delivered: webhooks here; notifications (``notify``) and chat
# app cards (``chat``) are registered by their features when the app is built.
DELIVERERS: dict[str, Deliverer] = {"webhook": _webhook}


def register_deliverer(kind: str, deliver: Deliverer) -> None:
    """Deliver outbox messages of ``kind`` with ``deliver(message, secret)``."""
    DELIVERERS[kind] = deliver


def deliver(database: Database, message_id: int, *, now: datetime | None = None) -> str:
    """Try to deliver one message; returns ``sent``, ``retry``, ``dead`` or ``skipped``.

    ``now`` is the time of claiming (the lease runs from it): give the time the message is
    reached, never one taken for a whole batch.
    """
    moment = now or utcnow()

    def claim(db: Session) -> OutboxMessage | None:
        claimed = rows_matched(
            db,
            update(OutboxMessage)
            .where(
                OutboxMessage.id == message_id,
                or_(OutboxMessage.status == PENDING, OutboxMessage.status == SENDING),
                OutboxMessage.next_attempt_at <= moment,
            )
            .values(
                status=SENDING, attempts=OutboxMessage.attempts + 1, next_attempt_at=moment + LEASE
            ),
        )
        return db.get(OutboxMessage, message_id) if claimed == 1 else None

    message = in_transaction(database, claim)
    if message is None or message.kind not in DELIVERERS:
        return "skipped"
    secret = _secret()
    try:
        if message.kind not in ("notify", "chat"):
            with database.session() as db:
                secret = check_destination(db, message.payload.get("url")) or secret
                secret = _subscription_secret(db, message.subscription_id) or secret
        response = DELIVERERS[message.kind](message, secret)
    except DeliveryError as exc:
        failure = exc
    except Exception as exc:
        # An unforeseen failure is still a failed attempt: recorded, retried, dead-lettered
        # after the maximum, instead of leaving the message "sending" and the batch stopped.
        log.exception("outbox %s: delivery failed unexpectedly", message_id)
        failure = DeliveryError(f"{type(exc).__name__}: {exc}")
    else:
        return in_transaction(database, lambda db: _sent(db, message_id, response, moment))
    return in_transaction(database, lambda db: _failed(db, message_id, failure, moment))


def _subscription_secret(db: Session, subscription_id: int | None) -> str | None:
    # An event subscription may sign with a secret of its own instead of its host's.
    if subscription_id is None:
        return None
    return db.scalar(select(Subscription.secret).where(Subscription.id == subscription_id))


def _host_matches(host: str, pattern: str) -> bool:
    pattern = pattern.strip().lower()
    if pattern.startswith("*."):
        return host.endswith(pattern[1:]) and len(host) > len(pattern) - 1
    return host == pattern


def allowed_patterns(db: Session) -> list[str]:
    """Hosts outbound messages may go to: the admin's list plus ``OUTBOX_ALLOWED_HOSTS``."""
    return [pattern for pattern, _ in _allowed(db)]


def _allowed(db: Session) -> list[tuple[str, str | None]]:
    """``(host pattern, own signing secret or None)``: the admin's list, then the hosts of
    ``OUTBOX_ALLOWED_HOSTS`` (which sign with the shared secret)."""

    configured = (
        task_app().config.get("OUTBOX_ALLOWED_HOSTS")
        or os.environ.get("ORDERFLOW_OUTBOX_ALLOWED_HOSTS")
        or ""
    )
    extra = [(h.strip().lower(), None) for h in str(configured).split(",") if h.strip()]
    listed = db.execute(select(AllowedHost.host, AllowedHost.signing_secret))
    return [(host, secret) for host, secret in listed] + extra


def check_destination(db: Session, url: Any) -> str | None:
    """Refuse (permanently, before any connection) a URL that cannot be called or whose host
    is not allowed; returns the signing secret of the host's own entry, if it has one (an
    exact host name wins over a ``*.`` pattern)."""
    problem = url_problem(url)
    if problem is not None:
        raise DeliveryError(f"not a usable URL {url!r}: {problem[0]}", permanent=True)
    host = (urlsplit(url).hostname or "").lower()
    matching = [(p, secret) for p, secret in _allowed(db) if host and _host_matches(host, p)]
    if not matching:
        raise DeliveryError(
            f"destination host {host!r} is not on the allowlist; not contacted", permanent=True
        )
    # The most specific entry: the exact name, else the longest pattern.
    _, secret = max(matching, key=lambda m: (not m[0].startswith("*."), len(m[0])))
    return secret


def add_allowed_host(
    db: Session, actor: str | None, host: str, note: str = "", *, own_secret: bool = False
) -> AllowedHost:
    """Allow outbound messages to ``host`` (``*.example.com`` for subdomains); with
    ``own_secret`` its webhooks are signed with a secret of its own. No commit."""
    host = host.strip().lower()
    bare = host[2:] if host.startswith("*.") else host
    if not bare or len(host) > 255 or any(c in bare for c in "/:@ *?#"):
        raise ValidationError(
            _l("Give a host name or address, e.g. erp.example.com or *.example.com."),
            fields={"host": "invalid"},
        )
    if _by_name(db, host) is not None:
        raise ConflictError(_l("%(host)s is on the allowlist already.", host=host))
    row = AllowedHost(
        host=host,
        note=note.strip()[:255],
        created_by=actor,
        signing_secret=new_signing_secret() if own_secret else None,
    )
    db.add(row)
    db.flush()
    return row


def new_signing_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def _by_name(db: Session, host: str) -> AllowedHost | None:
    return db.scalars(select(AllowedHost).where(AllowedHost.host == host.strip().lower())).first()


def allowed_host(db: Session, entry: int | str) -> AllowedHost:
    """The allowlist entry with this id, or for this host name; NotFoundError if none."""
    row = db.get(AllowedHost, entry) if isinstance(entry, int) else _by_name(db, entry)
    if row is None:
        raise NotFoundError(_l("This host is not on the allowlist."))
    return row


def set_host_secret(db: Session, entry: int | str, *, own: bool) -> AllowedHost:
    """Give the host (entry id or host name) a new secret of its own (``own``), or make it
    use the shared secret again. The old secret stops working at once. No commit."""
    row = allowed_host(db, entry)
    row.signing_secret = new_signing_secret() if own else None
    db.flush()
    return row


def remove_allowed_host(db: Session, host_id: int) -> None:
    db.delete(allowed_host(db, host_id))
    db.flush()


def dead_letters(db: Session, *, limit: int = 200) -> list[OutboxMessage]:
    """Messages that will not be retried any more, newest first."""
    return list(
        db.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == DEAD)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )


def replay(db: Session, message_id: int, *, now: datetime | None = None) -> OutboxMessage:
    """Queue a dead message again with a fresh retry budget; woken after commit. No commit."""
    moment = now or utcnow()
    updated = rows_matched(
        db,
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.status == DEAD)
        .values(status=PENDING, attempts=0, next_attempt_at=moment)
        .execution_options(synchronize_session=False),
    )
    message = db.get(OutboxMessage, message_id)
    if message is None:
        raise NotFoundError(_l("There is no outbox message %(id)s.", id=message_id))
    if updated != 1:
        raise ConflictError(_l("Only dead messages can be replayed."))
    db.refresh(message)
    log.info("outbox %s replayed", message_id)

    from .tasks import wake_outbox_many

    on_commit(db, lambda: wake_outbox_many([message_id]))
    return message


def _secret() -> str:

    return str(task_app().config["WEBHOOK_SECRET"])


def _sent(db: Session, message_id: int, response: dict[str, Any], now: datetime) -> str:
    message = db.get_one(OutboxMessage, message_id)
    message.status = SENT
    message.sent_at = now
    message.last_error = None
    status = response.get("status")
    message.last_status = status if isinstance(status, int) else None
    if (
        message.payload.get("awaited")
        and message.run_id is not None
        and message.effect_id is not None
    ):
        services.apply_event(
            db, message.run_id, EffectResult(message.effect_id, "ok", response), now=now
        )
    log.info("outbox %s delivered (%s)", message_id, response.get("status"))
    return SENT


def _failed(db: Session, message_id: int, err: DeliveryError, now: datetime) -> str:
    message = db.get_one(OutboxMessage, message_id)
    message.last_error = str(err)[:2000]
    message.last_status = err.status
    if err.permanent or message.attempts >= MAX_ATTEMPTS:
        message.status = DEAD
        log.warning("outbox %s dead after %d attempts: %s", message_id, message.attempts, err)
        if (
            message.payload.get("awaited")
            and message.run_id is not None
            and message.effect_id is not None
        ):
            data = {"error": str(err), "attempts": message.attempts, "status": err.status}
            services.apply_event(
                db, message.run_id, EffectResult(message.effect_id, "failed", data), now=now
            )
        return DEAD
    message.status = PENDING
    message.next_attempt_at = now + backoff(message.attempts)
    log.info(
        "outbox %s attempt %d failed, retry at %s: %s",
        message_id,
        message.attempts,
        message.next_attempt_at,
        err,
    )
    return "retry"
