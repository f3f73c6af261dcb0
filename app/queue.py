"""Background work on Huey: SQLite storage by default, Redis with ``REDIS_URL``.

Tasks are declared on the module-level :data:`huey`; :func:`init_app` points its storage at
the configured backend, so the same task code runs in the embedded consumer of
``orderflow serve`` and in ``orderflow worker`` processes on other machines.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path
from typing import Any

from flask import Flask
from huey import Huey
from huey.consumer import Consumer, ConsumerStopped
from huey.storage import MemoryStorage, SqliteStorage

log = logging.getLogger(__name__)

huey = Huey("orderflow", storage_class=MemoryStorage, utc=True)
_state: dict[str, Flask] = {}


def task_app() -> Flask:
    """The app whose database background tasks use (the one that configured the queue)."""
    try:
        return _state["app"]
    except KeyError:
        raise RuntimeError("the queue is not configured: create_app() was not called") from None


def configure(config: dict[str, Any]) -> Huey:
    """Point :data:`huey` at the storage named by ``config``."""
    name = config["QUEUE_NAME"]
    huey.name = name
    if config.get("REDIS_URL"):
        from huey.storage import RedisStorage

        huey.storage = RedisStorage(name, url=config["REDIS_URL"])
    else:
        path = Path(config["INSTANCE_PATH"]) / "queue.db"
        huey.storage = QueueStorage(name, filename=str(path))
    huey.immediate = bool(config.get("QUEUE_IMMEDIATE"))
    return huey


def check_queue() -> None:
    """Raise if the queue storage cannot be reached."""
    huey.storage.queue_size()


class QueueStorage(SqliteStorage):
    """Huey's SQLite storage with the same durability as OrderFlow's database (WAL with
    synchronous=NORMAL): a commit does not wait for the disk, and a wake-up lost to a power
    cut is recovered by the sweeps, since the database, not the queue, holds the truth."""

    def _create_connection(self) -> sqlite3.Connection:
        conn = super()._create_connection()
        conn.execute("pragma synchronous=1")
        return conn


class EmbeddedConsumer(Consumer):
    """A consumer that runs beside the web server: threads only, no signal handlers."""

    def _set_signal_handlers(self) -> None:  # the web server owns the process signals
        return None


def start_embedded_consumer(workers: int = 2) -> tuple[EmbeddedConsumer, threading.Thread]:
    """Start worker threads and a supervising thread inside this process."""
    consumer = EmbeddedConsumer(huey, workers=workers, worker_type="thread", periodic=True)
    consumer.start()

    def supervise() -> None:
        health = None
        while True:
            try:
                health = consumer.loop(health)
            except ConsumerStopped:
                return

    thread = threading.Thread(target=supervise, name="huey-supervisor", daemon=True)
    thread.start()
    log.info("embedded Huey consumer started with %d worker threads", workers)
    return consumer, thread


def run_worker(workers: int = 2, worker_type: str = "thread") -> None:
    """Run consumers in the foreground until SIGINT/SIGTERM (``orderflow worker``)."""
    consumer = huey.create_consumer(workers=workers, worker_type=worker_type, periodic=True)
    consumer.run()


def init_app(app: Flask) -> None:
    configure(app.config)
    app.extensions["orderflow.queue"] = huey
    _state["app"] = app
