"""The ``orderflow`` command line."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING

import click

from .approvals import handover
from .commands import alerts, calendar, integrations, metrics, ops, org, users
from .commands._app import command_app, friendly_errors, ready_app
from .commands.dsl import dsl
from .commands.flow import flow
from .commands.templates import templates
from .config import ROLES
from .db import check_connection, get_db, get_session, in_transaction
from .errors import AppError
from .migrate import current_revision, downgrade, head_revision, upgrade
from .models import User
from .org.demo import load_demo_org
from .queue import run_worker, start_embedded_consumer
from .runs.tasks import recover
from .templates_admin.demo import load_demo
from .users import services

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

log = logging.getLogger(__name__)

DEMO_USERS = (
    # username, password, roles, display name
    ("admin", "orderflow-admin", ("admin",), "系统管理员"),
    ("supervisor", "orderflow-supervisor", ("supervisor",), "流程主管 王敏"),
    ("approver", "orderflow-approver", ("approver",), "财务审批 李强"),
    ("viewer", "orderflow-viewer", ("viewer",), "运营查看 张丽"),
)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """OrderFlow: rule and flow configurator for order operations."""


# -- serve / worker ----------------------------------------------------------------------


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--workers",
    "queue_workers",
    default=2,
    show_default=True,
    type=click.IntRange(0, 16),
    help="Background worker threads in this process (0: run them with 'orderflow worker').",
)
def serve(host: str, port: int, threads: int, queue_workers: int) -> None:
    """Run the web server (waitress) with an embedded background worker."""
    from waitress.server import create_server

    # Embedded mode answers the demo's webhooks itself (ORDERFLOW_DEMO_RECEIVER=0: not).
    os.environ.setdefault("ORDERFLOW_DEMO_RECEIVER", "1")
    app = ready_app()
    # Listen before the worker starts: deliveries to this server (the demo receiver) that
    # came due while nothing ran then wait in the backlog instead of being refused.
    server = create_server(app, host=host, port=port, threads=threads, ident="OrderFlow")
    consumer = start_embedded_consumer(queue_workers)[0] if queue_workers else None
    if consumer is not None:
        recover()  # catch up on timers and deliveries that came due while nothing ran
    click.echo(f"OrderFlow is running at http://{host}:{port}/  (Ctrl+C to stop)")
    try:
        server.run()
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)


@cli.command()
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--type",
    "worker_type",
    default="thread",
    show_default=True,
    type=click.Choice(["thread", "process"]),
)
def worker(workers: int, worker_type: str) -> None:
    """Run background workers only (scale-out mode; start as many as you need)."""

    ready_app()
    recover()
    click.echo(f"OrderFlow worker started with {workers} {worker_type} workers")
    run_worker(workers=workers, worker_type=worker_type)


# -- db ----------------------------------------------------------------------------------


@cli.group()
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


# -- users -------------------------------------------------------------------------------


@cli.group()
def user() -> None:
    """Users and roles."""


@user.command("create")
@click.argument("username")
@click.option("--role", "roles", multiple=True, required=True, type=click.Choice(ROLES))
@click.option(
    "--password",
    envvar="ORDERFLOW_PASSWORD",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
    help="The password (else read from ORDERFLOW_PASSWORD or asked for).",
)
@click.option("--display-name", default="")
@click.option("--email", default=None)
@click.option("--locale", type=click.Choice(["zh", "en"]), default=None)
@friendly_errors
def user_create(
    username: str,
    roles: tuple[str, ...],
    password: str,
    display_name: str,
    email: str | None,
    locale: str | None,
) -> None:
    """Create a user with one or more roles."""

    def work(db: Session) -> str:
        created = services.create_user(
            db,
            None,
            username=username,
            password=password,
            roles=roles,
            display_name=display_name,
            email=email,
            locale=locale,
        )
        return f"Created user {created.username} with roles {', '.join(sorted(created.role_names))}"

    with ready_app().app_context():
        click.echo(in_transaction(get_db(), work))


@user.command("list")
@friendly_errors
def user_list() -> None:
    """List users with their roles."""

    with ready_app().app_context():
        for u in services.list_users(get_session()):
            state = "" if u.is_active else "  (inactive)"
            click.echo(
                f"{u.username:<24} {','.join(sorted(u.role_names)):<30} {u.display_name}{state}"
            )


@user.command("set-role")
@click.argument("username")
@click.argument("roles", nargs=-1, required=True, type=click.Choice(ROLES))
@friendly_errors
def user_set_role(username: str, roles: tuple[str, ...]) -> None:
    """Replace the roles of USERNAME with ROLES."""

    def work(db: Session) -> str:
        target = services.set_roles(db, None, services.get_user(db, username), roles)
        return f"{target.username}: {', '.join(sorted(target.role_names))}"

    with ready_app().app_context():
        click.echo(in_transaction(get_db(), work))


@user.command("deactivate")
@click.argument("username")
@friendly_errors
def user_deactivate(username: str) -> None:
    """Deactivate USERNAME: end their sessions and hand on their open approval tasks (to
    their delegate, else their manager, else the node's fallback person)."""

    def work(db: Session) -> str:
        target = services.get_user(db, username)
        handed = handover.set_active(db, None, target, False)
        lines = [f"{target.username}: deactivated / 已停用"]
        for h in handed:
            if h.to:
                lines.append(f"  {h.task_key} -> {h.to} ({h.reason})")
            else:
                lines.append(
                    f"  {h.task_key}: no one to take it, admins alerted / 无人接手，已告警管理员"
                )
        return "\n".join(lines)

    with ready_app().app_context():
        click.echo(in_transaction(get_db(), work))


@user.command("set-password")
@click.argument("username")
@click.option(
    "--password",
    envvar="ORDERFLOW_PASSWORD",
    prompt=True,
    hide_input=True,
    confirmation_prompt=True,
)
@friendly_errors
def user_set_password(username: str, password: str) -> None:
    """Set a new password for USERNAME (logs out their sessions)."""

    def work(db: Session) -> None:
        services.set_password(db, None, services.get_user(db, username), password)

    with ready_app().app_context():
        in_transaction(get_db(), work)
        click.echo(f"Password of {username} changed")


# -- demo --------------------------------------------------------------------------------


@cli.command()
@click.option("--no-templates", is_flag=True, help="Only the demo users.")
@friendly_errors
def demo(no_templates: bool) -> None:
    """Load demo users, industry templates and their sample orders (for trying OrderFlow).

    Running it again changes nothing: existing users, unchanged templates and orders
    already received are left as they are.
    """
    from sqlalchemy import select

    def work(db: Session) -> list[str]:
        lines = []
        for username, password, roles, display in DEMO_USERS:
            exists = db.scalars(select(User.id).where(User.username == username)).first()
            if exists is None:
                services.create_user(
                    db, None, username=username, password=password, roles=roles,
                    display_name=display,
                )  # fmt: skip
                lines.append(f"  {username:<11} {password:<22} {', '.join(roles)}")
            else:
                lines.append(f"  {username:<11} {'(exists, unchanged)':<22} {', '.join(roles)}")
        # The organisation the demo's approvals resolve against (finance, warehouse leads...).
        return lines + load_demo_org(db)

    app = ready_app()
    with app.app_context():
        lines = in_transaction(get_db(), work)
        click.echo("Demo users (username, password, role):")
        click.echo("\n".join(lines))
    if not no_templates:
        for line in load_demo(app, receiver_base=_served_at()):
            click.echo(line)


def _served_at() -> str:
    """Where ``orderflow serve`` will answer, from the HOST and PORT that scripts/run.sh
    gives both commands (a wildcard address is reached on loopback)."""
    host = os.environ.get("HOST") or "127.0.0.1"
    host = "127.0.0.1" if host in ("0.0.0.0", "::", "*") else host  # noqa: S104 (compared, not bound)
    return f"http://{host}:{os.environ.get('PORT') or 5000}"


def _register_commands() -> None:

    cli.add_command(dsl)
    cli.add_command(flow)
    cli.add_command(templates)
    ops.register(cli, flow)
    for group in (integrations, calendar, alerts, metrics, users, org):
        group.register(cli)


_register_commands()


def main() -> None:
    """Entry point of the ``orderflow`` script."""
    long_running = len(sys.argv) > 1 and sys.argv[1] in {"serve", "worker"}
    level = os.environ.get("ORDERFLOW_LOG_LEVEL") or ("INFO" if long_running else "WARNING")
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if level == "INFO":  # the queue and migrations log every step; keep that for DEBUG
        for noisy in ("huey", "alembic"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        cli(prog_name="orderflow")
    except AppError as err:  # configuration errors raised before a command ran
        click.echo(f"Error: {err.message}", err=True)
        sys.exit(1)
