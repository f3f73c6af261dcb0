"""Background work of the chat apps: each night, the organisation of every app whose
nightly sync is on is synced from its address book (``app.chatapps.orgsync``)."""

from __future__ import annotations

from typing import Any

from huey import crontab

from ..queue import huey, task_app
from . import orgsync


@huey.periodic_task(crontab(hour="2", minute="30"))
def org_sync_nightly() -> dict[str, Any]:
    """Sync the organisation from each app with the nightly sync on; the outcomes."""
    app = task_app()
    with app.test_request_context():
        return orgsync.nightly()
