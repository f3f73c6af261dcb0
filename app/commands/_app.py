"""What every command needs: an app for the configured database, and clear errors."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from flask import Flask

from .. import create_app
from ..db import check_connection, get_db
from ..errors import AppError
from ..migrate import current_revision, head_revision
from ..queue import check_queue

F = TypeVar("F", bound=Callable[..., Any])


def friendly_errors(fn: F) -> F:
    """Show domain errors as one clear line instead of a traceback."""

    @functools.wraps(fn)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AppError as err:
            raise click.ClickException(_explained(err)) from err

    return wrapped  # type: ignore[return-value]  # wraps() keeps the signature


def _explained(err: AppError) -> str:
    """The error's message, then each problem on its own line with where it is."""
    lines = [str(err.message)]
    details = err.details if isinstance(err.details, list) else []
    for item in details:
        if isinstance(item, dict):
            lines.append(f"  {item.get('path', '')}: {item.get('message', '')}")
    for name, problem in (getattr(err, "fields", None) or {}).items():
        lines.append(f"  {name}: {problem}")
    return "\n".join(lines)


def command_app() -> Flask:
    """The app for this command; its connections are closed when the command ends."""

    try:
        app = create_app()
    except AppError as err:
        raise click.ClickException(str(err.message)) from err
    click.get_current_context().call_on_close(get_db(app).dispose)
    return app


def ready_app() -> Flask:
    """An app whose database is reachable and migrated to the code's head revision."""

    app = command_app()
    engine = get_db(app).engine
    try:
        check_connection(engine)
    except AppError as err:
        raise click.ClickException(str(err.message)) from err
    current, head = current_revision(engine), head_revision(app.config["DATABASE_URL"])
    if current != head:
        raise click.ClickException(
            f"The database schema is at revision {current or 'none'} but this version of "
            f"OrderFlow needs {head}. Run: orderflow db upgrade"
        )
    _check_queue(app)
    return app


def _check_queue(app: Flask) -> None:
    """Refuse to start when the background queue's storage cannot be reached."""
    from sqlalchemy.engine import make_url

    try:
        check_queue()
    except Exception as err:  # any storage error: the queue is not usable; say why
        url = app.config.get("REDIS_URL")
        where = (
            make_url(url).render_as_string(hide_password=True)
            if url
            else str(Path(app.config["INSTANCE_PATH"]) / "queue.db")
        )
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        raise click.ClickException(
            f"Cannot reach the background queue at {where}: {reason}"
        ) from err
