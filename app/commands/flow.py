"""``orderflow flow``: validate flow documents and simulate them on an order."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import click

from flow_engine import FlowError, ValidationIssue, compile_flow, simulate, validate_flow

from ..config import DEFAULT_INSTANCE
from ..db import get_db
from ..org import checks
from ..org.directory import build
from ._app import command_app


def _read_json(path: str, what: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read {what} {path}: {exc}") from None


def _show(issue: ValidationIssue, lang: str) -> str:
    where = issue.path + (f" (node {issue.node_id})" if issue.node_id else "")
    message = issue.message_zh if lang == "zh" else issue.message
    return f"{issue.severity}: {issue.code} at {where}: {message}"


def _print_issues(issues: list[ValidationIssue], lang: str, stream: Any) -> int:
    for issue in issues:
        click.echo(_show(issue, lang), file=stream)
    return sum(1 for i in issues if i.severity == "error")


@click.group("flow")
def flow() -> None:
    """Validate flow documents and simulate them on an order."""


@flow.command("validate")
@click.argument("flow_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--order-schema",
    type=click.Path(exists=True, dir_okay=False),
    default=None,
    help="Order JSON Schema to type-check expressions against (default: built-in).",
)
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Print the issues as a JSON list.")
@click.option(
    "--org/--no-org",
    "with_org",
    default=None,
    help="Check the people, business roles and departments the flow names against the "
    "organisation in the configured database (default: when a database is configured).",
)
def validate_command(
    flow_file: str, order_schema: str | None, lang: str, as_json: bool, with_org: bool | None
) -> None:
    """Check FLOW_FILE and print every problem found (exit status 1 on errors)."""
    doc = _read_json(flow_file, "flow")
    schema = _read_json(order_schema, "order schema") if order_schema else None
    issues = validate_flow(doc, schema)
    if with_org is not False and isinstance(doc, dict):
        issues += _org_issues(doc, required=bool(with_org), quiet=as_json)
    errors = sum(1 for i in issues if i.severity == "error")
    if as_json:
        click.echo(json.dumps([i.to_dict() for i in issues], ensure_ascii=False, indent=2))
    else:
        _print_issues(issues, lang, sys.stdout)
        if not errors:
            warnings = len(issues)
            click.echo(f"ok: {flow_file} is valid ({warnings} warning{'s' * (warnings != 1)})")
        else:
            click.echo(f"{errors} error{'s' * (errors != 1)} in {flow_file}")
    if errors:
        sys.exit(1)


def _org_issues(doc: dict[str, Any], *, required: bool, quiet: bool) -> list[ValidationIssue]:
    """The organisation check when a database is configured (DATABASE_URL, or the default
    SQLite file exists); without one it says on stderr that the organisation was not checked
    (not with ``--json``, whose output is the issues alone)."""

    configured = (
        bool(os.environ.get("DATABASE_URL"))
        or (
            Path(os.environ.get("ORDERFLOW_INSTANCE_PATH") or DEFAULT_INSTANCE) / "orderflow.db"
        ).exists()
    )
    if not configured and not required:
        if not quiet:
            click.echo("note: no database configured; people and roles were not checked", err=True)
        return []
    app = command_app()
    try:
        with app.app_context(), get_db(app).session() as db:
            org = build(db)
    except Exception as err:  # unreachable or not migrated: say so, check the rest
        if required:
            raise click.ClickException(f"cannot read the organisation: {err}") from err
        reason = (str(err).strip().splitlines() or [type(err).__name__])[0]
        if not quiet:
            click.echo(f"note: people and roles were not checked: {reason}", err=True)
        return []
    return checks.check_flow(doc, org)


@flow.command("simulate")
@click.argument("flow_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--order",
    "order_file",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help='The order (JSON object, or {"order": {...}}).',
)
@click.option(
    "--events",
    "events_file",
    type=click.Path(exists=True, dir_okay=False),
    help="JSON list of events to apply after the order arrives.",
)
@click.option(
    "--ref",
    "ref_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Reference data: warehouses, carriers, inventory.",
)
@click.option("--now", "now", default=None, help="Clock for the run start (ISO with offset).")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True)
def simulate_command(
    flow_file: str,
    order_file: str,
    events_file: str | None,
    ref_file: str | None,
    now: str | None,
    lang: str,
) -> None:
    """Run FLOW_FILE on one order without side effects and print what happened as JSON."""
    doc = _read_json(flow_file, "flow")
    order = _read_json(order_file, "order")
    if isinstance(order, dict) and isinstance(order.get("order"), dict):
        order = order["order"]
    events = _read_json(events_file, "events") if events_file else []
    ref = _read_json(ref_file, "reference data") if ref_file else None
    if not isinstance(events, list):
        raise click.ClickException("the events file must hold a JSON list")
    issues = validate_flow(doc)
    if _print_issues([i for i in issues if i.severity == "error"], lang, sys.stderr):
        sys.exit(1)
    try:
        report = simulate(compile_flow(doc), order, events=events, now=now, ref=ref)
    except (FlowError, ValueError, KeyError) as exc:
        raise click.ClickException(f"simulation failed: {exc}") from None
    click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))


def register(cli: click.Group) -> None:
    cli.add_command(flow)
