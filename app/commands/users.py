"""``orderflow user``: users, their roles, passwords and deactivation (with the hand-over of
their open approval tasks), as on the admin pages."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from ..approvals import handover
from ..config import ROLES
from ..db import get_db, get_session, in_transaction
from ..users import services
from ._app import friendly_errors, ready_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@click.group()
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


def register(cli: click.Group) -> None:
    cli.add_command(user)
