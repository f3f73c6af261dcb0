"""Pull connectors: Taobao/Tmall and JD do not push orders, so OrderFlow polls their trade
APIs on a schedule.

A pull channel (kind ``taobao_pull`` or ``jd_pull``) has a :class:`ChannelPull` row: the API
base URL, the app key, app secret and session (access token) sealed by ``vault``, the poll
interval and a cursor. One sync pages through windows of modified time from the cursor
(minus an overlap for clock skew between the platform and us) up to now. Each page is
stored in one transaction together with the connector's progress (next page, or the cursor
moved to the window's end), so a restart resumes after the last committed page. Orders go
through ``deliveries.handle`` like pushed ones: a re-pulled order is a duplicate, never a
second order (the platform order id is the dedup key), a changed status becomes a status
event once per (order, status), and an order the mapping cannot use is held for replay.

Request signing, as the platforms document it:

- Taobao TOP: every parameter but ``sign`` (and empty ones) sorted by name, each name
  followed by its value, concatenated; ``sign_method=md5``: MD5 of secret + that + secret;
  ``hmac``: HMAC-MD5 of it keyed with the secret; ``hmac-sha256``: HMAC-SHA256. Upper-case
  hex. Times are China time ``yyyy-MM-dd HH:mm:ss``.
- JD (JOS, ``360buy`` style): the same concatenation of the system parameters (``app_key``,
  ``access_token``, ``method``, ``timestamp``, ``v=2.0``, ``360buy_param_json``) wrapped in
  the app secret, MD5, upper-case hex.

Platform answers: a rate limit (Taobao code 7 or an ``isv.*-limit`` / ``accesscontrol.*``
sub-code, JD code 2) backs off exponentially (``next_attempt_at``); an expired or invalid
session (Taobao 26/27, JD 18/19) stops the connector until an admin saves a new one, with an
alert; an unreachable platform is retried later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit

from flask_babel import lazy_gettext as _l
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from ..db import Database, in_transaction
from ..errors import NotFoundError, ValidationError
from ..models import Alert, Channel, ChannelPull, Order, utcnow
from . import deliveries, vault
from .mapping import CHINA
from .protocols import Message

log = logging.getLogger(__name__)

KINDS = ("taobao_pull", "jd_pull")
GATEWAYS = {
    "taobao_pull": "https://eco.taobao.com/router/rest",
    "jd_pull": "https://api.jd.com/routerjson",
}
OVERLAP = timedelta(minutes=5)
WINDOW = timedelta(days=1)  # Taobao allows at most one day per increment query
FIRST_LOOKBACK = timedelta(days=1)
PAGE_SIZE = 50
MAX_PAGES = 200  # per sync; the next sync goes on from the cursor
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
TIMEOUT = 20
MIN_INTERVAL, MAX_INTERVAL = 60, 86400

RUNNING, BACKOFF, NEEDS_TOKEN, NEEDS_SETUP = "running", "backoff", "needs_token", "needs_setup"
RATE_LIMITED, TOKEN_EXPIRED, NETWORK, PLATFORM_ERROR, UNREADABLE = (
    "rate_limited", "token_expired", "network", "platform_error", "credentials_unreadable",
)  # fmt: skip

# The platform's trade status → OrderFlow's topic (``deliveries.CODES``); ``created`` only
# creates the order.
TAOBAO_STATUS = {
    "TRADE_NO_CREATE_PAY": "created",
    "WAIT_BUYER_PAY": "created",
    "PAY_PENDING": "created",
    "WAIT_PRE_AUTH_CONFIRM": "created",
    "WAIT_SELLER_SEND_GOODS": "paid",
    "SELLER_CONSIGNED_PART": "fulfilled",
    "WAIT_BUYER_CONFIRM_GOODS": "fulfilled",
    "TRADE_BUYER_SIGNED": "delivered",
    "TRADE_FINISHED": "delivered",
    "TRADE_CLOSED": "refunded",  # closed after payment: refunded in full
    "TRADE_CLOSED_BY_TAOBAO": "cancelled",  # closed before payment
}
JD_STATUS = {
    "WAIT_SELLER_STOCK_OUT": "paid",
    "WAIT_GOODS_RECEIVE_CONFIRM": "fulfilled",
    "FINISHED_L": "delivered",
    "TRADE_CANCELED": "cancelled",
    "LOCKED": "created",
}
JD_STATES = ",".join(JD_STATUS)
TAOBAO_FIELDS = "tid,status,modified"
TAOBAO_FULL_FIELDS = (
    "tid,status,payment,post_fee,created,modified,timeout_action_time,buyer_open_uid,"
    "buyer_nick,buyer_message,seller_memo,receiver_name,receiver_state,receiver_city,"
    "receiver_district,receiver_address,receiver_zip,receiver_mobile,receiver_phone,"
    "orders.outer_sku_id,orders.outer_iid,orders.sku_id,orders.num_iid,orders.title,"
    "orders.num,orders.price"
)

STATE_LABELS = {
    RUNNING: _l("Running"),
    BACKOFF: _l("Backing off"),
    NEEDS_TOKEN: _l("Needs a new session"),
    NEEDS_SETUP: _l("Needs credentials"),
}
ERROR_TEXTS = {
    RATE_LIMITED: _l("The platform limits how often the app may call it; OrderFlow waits longer "
                     "before each new attempt."),
    TOKEN_EXPIRED: _l("The session (access token) expired or was revoked: the shop owner "
                      "authorises the app again and you save the new session here."),
    NETWORK: _l("The platform could not be reached; OrderFlow tries again later."),
    PLATFORM_ERROR: _l("The platform refused the request; OrderFlow tries again later."),
    UNREADABLE: _l("The saved credentials cannot be decrypted with this server's key: "
                   "enter them again."),
}  # fmt: skip


class PlatformError(Exception):
    """An answer of the platform that is not a page: what kind, its code and its words."""

    def __init__(self, kind: str, code: str, text: str) -> None:
        super().__init__(f"{kind} {code}: {text}")
        self.kind, self.code, self.text = kind, code, text


def _concat(params: dict[str, str]) -> str:
    return "".join(f"{k}{v}" for k, v in sorted(params.items()) if k != "sign" and k and v != "")


def top_sign(params: dict[str, str], secret: str, method: str = "md5") -> str:
    """The TOP signature of ``params`` (Taobao's documented algorithm)."""
    text = _concat(params).encode()
    if method == "hmac":
        digest = hmac.new(secret.encode(), text, hashlib.md5).hexdigest()
    elif method == "hmac-sha256":
        digest = hmac.new(secret.encode(), text, hashlib.sha256).hexdigest()
    else:
        digest = hashlib.md5(secret.encode() + text + secret.encode()).hexdigest()  # noqa: S324
    return digest.upper()


def jd_sign(params: dict[str, str], secret: str) -> str:
    """The JOS signature of ``params``: MD5 of secret + sorted names and values + secret."""
    text = secret + _concat(params) + secret
    return hashlib.md5(text.encode()).hexdigest().upper()  # noqa: S324 (the platform's scheme)


def china(moment: datetime) -> str:
    return moment.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S")


def _post(url: str, params: dict[str, str]) -> Any:
    data = urlencode(params).encode()
    req = urllib.request.Request(url, data=data, method="POST")  # noqa: S310 (http(s) checked)
    req.add_header("Content-Type", "application/x-www-form-urlencoded;charset=utf-8")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as answer:  # noqa: S310
            body = answer.read()
    except urllib.error.HTTPError as err:
        raise PlatformError(NETWORK, str(err.code), f"HTTP {err.code}") from None
    except (urllib.error.URLError, OSError) as err:
        raise PlatformError(NETWORK, "unreachable", str(getattr(err, "reason", err))) from None
    try:
        return json.loads(body)
    except ValueError:
        raise PlatformError(
            PLATFORM_ERROR, "not_json", body[:200].decode(errors="replace")
        ) from None


@dataclass
class Pulled:
    """One order of a page: its platform id and status, and its payload for the mapping
    (fetched on demand for Taobao, where the list carries only id, status and time)."""

    external_id: str
    status: str
    payload: Any = None


@dataclass
class Page:
    orders: list[Pulled]
    has_next: bool


@dataclass
class Client:
    url: str
    app_key: str
    app_secret: str
    session: str
    clock: Callable[[], datetime] = field(default=utcnow)

    def page(self, start: datetime, end: datetime, page_no: int) -> Page:
        raise NotImplementedError

    def payload(self, item: Pulled) -> Any:
        return item.payload


class TaobaoClient(Client):
    sign_method = "md5"

    def call(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        signed = {
            "method": method, "app_key": self.app_key, "session": self.session,
            "timestamp": china(self.clock()), "format": "json", "v": "2.0",
            "sign_method": self.sign_method,
            **{k: str(v) for k, v in params.items()},
        }  # fmt: skip
        signed["sign"] = top_sign(signed, self.app_secret, self.sign_method)
        answer = _post(self.url, signed)
        if not isinstance(answer, dict):
            raise PlatformError(PLATFORM_ERROR, "not_object", str(answer)[:200])
        error = answer.get("error_response")
        if error is not None:
            raise _taobao_error(error)
        name = method.removeprefix("taobao.").replace(".", "_") + "_response"
        return answer.get(name) or {}

    def page(self, start: datetime, end: datetime, page_no: int) -> Page:
        body = self.call("taobao.trades.sold.increment.get", {
            "fields": TAOBAO_FIELDS, "start_modified": china(start), "end_modified": china(end),
            "page_no": page_no, "page_size": PAGE_SIZE, "use_has_next": "true",
        })  # fmt: skip
        trades = ((body.get("trades") or {}).get("trade")) or []
        orders = [Pulled(str(t.get("tid")), str(t.get("status") or "")) for t in trades]
        return Page(orders, bool(body.get("has_next")))

    def payload(self, item: Pulled) -> Any:
        body = self.call(
            "taobao.trade.fullinfo.get", {"tid": item.external_id, "fields": TAOBAO_FULL_FIELDS}
        )
        return {"trade": body.get("trade") or {}}


def _taobao_error(error: dict[str, Any]) -> PlatformError:
    code = str(error.get("code", ""))
    sub = str(error.get("sub_code") or "")
    text = " ".join(str(error.get(k) or "") for k in ("msg", "sub_msg", "sub_code")).strip()
    if code == "7" or re.match(r"^(isv\..*-limit|accesscontrol\.)", sub):
        return PlatformError(RATE_LIMITED, code, text)
    if code in ("26", "27") or "session" in sub:
        return PlatformError(TOKEN_EXPIRED, code, text)
    return PlatformError(PLATFORM_ERROR, code, text)


class JdClient(Client):
    method = "jingdong.pop.order.search"

    def page(self, start: datetime, end: datetime, page_no: int) -> Page:
        business = {
            "start_date": china(start), "end_date": china(end), "order_state": JD_STATES,
            "page": str(page_no), "page_size": str(PAGE_SIZE), "dateType": "0",
            "sortType": "1",
        }  # fmt: skip
        signed = {
            "method": self.method, "app_key": self.app_key, "access_token": self.session,
            "timestamp": china(self.clock()), "v": "2.0",
            "360buy_param_json": json.dumps(business, separators=(",", ":"), ensure_ascii=False),
        }  # fmt: skip
        signed["sign"] = jd_sign(signed, self.app_secret)
        answer = _post(self.url, signed)
        if not isinstance(answer, dict):
            raise PlatformError(PLATFORM_ERROR, "not_object", str(answer)[:200])
        if "error_response" in answer:
            raise _jd_error(answer["error_response"])
        result = (answer.get("jingdong_pop_order_search_responce") or {}).get(
            "searchorderinfo_result"
        ) or {}
        api = result.get("apiResult") or {}
        if api and not api.get("success", True):
            text = str(api.get("chineseErrCode") or api.get("englishErrCode") or "")
            raise PlatformError(PLATFORM_ERROR, str(api.get("code", "")), text)
        items = result.get("orderInfoList") or []
        orders = [Pulled(str(o.get("orderId")), str(o.get("orderState") or ""), o) for o in items]
        total = int(result.get("orderTotal") or 0)
        return Page(orders, page_no * PAGE_SIZE < total)


def _jd_error(error: dict[str, Any]) -> PlatformError:
    code = str(error.get("code", ""))
    text = " ".join(str(error.get(k) or "") for k in ("zh_desc", "en_desc")).strip()
    if code == "2":
        return PlatformError(RATE_LIMITED, code, text)
    if code in ("18", "19"):
        return PlatformError(TOKEN_EXPIRED, code, text)
    return PlatformError(PLATFORM_ERROR, code, text)


CLIENTS: dict[str, type[Client]] = {"taobao_pull": TaobaoClient, "jd_pull": JdClient}
STATUSES = {"taobao_pull": TAOBAO_STATUS, "jd_pull": JD_STATUS}


# --- configuration -------------------------------------------------------------------------


def get_pull(db: Session, channel: Channel) -> ChannelPull:
    row = db.scalars(select(ChannelPull).where(ChannelPull.channel_id == channel.id)).first()
    if row is None:
        row = ChannelPull(
            channel_id=channel.id, api_url=GATEWAYS[channel.kind], interval_seconds=300,
            next_page=1, state=NEEDS_SETUP, failures=0, last_pulled=0, total_pulled=0,
        )  # fmt: skip
        db.add(row)
        db.flush()
    return row


def pulls_by_channel(db: Session) -> dict[int, ChannelPull]:
    return {p.channel_id: p for p in db.scalars(select(ChannelPull))}


def configure(
    db: Session,
    channel: Channel,
    *,
    app_key: str = "",
    app_secret: str = "",
    session: str = "",
    api_url: str = "",
    interval: str | int = "",
) -> ChannelPull:
    """Save a pull connector's settings; blank secret fields keep the saved ones (they are
    never shown back). Every problem is named; nothing is saved when one is found. A new
    session restarts a connector stopped for an expired one. No commit."""
    if channel.kind not in KINDS:
        raise ValidationError(
            _l("Channel %(key)s does not pull orders: only Taobao/Tmall and JD pull channels do.",
               key=channel.key), code="not_pull",
        )  # fmt: skip
    row = get_pull(db, channel)
    saved: dict[str, Any] = {}
    if row.credentials:
        try:
            saved = vault.open_sealed(row.credentials)
        except vault.CredentialsUnreadableError:
            saved = {}
    values = {"app_key": app_key.strip() or saved.get("app_key", ""),
              "app_secret": app_secret.strip() or saved.get("app_secret", ""),
              "session": session.strip() or saved.get("session", "")}  # fmt: skip
    problems: dict[str, str] = {}
    if not re.fullmatch(r"[A-Za-z0-9_-]{4,64}", values["app_key"]):
        problems["app_key"] = str(_l("The app key from the platform's open console: 4 to 64 "
                                     "letters or digits, for example 12345678."))  # fmt: skip
    if not 8 <= len(values["app_secret"]) <= 128 or any(c.isspace() for c in values["app_secret"]):
        problems["app_secret"] = str(_l("The app secret: 8 to 128 characters without spaces, "
                                        "for example 0a1b2c3d4e5f60718293a4b5c6d7e8f9."))  # fmt: skip
    if not 8 <= len(values["session"]) <= 512 or any(c.isspace() for c in values["session"]):
        problems["session"] = str(_l("The session (access token) the shop's authorisation "
                                     "returned: 8 to 512 characters without spaces, for example "
                                     "6100e23a8f0c5e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6."))  # fmt: skip
    url = api_url.strip() or row.api_url or GATEWAYS[channel.kind]
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or len(url) > 300:
        problems["api_url"] = str(_l("The API address starts with https:// (or http://), for "
                                     "example %(url)s.", url=GATEWAYS[channel.kind]))  # fmt: skip
    seconds = row.interval_seconds
    if str(interval).strip():
        try:
            seconds = int(str(interval).strip())
        except ValueError:
            seconds = -1
        if not MIN_INTERVAL <= seconds <= MAX_INTERVAL:
            problems["interval"] = str(_l("The poll interval in seconds, from %(lo)d to %(hi)d, "
                                          "for example 300.", lo=MIN_INTERVAL, hi=MAX_INTERVAL))  # fmt: skip
    if problems:
        raise ValidationError(_l("The pull connector settings were not saved."), fields=problems)
    renewed = values != saved
    row.credentials = vault.seal(values)
    row.api_url, row.interval_seconds, row.updated_at = url, seconds, utcnow()
    if renewed or row.state == NEEDS_SETUP:
        row.state, row.failures, row.next_attempt_at = RUNNING, 0, None
        row.last_error, row.last_error_code = None, None
        for alert in db.scalars(
            select(Alert).where(
                Alert.dedup_key == f"pull-stopped:{channel.key}", Alert.status != "resolved"
            )
        ):
            alert.status, alert.resolved_at, alert.resolved_by = "resolved", utcnow(), "auto"
    db.flush()
    return row


# --- syncing -------------------------------------------------------------------------------


@dataclass
class SyncReport:
    channel: str
    state: str
    pulled: int = 0
    pages: int = 0
    skipped: str | None = None
    error: str | None = None


def due(db: Session, now: datetime) -> list[int]:
    """The channels whose pull connector should sync now."""
    return list(
        db.scalars(
            select(ChannelPull.channel_id)
            .join(Channel, Channel.id == ChannelPull.channel_id)
            .where(
                Channel.active.is_(True),
                ChannelPull.state.in_((RUNNING, BACKOFF)),
                or_(ChannelPull.next_attempt_at.is_(None), ChannelPull.next_attempt_at <= now),
            )
            .order_by(ChannelPull.next_attempt_at)
        )
    )


def _load(db: Session, channel_id: int) -> tuple[Channel, ChannelPull]:
    channel = db.get(Channel, channel_id)
    if channel is None or channel.kind not in KINDS:
        raise NotFoundError(_l("There is no pull channel %(id)s.", id=channel_id))
    return channel, get_pull(db, channel)


def _ingest(db: Session, channel: Channel, items: list[tuple[Pulled, bool]], now: datetime) -> int:
    """Store one page's orders: new ones created, every status as an event of the order
    once. Returns how many orders were new. No commit."""
    statuses = STATUSES[channel.kind]
    created = 0
    for item, known in items:
        if not known:
            outcome = deliveries.handle(
                db, channel, Message(f"pull:{item.external_id}", "created", item.payload,
                                     item.status), now,
            )  # fmt: skip
            if outcome.effect == deliveries.HELD:
                continue
            created += outcome.effect == "created"
        topic = statuses.get(item.status)
        if topic in deliveries.CODES:
            payload = item.payload if item.payload is not None else _id_payload(channel, item)
            message = Message(f"pull-{item.status}", topic, payload, item.status)
            deliveries.apply_status(db, channel, message, now)
    return created


def _id_payload(channel: Channel, item: Pulled) -> Any:
    """The smallest payload the channel's mapping reads the order id from."""
    if channel.kind == "taobao_pull":
        return {"trade": {"tid": item.external_id}}
    return {"orderId": item.external_id}


def _known(db: Session, channel: Channel, ids: list[str]) -> set[str]:
    if not ids:
        return set()
    return set(
        db.scalars(
            select(Order.external_id).where(
                Order.channel == channel.order_channel, Order.external_id.in_(ids)
            )
        )
    )


def _backoff(failures: int) -> timedelta:
    return min(BACKOFF_BASE * (2 ** max(failures - 1, 0)), BACKOFF_CAP)


def _fail(database: Database, channel_id: int, err: PlatformError, now: datetime) -> str:
    def work(db: Session) -> str:
        channel, row = _load(db, channel_id)
        row.last_error_code, row.last_error = err.kind, f"{err.code} {err.text}".strip()[:2000]
        row.updated_at = now
        if err.kind in (TOKEN_EXPIRED, UNREADABLE):
            row.state, row.next_attempt_at = NEEDS_TOKEN, None
            _alert(db, channel, err)
        else:
            row.failures += 1
            row.state = BACKOFF
            row.next_attempt_at = now + _backoff(row.failures)
        return row.state

    return in_transaction(database, work)


def _alert(db: Session, channel: Channel, err: PlatformError) -> None:
    key = f"pull-stopped:{channel.key}"
    open_one = db.scalars(
        select(Alert).where(Alert.dedup_key == key, Alert.status == "open")
    ).first()
    if open_one is not None:
        return
    if err.kind == UNREADABLE:
        title = f"拉单渠道 {channel.key} 已停止：保存的凭据无法用本服务器的密钥解密，请重新填写"
        message = (f"Pull channel {channel.key} stopped: its saved credentials cannot be "
                   "decrypted with this server's key; enter them again.")  # fmt: skip
    else:
        title = f"拉单渠道 {channel.key} 已停止：授权会话已过期或失效，请店铺重新授权后保存新的会话"
        message = (f"Pull channel {channel.key} stopped: the platform says the session expired "
                   f"or is invalid ({err.code} {err.text}). Authorise the app again and save "
                   "the new session on the integrations page.")  # fmt: skip
    db.add(
        Alert(
            source=f"channel:{channel.key}", severity="critical", title=title[:300],
            message=message, dedup_key=key, channel=channel.order_channel,
            data={"channel": channel.key, "code": err.code, "reason": err.kind},
        )
    )  # fmt: skip


def sync(
    database: Database,
    channel_id: int,
    *,
    now: datetime | None = None,
    force: bool = False,
    clock: Callable[[], datetime] = utcnow,
) -> SyncReport:
    """Pull what changed since the connector's cursor. ``force`` (sync now) runs a connector
    that is backing off; one that needs a new session or credentials never runs."""
    now = now or clock()
    with database.session() as db:
        channel, row = _load(db, channel_id)
        key, kind, state = channel.key, channel.kind, row.state
        sealed, url, next_at = row.credentials, row.api_url, row.next_attempt_at
    report = SyncReport(key, state)
    if state in (NEEDS_TOKEN, NEEDS_SETUP) or not sealed:
        report.skipped = state
        return report
    if not force and next_at is not None and next_at > now:
        report.skipped = "not_due"
        return report
    try:
        creds = vault.open_sealed(sealed)
    except vault.CredentialsUnreadableError as err:
        report.state = _fail(database, channel_id, PlatformError(UNREADABLE, "", str(err)), now)
        report.error = UNREADABLE
        return report
    client = CLIENTS[kind](url, creds["app_key"], creds["app_secret"], creds["session"], clock)
    try:
        while report.pages < MAX_PAGES:
            more = _one_page(database, channel_id, client, now, report)
            if not more:
                break
    except PlatformError as err:
        log.warning("pull %s: %s", key, err)
        report.state = _fail(database, channel_id, err, now)
        report.error = err.kind
        return report

    def done(db: Session) -> None:
        _, row = _load(db, channel_id)
        row.state, row.failures, row.last_sync_at = RUNNING, 0, now
        row.last_error, row.last_error_code = None, None
        row.last_pulled = report.pulled
        row.next_attempt_at = now + timedelta(seconds=row.interval_seconds)
        row.updated_at = now

    in_transaction(database, done)
    report.state = RUNNING
    return report


def _one_page(
    database: Database, channel_id: int, client: Client, now: datetime, report: SyncReport
) -> bool:
    """Fetch and store the next page; False once the cursor reached ``now``."""
    with database.session() as db:
        channel, row = _load(db, channel_id)
        cursor = row.cursor or now - FIRST_LOOKBACK
        end, page_no = row.window_end, row.next_page
        db.expunge(channel)
    if end is None:
        if report.pages and cursor >= now - timedelta(seconds=1):
            return False  # caught up (a sync always asks once: the overlap may hold changes)
        end = min(now, cursor + WINDOW) if cursor < now else cursor
        page_no = 1
    page = client.page(cursor - OVERLAP, end, page_no)
    with database.session() as db:
        known = _known(db, channel, [p.external_id for p in page.orders])
    for item in page.orders:
        if item.external_id not in known and item.payload is None:
            item.payload = client.payload(item)

    def store(db: Session) -> int:
        channel, row = _load(db, channel_id)
        pulled = _ingest(db, channel, [(p, p.external_id in known) for p in page.orders], now)
        if page.has_next and page.orders:
            row.window_end, row.next_page = end, page_no + 1
        else:
            row.cursor, row.window_end, row.next_page = end, None, 1
        row.total_pulled += pulled
        row.updated_at = now
        return pulled

    report.pulled += in_transaction(database, store)
    report.pages += 1
    return True


def sync_due(database: Database, now: datetime | None = None) -> list[SyncReport]:
    """Every due connector, one after the other; one failing does not stop the others."""
    now = now or utcnow()
    with database.session() as db:
        ids = due(db, now)
    reports = []
    for channel_id in ids:
        try:
            reports.append(sync(database, channel_id, now=now))
        except Exception:
            log.exception("pull connector of channel %s failed", channel_id)
    return reports
