"""Outbox leases under a slow receiver: two sweepers never send one message twice."""

from __future__ import annotations

import threading
import time
from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from app.db import get_db, in_transaction
from app.models import OutboxMessage
from app.runs import outbox, tasks

from .webhook_server import Receiver

MESSAGES = 10
DELAY = 0.25  # seconds the receiver takes per message: the batch takes about 2.5 s
LEASE = timedelta(seconds=1.5)  # far longer than one delivery, shorter than the batch


def test_each_message_is_received_once_when_the_batch_outlasts_its_lease(app, monkeypatch):
    monkeypatch.setattr(outbox, "LEASE", LEASE)
    database = get_db(app)
    with Receiver(delay=DELAY) as receiver:

        def add(db):
            db.add_all(
                OutboxMessage(kind="webhook", payload={"url": receiver.url}, effect_id=f"e{n}")
                for n in range(MESSAGES)
            )

        in_transaction(database, add)
        errors: list[BaseException] = []

        def sweeper(start_after: float) -> None:
            time.sleep(start_after)
            try:
                with app.app_context():
                    tasks.sweep_now()
            except BaseException as exc:  # reported by the test thread below
                errors.append(exc)

        # The second sweeper starts once the first one's lease would have run out.
        threads = [
            threading.Thread(target=sweeper, args=(wait,))
            for wait in (0, LEASE.total_seconds() + DELAY / 2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    assert errors == []
    received = Counter(r["headers"]["idempotency-key"] for r in receiver.requests)
    assert received == Counter({f"e{n}": 1 for n in range(MESSAGES)})
    with database.session() as db:
        assert set(db.scalars(select(OutboxMessage.status))) == {"sent"}
