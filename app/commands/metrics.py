"""``orderflow metrics`` and ``orderflow costs``: refresh the figures, rebuild costs."""

from __future__ import annotations

from datetime import timedelta

import click

from ..clock import zone
from ..costs import services
from ..costs.services import orders_since
from ..db import get_db, in_transaction
from ..metrics.refresh import rebuild_orders, refresh
from ..metrics.rollups import rebuild_daily
from ..models import utcnow
from ._app import friendly_errors, ready_app


@click.group("metrics")
def metrics() -> None:
    """Operational figures (dashboard, alerts, /metrics)."""


@metrics.command("refresh")
@click.option("--budget", default=600.0, show_default=True, help="Stop after this many seconds.")
@friendly_errors
def metrics_refresh(budget: float) -> None:
    """Read new run events, status reports and orders into the figures now."""

    app = ready_app()
    with app.app_context():
        report = refresh(get_db(app), budget=budget)
    click.echo(
        f"{report.events} run events, {report.status_events} status reports, {report.orders} new "
        f"orders; {report.rebuilt} orders rebuilt in {report.seconds:.1f} s"
        + ("" if report.caught_up else " (not caught up yet: run it again)")
    )


@metrics.command("rebuild-daily")
@friendly_errors
def metrics_rebuild_daily() -> None:
    """Recompute the daily rollups from the hourly ones (after changing ORDERFLOW_TIMEZONE)."""

    app = ready_app()
    with app.app_context():
        rows = in_transaction(get_db(app), lambda db: rebuild_daily(db, zone()))
    click.echo(f"{rows} daily rows written for the days of {zone()}.")


@click.group("costs")
def costs() -> None:
    """Cost drivers and order types."""


@costs.command("defaults")
@friendly_errors
def costs_defaults() -> None:
    """Add the usual cost drivers and order types when there are none."""

    added = in_transaction(get_db(ready_app()), lambda db: services.ensure_defaults(db))
    click.echo(f"{added} drivers and order types added.")


@costs.command("recalculate")
@click.option("--days", default=30, show_default=True, type=click.IntRange(1, 400))
@friendly_errors
def costs_recalculate(days: int) -> None:
    """Rebuild the cost and facts of the orders placed in the last DAYS days."""

    app = ready_app()
    database = get_db(app)
    with app.app_context():
        with database.session() as db:
            ids = orders_since(db, utcnow() - timedelta(days=days))
        with click.progressbar(length=len(ids), label="Rebuilding") as bar:
            for start in range(0, len(ids), 5000):
                part = ids[start : start + 5000]
                rebuild_orders(database, part)
                bar.update(len(part))
    click.echo(f"{len(ids)} orders rebuilt.")


def register(cli: click.Group) -> None:
    cli.add_command(metrics)
    cli.add_command(costs)
