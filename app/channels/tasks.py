"""Background work of inbound channels: the delivery log kept within its retention."""

from __future__ import annotations

from datetime import datetime

from huey import crontab

from ..db import get_db, in_transaction
from ..models import utcnow
from ..queue import huey, task_app
from . import deliveries


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
