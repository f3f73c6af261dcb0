"""Operating on stored data from the shell: flows, orders, runs, reference data, stock."""

from __future__ import annotations

import sys
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any

import click
from sqlalchemy.orm import Session

from ..db import get_db, in_transaction
from ..errors import NotFoundError, ValidationError
from ..flows import backtest
from ..flows import backtest_job as jobs
from ..flows import services as flow_services
from ..inventory import services as stock
from ..jsonbody import parse_json
from ..jsontext import shown
from ..models import Run
from ..orders import intake
from ..reference import services as reference_data
from ..runs import schedule
from ..runs import services as run_services
from ._app import friendly_errors, ready_app
from .flow import flow


def _read(path: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise click.ClickException(f"cannot read {path}: {err}") from err


def _parse(text: str, where: str) -> Any:
    try:
        return parse_json(text)
    except ValidationError as err:
        path = err.details[0]["path"] if err.details else "/"
        raise click.ClickException(f"{where} {path}: {err.message}") from err


def _load_json(path: str) -> Any:
    return _parse(_read(path), path)


def _echo_json(value: Any) -> None:
    click.echo(shown(value))


def _details(err: ValidationError) -> str:
    lines = [str(err.message)]
    for item in err.details or []:
        lines.append(f"  {item.get('path', '')}: {item.get('message', item)}")
    return "\n".join(lines)


# -- flows (added to the `flow` group) ---------------------------------------------------


@click.command("import")
@click.argument("flow_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--publish", "publish_now", is_flag=True, help="Publish it as the next version.")
@click.option("--note", default="", help="Publication note.")
@friendly_errors
def flow_import(flow_file: str, publish_now: bool, note: str) -> None:
    """Create or update a flow's draft from FLOW_FILE (and publish it)."""

    doc = _load_json(flow_file)
    database = get_db(ready_app())
    try:
        flow, version = in_transaction(
            database,
            lambda db: flow_services.import_flow(db, None, doc, publish_now=publish_now, note=note),
        )
    except ValidationError as err:
        raise click.ClickException(_details(err)) from err
    suffix = f", published as version {version.number}" if version else " (draft)"
    click.echo(f"Flow {flow.key} saved{suffix}")


@click.command("publish")
@click.argument("key")
@click.option("--note", default="")
@friendly_errors
def flow_publish(key: str, note: str) -> None:
    """Publish the draft of flow KEY as its next version."""

    database = get_db(ready_app())
    try:
        version = in_transaction(
            database,
            lambda db: flow_services.publish(db, None, flow_services.get_flow(db, key), note=note),
        )
    except ValidationError as err:
        raise click.ClickException(_details(err)) from err
    click.echo(f"Flow {key} version {version.number} is live")


@click.command("list")
@friendly_errors
def flow_list() -> None:
    """List flows with their live version."""

    with get_db(ready_app()).session() as db:
        for f in flow_services.list_flows(db):
            live = f"v{f.published_version}" if f.published_version else "draft only"
            click.echo(f"{f.key:<32} {live:<12} {f.name_zh or f.name_en}")


@click.command("backtest")
@click.argument("key")
@click.option(
    "--draft",
    "draft_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Flow file to test instead of the stored draft.",
)
@click.option(
    "--last",
    default=100,
    show_default=True,
    type=click.IntRange(1, 1_000_000),
    help="How many recent orders (above 10000 it runs as a background job).",
)
@click.option("--job", "as_job", is_flag=True, help="Run as a background job and follow it.")
@click.option(
    "--here", is_flag=True, help="With --job: run the job in this process instead of a worker."
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@friendly_errors
def flow_backtest(
    key: str, draft_file: str | None, last: int, as_job: bool, here: bool, as_json: bool
) -> None:
    """Compare the draft of flow KEY with its live version over the last stored orders."""

    draft = _load_json(draft_file) if draft_file else None
    if as_job or last > backtest.MAX_ORDERS:
        _backtest_job(key, draft, last, here, as_json)
        return
    with get_db(ready_app()).session() as db:
        flow = flow_services.get_flow(db, key)
        with click.progressbar(length=last, label="Backtesting", file=sys.stderr) as bar:
            try:
                report = backtest.backtest(
                    db, flow, draft, last=last, progress=lambda _n: bar.update(1)
                )
            except ValidationError as err:
                raise click.ClickException(_details(err)) from err
    if as_json:
        _echo_json(report.to_dict())
        return
    counts = ", ".join(f"{kind} {n}" for kind, n in report.counts.items())
    click.echo(f"{report.orders} orders, {report.changed} change: {counts}")
    for d in report.diffs[:50]:
        before = d.published.outcome or d.published.status or "not triggered"
        after = d.draft.outcome or d.draft.status or "not triggered"
        click.echo(f"  {d.channel}/{d.external_id}: {', '.join(d.changes)}  ({before} -> {after})")


def _backtest_job(key: str, draft: Any, last: int, here: bool, as_json: bool) -> None:
    """Start a backtest job, follow its progress bar; Ctrl-C asks it to stop."""
    import threading
    import time

    database = get_db(ready_app())

    def create(db: Any) -> int:
        job = jobs.start(db, flow_services.get_flow(db, key), draft, last=last, user_id=None)
        return job.id

    try:
        job_id = in_transaction(database, create)
    except ValidationError as err:
        raise click.ClickException(_details(err)) from err
    click.echo(f"Backtest job {job_id}", err=True)
    if here:
        threading.Thread(target=jobs.run_job_now, args=(database, job_id), daemon=True).start()
    else:
        jobs.run_job(job_id)
    shown = 0
    try:
        with click.progressbar(length=last, label="Backtesting", file=sys.stderr) as bar:
            while True:
                with database.session() as db:
                    job = jobs.job_dict(jobs.get_job(db, job_id))
                bar.length = max(job["total"], 1)
                bar.update(job["done"] - shown)
                shown = job["done"]
                if job["status"] not in jobs.ACTIVE:
                    break
                time.sleep(0.5)
    except KeyboardInterrupt:
        in_transaction(database, lambda db: jobs.cancel(db, jobs.get_job(db, job_id)))
        raise click.ClickException(f"Backtest job {job_id}: cancel requested.") from None
    if as_json:
        _echo_json(job)
        return
    summary = job["summary"]
    counts = ", ".join(f"{kind} {n}" for kind, n in summary["counts"].items())
    click.echo(
        f"{job['status']}: {summary['orders']} orders, {summary['changed']} change: {counts}"
    )
    for w in summary["workload"][:20]:
        click.echo(f"  {w['kind']} {w['who']}: {w['before']} -> {w['after']} approvals")
    if job["error"]:
        raise click.ClickException(job["error"])


@click.command("schedule-tick")
@click.option(
    "--now",
    "now",
    default=None,
    help="The tick's time, ISO 8601 with offset, e.g. 2026-12-07T09:00+08:00 (default: now).",
)
@friendly_errors
def flow_schedule_tick(now: str | None) -> None:
    """Start the runs of schedule-triggered flows due at NOW's minute (as the minute task
    does), and print which flows were due and how many runs started."""

    moment = _aware(now) if now else None
    report = in_transaction(get_db(ready_app()), lambda db: schedule.tick(db, moment))
    _echo_json({"at": report.at, "due": list(report.due), "started": report.started})


def _aware(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise click.BadParameter(
            f"{text!r} is not a time with an offset; write e.g. 2026-12-07T09:00+08:00 "
            "(时间需带时区偏移，例如 2026-12-07T09:00+08:00)",
            param_hint="--now",
        )
    return moment


# -- orders ------------------------------------------------------------------------------


@click.group()
def order() -> None:
    """Orders."""


@order.command("ingest")
@click.argument("order_file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--batch",
    default=100,
    show_default=True,
    type=click.IntRange(1, 500),
    help="Orders per transaction; a batch with an invalid order stores none of its orders.",
)
@friendly_errors
def order_ingest(order_file: str, batch: int) -> None:
    """Store the order(s) in ORDER_FILE and run their flows.

    ORDER_FILE holds one order, a list of orders, or one order per line (JSON Lines).
    """

    docs = _load_orders(order_file)
    database = get_db(ready_app())
    stored = seen = 0
    for start in range(0, len(docs), batch):
        chunk = docs[start : start + batch]
        try:
            received = in_transaction(database, partial(intake.receive_many, docs=chunk))
        except ValidationError as err:
            first, last = start + 1, start + len(chunk)
            done = f"{stored + seen} orders before it were stored" if start else "nothing stored"
            problems = [str(err.message)]
            for item in err.details or []:
                index, _, rest = str(item.get("path", "")).removeprefix("/orders/").partition("/")
                where = f"order {start + int(index) + 1}" if index.isdigit() else "batch"
                # The message names the field and gives an accepted example.
                problems.append(f"  {where} /{rest}: {item.get('message', item)}")
            raise click.ClickException(
                f"orders {first}-{last} refused ({done}): " + "\n".join(problems)
            ) from err
        for r in received:
            state = (
                ", ".join(
                    f"run {run.id} {run.status}{' ' + run.outcome if run.outcome else ''}"
                    for run in r.runs
                )
                or "no flow started"
            )
            word = "stored" if r.created else "seen before"
            click.echo(
                f"order {r.order.id} {r.order.channel}/{r.order.external_id}: {word}; {state}"
            )
            stored, seen = stored + r.created, seen + (not r.created)
    click.echo(f"{stored} stored, {seen} seen before")


def _load_orders(path: str) -> list[Any]:
    text = _read(path)
    body = text.strip()
    if body.startswith("{") and "\n{" in body:  # JSON Lines: one order per line
        return [
            _parse(line, f"{path} line {number}")
            for number, line in enumerate(text.splitlines(), start=1)
            if line.strip()
        ]
    data = _parse(text, path)
    return data if isinstance(data, list) else [data]


# -- runs --------------------------------------------------------------------------------


@click.group()
def run() -> None:
    """Runs of orders through flows."""


@run.command("show")
@click.argument("run_id", type=int)
@friendly_errors
def run_show(run_id: int) -> None:
    """Print a run's state and its audit trail."""

    with get_db(ready_app()).session() as db:
        r = db.get(Run, run_id)
        if r is None:
            raise NotFoundError(f"Run {run_id} does not exist.")
        click.echo(
            f"run {r.id}  order {r.order_id}  status {r.status}  outcome {r.outcome or '-'}  at {', '.join(r.current_nodes) or '-'}"
        )
        if r.incident:
            click.echo(f"incident at {r.incident['node_id']}: {r.incident['message']}")
        for e in run_services.timeline(db, run_id):
            who = f" by {e.actor}" if e.actor else ""
            branch = f" -> {e.branch}" if e.branch else ""
            click.echo(
                f"  {e.seq:>3} {e.at:%Y-%m-%d %H:%M:%S} {e.kind:<16} {e.node_id or '':<16}{branch}{who}"
            )


@run.command("retry")
@click.argument("run_id", type=int)
@click.option(
    "--order",
    "order_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Corrected order data.",
)
@friendly_errors
def run_retry(run_id: int, order_file: str | None) -> None:
    """Resume a run that stopped in an incident."""

    order_doc = _load_json(order_file) if order_file else None
    outcome = in_transaction(
        get_db(ready_app()), lambda db: run_services.retry(db, run_id, actor="cli", order=order_doc)
    )
    r = outcome.run
    click.echo(f"run {r.id}: {r.status}{' ' + r.outcome if r.outcome else ''}")


# -- reference data and stock ------------------------------------------------------------


@click.group()
def reference() -> None:
    """Reference tables (warehouses, carriers, customers ...)."""


@reference.command("import")
@click.argument("table")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--key", "key_field", default="id", show_default=True, help="Key column.")
@click.option("--merge", is_flag=True, help="Keep rows missing from the file (default: replace).")
@click.option(
    "--type",
    "types",
    multiple=True,
    metavar="COLUMN:TYPE",
    help="Column type (string, number, integer, boolean, list with | between items); repeatable.",
)
@friendly_errors
def reference_import(
    table: str, csv_file: str, key_field: str, merge: bool, types: tuple[str, ...]
) -> None:
    """Load CSV_FILE into reference TABLE (created if missing)."""

    text = Path(csv_file).read_text(encoding="utf-8-sig")
    columns = []
    for spec in types:
        name, _, kind = spec.partition(":")
        if not name or not kind:
            raise click.BadParameter(f"{spec!r}: use COLUMN:TYPE", param_hint="--type")
        columns.append({"name": name, "type": kind})

    def work(db: Session) -> int:
        t = reference_data.ensure_table(db, table, key_field=key_field, columns=columns)
        return reference_data.import_csv(db, t, text, replace=not merge)

    try:
        count = in_transaction(get_db(ready_app()), work)
    except ValidationError as err:
        raise click.ClickException(_details(err)) from err
    click.echo(f"{table}: {count} rows")


@click.group()
def inventory() -> None:
    """Stock per SKU and warehouse."""


@inventory.command("set")
@click.argument("sku")
@click.argument("warehouse")
@click.argument("on_hand", type=click.IntRange(0))
@friendly_errors
def inventory_set(sku: str, warehouse: str, on_hand: int) -> None:
    """Set the physical stock of SKU in WAREHOUSE."""

    item = in_transaction(
        get_db(ready_app()), lambda db: stock.set_stock(db, sku, warehouse, on_hand)
    )
    click.echo(f"{sku} @ {warehouse}: on hand {item.on_hand}, reserved {item.reserved}")


def register(cli: click.Group) -> None:
    for command in (flow_import, flow_publish, flow_list, flow_backtest, flow_schedule_tick):
        flow.add_command(command)
    for group in (order, run, reference, inventory):
        cli.add_command(group)
