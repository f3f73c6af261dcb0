"""The OrderFlow web application."""

from __future__ import annotations

import gc
from typing import Any

from flask import Flask

from .config import ROOT, load_config

__all__ = ["create_app"]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    """Build the application; ``config`` overrides the environment (used by tests)."""
    settings = load_config(config)
    app = Flask(
        __name__,
        instance_path=settings["INSTANCE_PATH"],
        static_folder=str(ROOT / "static"),
        static_url_path="/static",
    )
    app.config.update(settings)

    from flask_wtf.csrf import CSRFProtect

    from . import clock, db, errors, i18n, queue, ratelimit, security, tasks, views, wiring
    from .channels import tasks as channel_tasks
    from .chatapps import tasks as chat_tasks
    from .flows import backtest_job
    from .runs import effects, order_events
    from .runs import tasks as run_tasks

    # The modules whose functions the background queue runs, registered on it by import.
    del tasks, channel_tasks, chat_tasks, backtest_job, run_tasks
    wiring.connect()
    effects.require_performers()

    db.init_app(app)
    errors.init_app(app)
    security.init_app(app)
    i18n.init_app(app)
    clock.init_app(app)
    queue.init_app(app)
    order_events.init_app(app)
    csrf = CSRFProtect(app)
    ratelimit.init_app(app)
    views.init_app(app, csrf)
    if not app.testing:
        _freeze_startup_objects()
    return app


def _freeze_startup_objects() -> None:
    """Keep what start-up built (modules, compiled templates, the schema and DSL tables: about
    370,000 objects, all living as long as the process) out of the collector's full passes.
    Unfrozen, every full pass walked them all: about 75 ms stolen from whichever request was
    running, which set the API's p99 latency."""
    gc.collect()
    gc.freeze()
