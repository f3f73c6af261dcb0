"""``orderflow calendar``: the business calendar from the command line."""

from __future__ import annotations

import click

from ..calendar import services
from ..db import get_db, get_session, in_transaction
from ._app import friendly_errors, ready_app


@click.group("calendar")
def calendar_cli() -> None:
    """Business calendar (working hours, holidays, make-up working days) for SLAs."""


@calendar_cli.command("seed")
@click.argument("years", nargs=-1, type=int, required=True)
@friendly_errors
def seed(years: tuple[int, ...]) -> None:
    """Load the statutory holidays and make-up working days of YEARS (chinese-calendar)."""

    with ready_app().test_request_context():
        counts = in_transaction(
            get_db(), lambda db: [services.seed_statutory(db, y) for y in years]
        )
        for year, count in zip(years, counts, strict=True):
            click.echo(f"{year}: {count} days loaded")


@calendar_cli.command("show")
@click.option("--year", type=int, default=None, help="Only this year's special days.")
@friendly_errors
def show(year: int | None) -> None:
    """Print the working time and the special days."""

    with ready_app().test_request_context():
        db = get_session()
        settings = services.settings(db)
        weekdays = ",".join(str(d) for d in settings["weekdays"])
        hours = " ".join(settings["hours"])
        click.echo(f"time zone {settings['timezone']}, weekdays {weekdays}, hours {hours}")
        for day in services.special_days(db, year):
            click.echo(f"{day['date']}  {day['type']:<8} {day.get('name', '')}")


def register(cli: click.Group) -> None:
    cli.add_command(calendar_cli)
