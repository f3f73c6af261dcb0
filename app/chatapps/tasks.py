"""Background work of the chat apps: each night at 02:30 in the company's time zone, the
organisation of every app whose nightly sync is on is synced from its address book
(``app.chatapps.orgsync``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from huey import crontab

from .. import clock
from ..queue import huey, task_app
from . import orgsync_runs

# The company's local hour of the nightly sync; the task wakes every hour at :30 to find it,
# as the queue's clock is UTC and the company's zone is a setting.
NIGHTLY_HOUR = 2


@huey.periodic_task(crontab(minute="30"))
def org_sync_nightly() -> dict[str, Any]:
    """Sync the organisation from each app with the nightly sync on; the outcomes."""
    app = task_app()
    with app.test_request_context():
        return orgsync_runs.nightly() if due(datetime.now(UTC)) else {}


def due(now: datetime) -> bool:
    """Whether ``now`` (aware) is in the nightly sync's hour in the company's time zone."""
    return now.astimezone(clock.zone()).hour == NIGHTLY_HOUR
