"""The ``orderflow`` command line: each command group lives in a module of ``app/commands/``
and registers itself here."""

from __future__ import annotations

import logging
import os
import sys

import click

from .commands import (
    alerts,
    api_keys,
    calendar,
    database,
    demo,
    dsl,
    flow,
    integrations,
    metrics,
    ops,
    org,
    server,
    templates,
    users,
)
from .errors import AppError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def cli() -> None:
    """OrderFlow: rule and flow configurator for order operations."""


for _module in (server, database, users, api_keys, demo, dsl, flow, ops, templates,
                integrations, calendar, alerts, metrics, org):  # fmt: skip
    _module.register(cli)


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
