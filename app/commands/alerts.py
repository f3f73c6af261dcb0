"""``orderflow alerts``: list, evaluate, import and export alert rules."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from .. import clock
from ..alerts import exchange, services
from ..db import get_db, in_transaction
from ._app import friendly_errors, ready_app


@click.group("alerts")
def alerts() -> None:
    """Threshold alert rules."""


@alerts.command("list")
@friendly_errors
def alerts_list() -> None:
    """Rules with their kind, severity and last evaluation."""
    with get_db(ready_app()).session() as db:
        counts = services.counts(db)
        for rule in services.list_rules(db):
            last = clock.local(rule.last_evaluated_at, "%Y-%m-%d %H:%M %z", empty="never", db=db)
            state = "on " if rule.enabled else "off"
            click.echo(f"{state} {rule.key:<32} {rule.kind:<9} {rule.severity:<8} last {last}"
                       + (f"  ERROR {rule.last_error}" if rule.last_error else ""))  # fmt: skip
    click.echo(f"alerts: {', '.join(f'{k} {v}' for k, v in sorted(counts.items())) or 'none'}")


class Moment(click.ParamType):
    """An ISO 8601 time with its UTC offset, as ``flow simulate --now`` takes it."""

    name = "time"

    def convert(self, value: Any, param: Any, ctx: Any) -> datetime:
        if isinstance(value, datetime):
            return value
        try:
            moment = datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            moment = None
        if moment is None or moment.tzinfo is None:
            self.fail(
                f"{value!r} is not an ISO 8601 time with an offset; give date, time and "
                "offset, e.g. 2026-12-01T09:00:00+08:00 (or ...Z for UTC)",
                param,
                ctx,
            )
        return moment


@alerts.command("evaluate")
@click.option("--rule", "key", help="Only this rule (default: every enabled rule).")
@click.option(
    "--now",
    "now",
    type=Moment(),
    default=None,
    help="Evaluate as of this time (ISO 8601 with offset, e.g. 2026-12-01T09:00:00+08:00).",
)
@friendly_errors
def alerts_evaluate(key: str | None, now: datetime | None) -> None:
    """Evaluate rules (now, or as of ``--now``) and print what changed."""
    app = ready_app()
    database = get_db(app)
    with app.app_context():
        if key:
            changes = in_transaction(
                database,
                lambda db: services.evaluate_rule(db, services.get_rule(db, key), now=now),
            )
            runs = [services.Evaluation(key, changes, 0)]
        else:
            runs = services.evaluate_due(database, now=now, force=True)
    for run in runs:
        if run.error:
            click.echo(f"{run.key}: failed: {run.error}")
            continue
        c = run.changes or services.lifecycle.Changes()
        click.echo(f"{run.key}: {len(c.opened) + len(c.reopened)} opened, {len(c.updated)} still "
                   f"open, {len(c.resolved)} resolved, {len(c.notified)} notified")  # fmt: skip


@alerts.command("export")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def alerts_export(path: Path) -> None:
    """Write every rule as template-bundle ``alert_rules`` entries (JSON) to PATH."""
    with get_db(ready_app()).session() as db:
        rules = [exchange.export_rule(r) for r in services.list_rules(db)]
    path.write_text(json.dumps(rules, ensure_ascii=False, indent=2), encoding="utf-8")
    click.echo(f"{len(rules)} rules written to {path}")


@alerts.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@friendly_errors
def alerts_import(path: Path) -> None:
    """Create or update rules from a JSON list of ``alert_rules`` entries."""
    specs = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(specs, list):
        raise click.ClickException("the file must hold a JSON list of rules")
    done = in_transaction(
        get_db(ready_app()), lambda db: exchange.import_rules(db, None, specs, source="ui")
    )
    for item in done:
        note = f" (disabled: {'; '.join(item.notes)})" if item.notes else ""
        click.echo(f"{'created' if item.created else 'updated'} {item.rule.key}{note}")


@alerts.command("adopt")
@friendly_errors
def alerts_adopt() -> None:
    """Turn the alert rules imported template bundles keep as data into rules."""
    done = in_transaction(get_db(ready_app()), lambda db: exchange.adopt_kept(db, None))
    for item in done:
        note = f" (disabled: {'; '.join(item.notes)})" if item.notes else ""
        click.echo(f"{item.rule.key} from {item.rule.source}{note}")
    click.echo(f"{len(done)} rules adopted.")


def register(cli: click.Group) -> None:
    cli.add_command(alerts)
