"""``orderflow db``: schema migrations (Alembic) of the configured database."""

from __future__ import annotations

import click

from ..db import check_connection, get_db
from ..migrate import current_revision, downgrade, head_revision, upgrade
from ._app import command_app, friendly_errors


@click.group()
def db() -> None:
    """Database schema migrations."""


@db.command("upgrade")
@click.argument("revision", default="head")
@friendly_errors
def db_upgrade(revision: str) -> None:
    """Upgrade the schema to REVISION (default: the latest)."""

    app = command_app()
    check_connection(get_db(app).engine)
    upgrade(app.config["DATABASE_URL"], revision)
    click.echo(f"Database at revision {current_revision(get_db(app).engine)}")


@db.command("downgrade")
@click.argument("revision", default="-1")
@friendly_errors
def db_downgrade(revision: str) -> None:
    """Downgrade the schema to REVISION (default: one step back)."""

    app = command_app()
    check_connection(get_db(app).engine)
    downgrade(app.config["DATABASE_URL"], revision)
    click.echo(f"Database at revision {current_revision(get_db(app).engine) or 'none'}")


@db.command("current")
@friendly_errors
def db_current() -> None:
    """Print the schema revision of the database and the latest one."""

    app = command_app()
    check_connection(get_db(app).engine)
    current = current_revision(get_db(app).engine)
    head = head_revision(app.config["DATABASE_URL"])
    state = "up to date" if current == head else "needs 'orderflow db upgrade'"
    click.echo(f"current: {current or 'none'}\nlatest:  {head}\n{state}")


def register(cli: click.Group) -> None:
    cli.add_command(db)
