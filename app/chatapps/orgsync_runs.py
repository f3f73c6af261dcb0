"""Running an organisation sync (``app.chatapps.orgsync``): on demand from the page or the
command line, and nightly for the apps that want it, each outcome kept on the app."""

from __future__ import annotations

import logging
from typing import Any

from flask_babel import force_locale
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..db import get_db, in_transaction
from ..errors import AppError, ValidationError
from ..models import ChatApp, User, utcnow
from ..runs.outbox import DeliveryError
from . import services
from .orgsync import READERS, SyncPlan, apply, connected_app, lines, plan, read

log = logging.getLogger(__name__)

# A nightly sync that would deactivate more than this share of the linked people (and more
# than MIN_UNWATCHED of them) stops instead: an app whose contact range shrank by mistake
# must not deactivate the company while nobody watches.
MAX_UNWATCHED_SHARE = 0.2
MIN_UNWATCHED = 3


def run(platform: str, *, write: bool, actor: str | None = None, careful: bool = False
        ) -> tuple[SyncPlan, list[dict[str, str]], dict[str, int]]:  # fmt: skip
    """Read ``platform``'s address book, then compare it (and apply it when ``write``): the
    plan, its lines in business words and the figures (with ``handed_over`` once applied).
    ``careful`` (nobody watching) refuses to deactivate more than :data:`MAX_UNWATCHED_SHARE`
    of the people linked to the platform."""
    database = get_db()
    directory = read(platform)

    def work(db: Session) -> tuple[SyncPlan, list[dict[str, str]], dict[str, int]]:
        result = plan(db, platform, directory)
        said = lines(result)
        if not write:
            db.rollback()
            return result, said, result.counts()
        if careful:
            _check_unwatched(result)
        who = db.scalars(select(User).where(User.username == actor)).first() if actor else None
        return result, said, apply(db, result, who)

    return in_transaction(database, work)


def _check_unwatched(result: SyncPlan) -> None:
    linked = sum(1 for m in result.matches if m.status == "linked") + len(result.deactivate)
    gone = len(result.deactivate)
    if gone > MIN_UNWATCHED and gone > MAX_UNWATCHED_SHARE * linked:
        raise ValidationError(
            _l(
                "The nightly sync stopped: %(gone)d of %(linked)d people linked to the platform "
                "would be deactivated. Check the app's contact range, then run the dry run and "
                "apply from the page.",
                gone=gone,
                linked=linked,
            ),
            fields={"platform": "too_many_gone"},
        )


PLATFORM_NAMES = {"feishu": _l("Feishu"), "wecom": _l("WeCom"), "dingtalk": _l("DingTalk")}


def explained(platform: str, err: AppError | DeliveryError) -> str:
    """What went wrong, for the admin, in the reader's language: an address book that could
    not be read says where to look, with the platform's own answer in brackets."""
    if isinstance(err, AppError):
        return str(err.message)
    return str(
        _l(
            "Could not read the address book from %(platform)s (%(reason)s). Check the app's "
            "API address, its permission to read contacts and the network, then try again.",
            platform=PLATFORM_NAMES.get(platform, platform),
            reason=str(err),
        )
    )


def _error(platform: str, err: AppError | DeliveryError) -> dict[str, str]:
    """The error in Chinese and English: the page shows the reader's (a nightly run has none)."""
    said = {}
    for language in ("zh", "en"):
        with force_locale(language):
            said[language] = explained(platform, err)
    return {"error": said["en"], "error_zh": said["zh"]}


def record(platform: str, outcome: dict[str, Any]) -> None:
    """Keep ``outcome`` as the last sync of ``platform``'s app, with the time. Commits."""

    def save(db: Session) -> None:
        row = services.connected(db, platform)
        if row is not None:
            row.org_sync_last = {"at": utcnow().isoformat(timespec="seconds"), **outcome}

    in_transaction(get_db(), save)


def run_and_record(platform: str, *, write: bool, actor: str | None = None,
                   careful: bool = False
                   ) -> tuple[SyncPlan, list[dict[str, str]], dict[str, int]]:  # fmt: skip
    """:func:`run`, keeping the figures (or the error) as the app's last sync."""
    try:
        result, said, counts = run(platform, write=write, actor=actor, careful=careful)
    except (AppError, DeliveryError) as err:
        record(platform, {"applied": write, **_error(platform, err)})
        raise
    record(platform, {"applied": write, "counts": counts})
    return result, said, counts


def nightly() -> dict[str, Any]:
    """Sync every app whose nightly sync is on; each outcome (figures or error) by platform."""
    with get_db().session() as db:
        due = [r.platform for r in db.scalars(select(ChatApp).where(
            ChatApp.enabled.is_(True), ChatApp.org_sync_nightly.is_(True))) if r.platform in READERS]  # fmt: skip
    out: dict[str, Any] = {}
    for platform in due:
        try:
            out[platform] = run_and_record(platform, write=True, careful=True)[2]
        except (AppError, DeliveryError) as err:
            log.warning("nightly organisation sync from %s failed: %s", platform, err)
            out[platform] = {"error": str(err)}
    return out


def set_nightly(db: Session, platform: str, on: bool) -> ChatApp:
    """Turn the nightly sync of ``platform``'s app on or off. No commit."""
    row = connected_app(db, platform)
    row.org_sync_nightly = on
    db.flush()
    return row
