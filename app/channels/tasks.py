"""Background work of the pull connectors: every minute, each connector whose time came
syncs (the database says which are due, so a lost wake-up only delays one minute)."""

from __future__ import annotations

from huey import crontab

from ..db import get_db
from ..queue import huey, task_app
from . import pull


@huey.periodic_task(crontab(minute="*"))
def pull_due() -> list[dict[str, object]]:
    """Sync every pull connector that is due."""
    reports = pull.sync_due(get_db(task_app()))
    return [r.__dict__ for r in reports]


@huey.task()
def pull_now(channel_id: int) -> dict[str, object]:
    """Sync one connector at once ("sync now" on the integrations page)."""
    return pull.sync(get_db(task_app()), channel_id, force=True).__dict__
