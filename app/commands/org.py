"""``orderflow org``: import and export the organisation as CSV, and check what flows name.

The commands call what the admin page calls (``app.org.csvio``, ``app.org.services``): the
same checks, the same dry-run lines, the same refusals with row numbers.
"""

from __future__ import annotations

import sys
from pathlib import Path

import click
from sqlalchemy.orm import Session

from ..chatapps import orgsync, orgsync_runs
from ..db import get_db, in_transaction
from ..org import csvio
from ..org.usage import check as find_problems
from ..runs.outbox import DeliveryError
from ._app import friendly_errors, ready_app

LANG = click.option(
    "--lang",
    type=click.Choice(["zh", "en"]),
    default="zh",
    show_default=True,
    help="Language of the report.",
)


@click.group("org")
def org_cli() -> None:
    """The organisation: departments, business roles and people (CSV import/export, check)."""


@org_cli.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--dry-run", is_flag=True, help="List every change and change nothing.")
@LANG
@friendly_errors
def import_csv(file: Path, dry_run: bool, lang: str) -> None:
    """Import people rows from FILE (see docs/organisation.md for the columns)."""

    data = file.read_bytes()
    with ready_app().test_request_context(headers={"Accept-Language": lang}):

        def work(db: Session) -> csvio.Plan:
            result = csvio.plan(db, data)
            if result.errors:
                raise csvio.refusal(result)
            if not dry_run:
                csvio.apply(db, result, "cli")
            return result

        if dry_run:
            with get_db().session() as db:
                result = work(db)
                db.rollback()
        else:
            result = in_transaction(get_db(), work)
        for line in result.lines:
            for text in line["changes"]:
                click.echo(text)
        counts = result.counts
        verb = "would be" if dry_run else "were"
        click.echo(
            f"{counts['created']} created, {counts['updated']} updated, "
            f"{counts['unchanged']} unchanged people; {len(result.new_departments)} new and "
            f"{len(result.department_changes)} changed departments {verb} imported"
            + (" (dry run: nothing changed)." if dry_run else ".")
        )


@org_cli.command("export")
@click.argument("file", required=False, type=click.Path(dir_okay=False, path_type=Path))
@friendly_errors
def export_csv(file: Path | None) -> None:
    """Write every person as CSV to FILE (standard output without one)."""

    with ready_app().test_request_context(), get_db().session() as db:
        text = csvio.export(db)
    if file is None:
        sys.stdout.write(text)
    else:
        file.write_text(text, encoding="utf-8")
        click.echo(f"{text.count(chr(10)) - 1} people written to {file}", err=True)


@org_cli.command("check")
@LANG
@friendly_errors
def check(lang: str) -> None:
    """Report roles, users and departments that live flows and drafts name but that cannot
    take a task (exit code 1 when anything is reported)."""

    with ready_app().test_request_context(headers={"Accept-Language": lang}):
        with get_db().session() as db:
            problems = find_problems(db)
        for p in problems:
            click.echo(f"{p['kind']} {p['key']}: {p['message']} ({', '.join(p['flows'])})")
        if problems:
            click.echo(f"{len(problems)} problems found.", err=True)
            sys.exit(1)
        click.echo("Every role, person and department named by the flows can take a task.")


@org_cli.command("sync")
@click.argument("platform")
@click.option("--apply", "write", is_flag=True, help="Apply the changes (default: a dry run).")
@LANG
@friendly_errors
def sync(platform: str, write: bool, lang: str) -> None:
    """Compare the organisation with the address book of the connected PLATFORM app
    (feishu, wecom, dingtalk): departments, people and managers; --apply writes it."""

    with ready_app().test_request_context(headers={"Accept-Language": lang}):
        try:
            result, lines, counts = orgsync_runs.run_and_record(platform, write=write)
        except DeliveryError as err:
            raise click.ClickException(
                f"The {platform} address book could not be read: {err}"
            ) from err
        for line in lines:
            click.echo(f"[{line['kind']}] {line['text']}")
        for match in result.review:
            if match.status == "ambiguous":
                click.echo(f"[review] {match.person.id} {match.person.name}: "
                           f"{', '.join(match.candidates)}")  # fmt: skip
        click.echo(orgsync.summary(counts))
        if write:
            click.echo(f"Applied; {counts.get('handed_over', 0)} open tasks handed over.")
        else:
            click.echo("Dry run: nothing changed (add --apply to write it).")


def register(cli: click.Group) -> None:
    cli.add_command(org_cli)
