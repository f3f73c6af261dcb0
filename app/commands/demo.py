"""``orderflow demo``: the demo users, organisation, industry templates and sample orders."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import click
from sqlalchemy import select

from ..bundles.demo import load_demo
from ..db import get_db, in_transaction
from ..models import User
from ..org.demo import load_demo_org
from ..users import services
from ._app import friendly_errors, ready_app

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

DEMO_USERS = (
    # username, password, roles, display name
    ("admin", "orderflow-admin", ("admin",), "系统管理员"),
    ("supervisor", "orderflow-supervisor", ("supervisor",), "流程主管 王敏"),
    ("approver", "orderflow-approver", ("approver",), "财务审批 李强"),
    ("viewer", "orderflow-viewer", ("viewer",), "运营查看 张丽"),
)


@click.command()
@click.option("--no-templates", is_flag=True, help="Only the demo users.")
@friendly_errors
def demo(no_templates: bool) -> None:
    """Load demo users, industry templates and their sample orders (for trying OrderFlow).

    Running it again changes nothing: existing users, unchanged templates and orders
    already received are left as they are.
    """

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


def register(cli: click.Group) -> None:
    cli.add_command(demo)
