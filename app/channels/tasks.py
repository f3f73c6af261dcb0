"""Background work of inbound channels: every minute, each pull connector whose time came
syncs (the database says which are due, so a lost wake-up only delays one minute); every
hour, the delivery log is kept within its retention."""

from __future__ import annotations

from datetime import datetime

from huey import crontab

from ..db import get_db, in_transaction
from ..models import utcnow
from ..queue import huey, task_app
from . import deliveries, pull


@huey.periodic_task(crontab(minute="*"))
def pull_due() -> list[dict[str, object]]:
    """Sync every pull connector that is due."""
    reports = pull.sync_due(get_db(task_app()))
    return [r.__dict__ for r in reports]


@huey.task()
def pull_now(channel_id: int) -> dict[str, object]:
    """Sync one connector at once ("sync now" on the integrations page)."""
    return pull.sync(get_db(task_app()), channel_id, force=True).__dict__


@huey.periodic_task(crontab(minute="23"))
def prune_deliveries() -> int:
    """Forget logged deliveries past the retention (hourly); returns how many."""
    return prune_now()


def prune_now(now: datetime | None = None) -> int:
    """Prune the delivery log by ``CHANNEL_DELIVERY_DAYS`` and ``CHANNEL_DELIVERY_KEEP``."""
    app = task_app()
    days = app.config["CHANNEL_DELIVERY_DAYS"]
    keep = app.config["CHANNEL_DELIVERY_KEEP"]
    return in_transaction(
        get_db(app), lambda db: deliveries.prune(db, now=now or utcnow(), days=days, keep=keep)
    )
