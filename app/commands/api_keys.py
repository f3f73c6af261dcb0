"""``orderflow api-key``: API keys made on the server, for integrators without the web page.

The commands call the same operations as the admin page (``services.create_api_key`` and
``services.revoke_api_key``): the same scopes, checks and log lines.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import click

from ..clock import zone
from ..db import get_session
from ..models import ApiKey, utcnow
from ..security import API_KEY_RECHECK_SECONDS, API_SCOPES
from ..users import services
from ._app import friendly_errors, ready_app

DAYS_RE = re.compile(r"^(\d{1,5})d$")


class Expiry(click.ParamType):
    """When a key stops working: ``90d``, a date (the key works through that day, in the
    company's time zone) or a time (with an offset, else in the company's time zone)."""

    name = "expiry"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        text = str(value).strip()
        moment = self._parse(text)
        if moment is None:
            self.fail(
                f"{text!r} is not an expiry. Give a number of days (90d), a date "
                "(2027-06-30: the key works through that day, company time zone) or a time "
                "(2027-06-30T18:00+08:00).",
                param,
                ctx,
            )
        if moment <= utcnow():
            self.fail(f"{text!r} is in the past; give a later expiry.", param, ctx)
        return moment

    @staticmethod
    def _parse(text: str) -> datetime | None:
        days = DAYS_RE.match(text)
        try:
            if days:
                return utcnow() + timedelta(days=int(days.group(1)))
            if len(text) == 10:
                day = date.fromisoformat(text)
                return datetime.combine(day + timedelta(days=1), time(), tzinfo=zone())
            moment = datetime.fromisoformat(text)
            # Stored in UTC: a time that cannot be (past year 9999 there) is no expiry.
            return (moment if moment.tzinfo else moment.replace(tzinfo=zone())).astimezone(UTC)
        except (ValueError, OverflowError):
            return None


def _when(moment: datetime | None, never: str = "-") -> str:
    return moment.astimezone(zone()).strftime("%Y-%m-%d %H:%M %z") if moment else never


def _state(key: ApiKey) -> str:
    if key.revoked_at is not None:
        return f"revoked {_when(key.revoked_at)}"
    if key.expires_at is not None and key.expires_at <= utcnow():
        return "expired"
    return "active"


@click.group("api-key")
def api_key() -> None:
    """API keys for the REST API (the same keys as the admin page's)."""


@api_key.command("create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(API_SCOPES),
    help="A scope the key carries; repeat for several.",
)
@click.option(
    "--expires",
    type=Expiry(),
    default=None,
    help="90d, 2027-06-30 (works through that day) or 2027-06-30T18:00+08:00. Default: never.",
)
@click.option("--owner", default=None, help="The user the key acts as (approvals:write needs one).")
@friendly_errors
def create(name: str, scopes: tuple[str, ...], expires: datetime | None, owner: str | None) -> None:
    """Create an API key called NAME and print it (shown only once)."""
    with ready_app().app_context():
        db = get_session()
        actor = services.get_user(db, owner) if owner else None
        key, plaintext = services.create_api_key(
            db, actor, name=name, scopes=scopes, expires_at=expires
        )
        click.echo(
            f"Created API key {key.prefix} ({key.name}): scopes {', '.join(key.scopes)}; "
            f"expires {_when(key.expires_at, 'never')}; owner {owner or 'none'}."
        )
        click.echo("The key, shown only once (store it now; only its hash is kept):")
        click.echo(plaintext)


@api_key.command("list")
@friendly_errors
def list_keys() -> None:
    """List API keys: prefix, name, scopes, expiry, last use and state (never the secret)."""
    with ready_app().app_context():
        click.echo(f"{'PREFIX':<9} {'NAME':<24} {'SCOPES':<40} {'EXPIRES':<23} "
                   f"{'LAST USED':<23} STATE")  # fmt: skip
        for key in services.list_api_keys(get_session()):
            click.echo(
                f"{key.prefix:<9} {key.name:<24} {','.join(key.scopes):<40} "
                f"{_when(key.expires_at, 'never'):<23} {_when(key.last_used_at):<23} {_state(key)}"
            )


@api_key.command("revoke")
@click.argument("key_ref", metavar="PREFIX_OR_ID")
@friendly_errors
def revoke(key_ref: str) -> None:
    """Revoke the API key with PREFIX_OR_ID (as ``list`` shows them)."""
    with ready_app().app_context():
        db = get_session()
        found = services.find_api_key(db, key_ref)
        already = found.revoked_at is not None
        key = services.revoke_api_key(db, None, found.id)
        if already:
            click.echo(f"API key {key.prefix} ({key.name}) was already revoked.")
            return
        click.echo(
            f"API key {key.prefix} ({key.name}) revoked. Running servers refuse it within "
            f"{API_KEY_RECHECK_SECONDS:.0f} seconds."
        )


def register(cli: click.Group) -> None:
    cli.add_command(api_key)
