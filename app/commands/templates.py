"""``orderflow templates``: list, show, import and export industry template bundles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ..bundles import export, samples, services
from ..bundles.gallery import search
from ..db import get_db, in_transaction
from ..errors import ValidationError
from ..jsontext import shown
from ._app import friendly_errors, ready_app


@click.group()
def templates() -> None:
    """Industry template bundles: flows, tables, rules and sample orders."""


def _bundle(ref: str) -> Any:
    from templates_lib import load_dir

    path = Path(ref)
    if path.suffix == ".zip" and path.is_file():
        return services.read_upload(path.read_bytes()), "upload"
    if path.is_dir() and (path / "manifest.json").is_file():
        from templates_lib import BundleError

        try:
            return load_dir(path), "upload"
        except BundleError as err:
            raise ValidationError(services.bundle_error(err).message, details=[]) from err
    return services.get_builtin(ref), "builtin"


def _refused(err: ValidationError) -> str:
    lines = [str(err.message)]
    details = err.details
    if isinstance(details, list):
        for p in details[:50]:
            where = f"{p.get('file', '')} {p.get('path', '')}".strip()
            lines.append(f"  {where}: {p.get('message', p)}")
    return "\n".join(lines)


@templates.command("list")
@click.option("--industry", default=None, help="Only bundles for this industry.")
@click.option("--search", "query", default="", help="Words, Chinese or pinyin initials.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def list_cmd(industry: str | None, query: str, as_json: bool) -> None:
    """List the shipped bundles."""

    found = search(query, industry)
    if as_json:
        rows = [{"id": b.id, "version": b.version, "name": b.name, "industries": list(b.industries),
                 "stats": b.stats} for b in found]  # fmt: skip
        click.echo(shown(rows))
        return
    for b in found:
        s = b.stats
        click.echo(
            f"{b.id:<34} {b.version:<7} {b.name['zh']} / {b.name['en']}  "
            f"({s['flows']} flows, {s['rules']} rules, {s['samples']} samples)"
        )


@templates.command("show")
@click.argument("bundle_id")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest as JSON.")
@friendly_errors
def show_cmd(bundle_id: str, as_json: bool) -> None:
    """Show what BUNDLE_ID (an id, a folder or a zip) contains."""
    bundle, _ = _bundle(bundle_id)
    if as_json:
        click.echo(shown(bundle.manifest))
        return
    click.echo(f"{bundle.name['zh']} / {bundle.name['en']}  ({bundle.id} {bundle.version})")
    click.echo(bundle.description["en"])
    click.echo("Flows:")
    for doc in bundle.flows:
        click.echo(f"  {doc['key']:<32} {doc['name']['zh']} ({len(doc['nodes'])} nodes)")
    for table in bundle.tables:
        click.echo(f"Table {table.name}: {len(table.rows)} rows")
    if bundle.stock:
        click.echo(f"Stock: {len(bundle.stock)} warehouse/SKU levels")
    for field in bundle.custom_fields:
        click.echo(f"Custom field {field['name']} ({field['type']}): {field['label']['zh']}")
    for rule in bundle.alert_rules:
        click.echo(f"Alert rule {rule['key']}: {rule['name']['zh']}")
    for name, spec in bundle.parameters.items():
        click.echo(f"Parameter {name} = {spec['default']}  ({spec['label']['en']})")
    click.echo(f"Sample orders: {len(bundle.samples)}")


@templates.command("import")
@click.argument("bundle_id")
@click.option("--param", "params", multiple=True, help="NAME=VALUE for a bundle parameter.")
@click.option(
    "--on-conflict",
    "policy",
    type=click.Choice(["rename", "overwrite", "skip"]),
    default="rename",
    show_default=True,
)
@click.option("--publish", is_flag=True, help="Publish the flows (default: drafts).")
@click.option("--create-fields", is_flag=True, help="Create missing custom order fields.")
@click.option("--allow-hosts", is_flag=True, help="Add the webhook hosts to the allowlist.")
@click.option("--samples", "with_samples", is_flag=True, help="Also feed the sample orders.")
@click.option("--dry-run", is_flag=True, help="Only show what would happen.")
@click.option(
    "--map",
    "mapping",
    multiple=True,
    help="KIND:KEY=YOURS maps a person, business role or department the flows name to one of "
    "yours (role:finance=cw); role:KEY=new creates the business role with the bundle's names.",
)
@friendly_errors
def import_cmd(
    bundle_id: str,
    params: tuple[str, ...],
    policy: str,
    publish: bool,
    create_fields: bool,
    allow_hosts: bool,
    with_samples: bool,
    dry_run: bool,
    mapping: tuple[str, ...],
) -> None:
    """Import BUNDLE_ID (a shipped id, a bundle folder or a zip), all or nothing."""

    values = {}
    for item in params:
        name, sep, value = item.partition("=")
        if not sep:
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        values[name.strip()] = value.strip()
    people = {}
    for item in mapping:
        ref, sep, target = item.partition("=")
        if not sep or ref.partition(":")[0] not in ("role", "user", "department"):
            raise click.BadParameter(
                f"{item!r} is not KIND:KEY=YOURS, e.g. role:finance=cw", param_hint="--map"
            )
        people[ref.strip()] = target.strip()
    bundle, source = _bundle(bundle_id)
    options: dict[str, Any] = dict(params=values, policy=policy, publish=publish, create_fields=create_fields,
                   allow_hosts=allow_hosts, people=people)  # fmt: skip
    database = get_db(ready_app())
    if dry_run:
        with database.session() as db:
            plan = services.dry_run(db, bundle, **options)
        _print_plan(plan.to_dict())
        if not plan.ok:
            raise click.ClickException("the import would be refused")
        return
    with click.progressbar(length=1, label=f"Importing {bundle.id}", show_pos=True) as bar:

        def progress(done: int, total: int) -> None:
            bar.length = total
            bar.update(done - bar.pos)

        def work(db: Any) -> Any:
            record = services.import_bundle(
                db, None, bundle, source=source, progress=progress, **options
            )
            fed = samples.feed_all(db, bundle.resolved(values)) if with_samples else []
            return record.summary, len([r for r in fed if r.created])

        try:
            summary, fed = in_transaction(database, work)
        except ValidationError as err:
            raise click.ClickException(_refused(err)) from err
    _print_plan(summary)
    if with_samples:
        click.echo(f"{fed} sample orders fed")


def _print_plan(plan: dict[str, Any]) -> None:
    for item in plan["items"]:
        target = f" -> {item['target']}" if item["target"] != item["key"] else ""
        count = f" ({item['count']})" if item["count"] else ""
        note = f"  {item['note']}" if item["note"] else ""
        click.echo(f"  {item['action']:<9} {item['kind']:<17} {item['key']}{target}{count}{note}")
    for reason in plan["refusals"]:
        click.echo(f"  refused: {reason}")
    counts = ", ".join(f"{n} {a}" for a, n in sorted(plan["counts"].items()))
    click.echo(f"{plan['bundle']} {plan['version']}: {counts or 'nothing to do'}")


@templates.command("export")
@click.option("--id", "bundle_id", required=True, help="Bundle id (a-z, 0-9, . _ -).")
@click.option("--name-en", required=True)
@click.option("--name-zh", required=True)
@click.option("--version", default="1.0.0", show_default=True)
@click.option("--flow", "flow_keys", multiple=True, required=True, help="A flow key to include.")
@click.option("--table", "table_names", multiple=True, help="A reference table to include.")
@click.option("--industry", "industries", multiple=True, default=("general",))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True)
@friendly_errors
def export_cmd(
    bundle_id: str,
    name_en: str,
    name_zh: str,
    version: str,
    flow_keys: tuple[str, ...],
    table_names: tuple[str, ...],
    industries: tuple[str, ...],
    output: str,
) -> None:
    """Export flows, tables and kept alert rules and texts as a bundle zip."""

    database = get_db(ready_app())
    with database.session() as db:
        try:
            bundle = export.build_bundle(
                db, bundle_id=bundle_id, name_en=name_en, name_zh=name_zh, version=version,
                industries=industries, flow_keys=flow_keys, table_names=table_names,
            )  # fmt: skip
        except ValidationError as err:
            raise click.ClickException(_refused(err)) from err
    Path(output).write_bytes(export.export_zip(bundle))
    s = bundle.stats
    click.echo(f"Exported {bundle.id}: {s['flows']} flows, {s['tables']} tables, "
               f"{s['rows']} rows, {s['alert_rules']} alert rules -> {output}")  # fmt: skip


def register(cli: click.Group) -> None:
    cli.add_command(templates)
