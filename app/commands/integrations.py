"""Shell commands for integrations: channels, order custom fields, outbound delivery."""

from __future__ import annotations

import os

import click
from sqlalchemy import select
from sqlalchemy.orm import Session

from .. import order_fields as schema
from ..channels import kinds, mapping, pull
from ..channels import services as channels
from ..db import get_db, in_transaction
from ..models import Channel, ChannelPull
from ..runs import outbox
from ._app import friendly_errors, ready_app
from .ops import _echo_json, _load_json


@click.group("channel")
def channel() -> None:
    """Inbound sales channels (signed order webhooks)."""


@channel.command("add")
@click.argument("key")
@click.option(
    "--kind",
    type=click.Choice(kinds.kinds()),
    required=True,
    help="Which shipped payload mapping the channel's webhooks follow.",
)
@click.option("--order-channel", required=True, help="The order's channel value, e.g. tmall.")
@click.option("--name", default="", help="A readable name.")
@friendly_errors
def channel_add(key: str, kind: str, order_channel: str, name: str) -> None:
    """Configure channel KEY and print its webhook URL and secret (shown once)."""
    database = get_db(ready_app())
    made = in_transaction(
        database,
        lambda db: channels.create_channel(
            db, None, key=key, kind=kind, order_channel=order_channel, name=name
        ),
    )
    click.echo(f"Channel {made.key} ({made.kind}) created.")
    if made.kind in pull.KINDS:
        click.echo(f"Set its credentials: orderflow channel pull-setup {made.key}")
        return
    click.echo(f"Webhook URL: /api/v1/channels/{made.key}/webhook")
    click.echo(f"Secret (sign 't.body' with HMAC-SHA256): {made.secret}")


@channel.command("list")
@friendly_errors
def channel_list() -> None:
    """List configured channels."""
    with get_db(ready_app()).session() as db:
        for row in channels.list_channels(db):
            state = "active" if row.active else "inactive"
            click.echo(f"{row.key:<20} {row.kind:<8} {row.order_channel:<10} {state}")


@channel.command("pull-setup")
@click.argument("key")
@click.option("--app-key", prompt=True, help="The app key from the platform's open console.")
@click.option("--app-secret", prompt=True, hide_input=True, help="The app secret.")
@click.option("--session", prompt=True, hide_input=True, help="The shop's session/access token.")
@click.option("--api-url", default="", help="The API gateway (default: the platform's).")
@click.option("--interval", default="", help="Seconds between syncs (60-86400, default 300).")
@friendly_errors
def channel_pull_setup(
    key: str, app_key: str, app_secret: str, session: str, api_url: str, interval: str
) -> None:
    """Save the credentials of pull channel KEY (stored encrypted)."""
    database = get_db(ready_app())

    def save(db: Session) -> tuple[str, int]:
        row = pull.configure(db, channels.get_channel(db, key), app_key=app_key,
                             app_secret=app_secret, session=session, api_url=api_url,
                             interval=interval)  # fmt: skip
        return row.api_url, row.interval_seconds

    url, seconds = in_transaction(database, save)
    click.echo(f"Pull channel {key}: credentials saved, polling {url} every {seconds} s.")


@channel.command("pull")
@click.argument("key")
@click.option("--once", is_flag=True, help="Run one sync and stop (default: keep polling).")
@friendly_errors
def channel_pull(key: str, once: bool) -> None:
    """Pull the orders of channel KEY in the foreground."""
    import time

    database = get_db(ready_app())
    with database.session() as db:
        channel = channels.get_channel(db, key)
        channel_id, kind = channel.id, channel.kind
    if kind not in pull.KINDS:
        raise click.ClickException(
            f"Channel {key} is a {kind} channel: only taobao_pull and jd_pull channels pull."
        )
    while True:
        report = pull.sync(database, channel_id, force=True)
        if report.skipped:
            click.echo(f"{key}: not synced ({report.skipped}).")
        elif report.error:
            click.echo(f"{key}: {report.error}; state {report.state}.")
        else:
            click.echo(f"{key}: {report.pulled} new orders in {report.pages} pages.")
        if once or report.skipped or report.state == pull.NEEDS_TOKEN:
            if report.state == pull.NEEDS_TOKEN or report.skipped in (
                pull.NEEDS_TOKEN,
                pull.NEEDS_SETUP,
            ):
                raise SystemExit(1)
            return
        with database.session() as db:
            wait = db.scalar(
                select(ChannelPull.next_attempt_at).where(ChannelPull.channel_id == channel_id)
            )
        time.sleep(max(1.0, (wait - pull.utcnow()).total_seconds()) if wait else 60)


@channel.command("mapping")
@click.argument("key")
@click.option(
    "--set",
    "mapping_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Save this JSON file as the channel's own mapping (checked first).",
)
@click.option(
    "--try",
    "payload_file",
    type=click.Path(exists=True, dir_okay=False),
    help="Print the order this payload becomes (with --set: with the new mapping).",
)
@friendly_errors
def channel_mapping(key: str, mapping_file: str | None, payload_file: str | None) -> None:
    """Show, try or set the mapping of channel KEY."""

    database = get_db(ready_app())
    override = _load_json(mapping_file) if mapping_file else None
    with database.session() as db:
        row = channels.get_channel(db, key)
        wanted = row.mapping if override is None else override
        if payload_file:
            order, dedup = channels.try_mapping(db, row, wanted, _load_json(payload_file))
            _echo_json({"order": order, "dedup_key": dedup})
        elif override is None:
            _echo_json({"kind": row.kind, "own": row.mapping,
                        "effective": mapping.effective(row.kind, row.mapping)})  # fmt: skip
    if override is not None:

        def save(db: Session) -> Channel:
            return channels.set_mapping(db, channels.get_channel(db, key), override)

        in_transaction(database, save)
        click.echo(f"Mapping of {key} saved.")


@click.group("order-field")
def order_field() -> None:
    """Custom order fields (under ``custom``) that payloads are checked against."""


@order_field.command("add")
@click.argument("name")
@click.option("--type", "kind", type=click.Choice(sorted(schema.FIELD_TYPES)), required=True)
@click.option("--label-en", required=True)
@click.option("--label-zh", required=True)
@click.option("--required", is_flag=True, help="Orders without it are refused.")
@click.option("--option", "options", multiple=True, help="An allowed value (repeat).")
@friendly_errors
def field_add(name: str, kind: str, label_en: str, label_zh: str, required: bool,
              options: tuple[str, ...]) -> None:  # fmt: skip
    """Add custom field NAME to the order schema."""
    in_transaction(
        get_db(ready_app()),
        lambda db: schema.add_field(db, None, name=name, type=kind, label_en=label_en,
                                    label_zh=label_zh, required=required,
                                    options=list(options) or None),
    )  # fmt: skip
    click.echo(f"Custom field custom.{name} added.")


@order_field.command("list")
@friendly_errors
def field_list() -> None:
    """List custom order fields."""
    with get_db(ready_app()).session() as db:
        for f in schema.list_fields(db):
            flag = " required" if f.required else ""
            click.echo(f"custom.{f.name:<24} {f.type:<10} {f.label_zh} / {f.label_en}{flag}")


@order_field.command("remove")
@click.argument("name")
@friendly_errors
def field_remove(name: str) -> None:
    """Remove custom field NAME (stored orders keep their data)."""
    in_transaction(get_db(ready_app()), lambda db: schema.remove_field(db, None, name))
    click.echo(f"Custom field custom.{name} removed.")


@click.group("outbox")
def outbox_group() -> None:
    """Outbound delivery: the host allowlist and dead letters."""


@outbox_group.command("allow")
@click.argument("host")
@click.option("--note", default="")
@click.option("--own-secret", is_flag=True, help="Sign its webhooks with a secret of its own.")
@friendly_errors
def outbox_allow(host: str, note: str, own_secret: bool) -> None:
    """Allow outbound webhooks to HOST (or *.domain)."""
    row = in_transaction(
        get_db(ready_app()),
        lambda db: outbox.add_allowed_host(db, "cli", host, note, own_secret=own_secret),
    )
    click.echo(f"{row.host} allowed.")
    if row.signing_secret:
        click.echo(f"Its webhooks are signed with: {row.signing_secret}")


@outbox_group.command("host-secret")
@click.argument("host")
@click.option("--shared", is_flag=True, help="Use the installation's shared secret again.")
@friendly_errors
def outbox_host_secret(host: str, shared: bool) -> None:
    """Give HOST a new signing secret of its own (the old one stops working at once)."""
    row = in_transaction(
        get_db(ready_app()), lambda db: outbox.set_host_secret(db, host, own=not shared)
    )
    if row.signing_secret:
        click.echo(f"{row.host}: webhooks are now signed with: {row.signing_secret}")
    else:
        click.echo(f"{row.host}: webhooks are now signed with the shared secret.")


@outbox_group.command("dead")
@friendly_errors
def outbox_dead() -> None:
    """List dead letters."""
    with get_db(ready_app()).session() as db:
        for m in outbox.dead_letters(db):
            click.echo(f"{m.id:>8} {m.payload.get('url', m.kind)}  {m.last_error or ''}")


@outbox_group.command("replay")
@click.argument("message_id", type=int)
@friendly_errors
def outbox_replay(message_id: int) -> None:
    """Queue dead message MESSAGE_ID again."""
    in_transaction(get_db(ready_app()), lambda db: outbox.replay(db, message_id))
    click.echo(f"Message {message_id} queued again.")


@outbox_group.command("secret")
def outbox_secret() -> None:
    """Print the secret outbound webhooks are signed with (give it to the receivers)."""
    app = ready_app()
    source = (
        "ORDERFLOW_WEBHOOK_SECRET"
        if os.environ.get("ORDERFLOW_WEBHOOK_SECRET")
        else f"{app.instance_path}/webhook_secret"
    )
    click.echo(app.config["WEBHOOK_SECRET"])
    click.echo(f"(from {source})", err=True)


def register(cli: click.Group) -> None:
    for group in (channel, order_field, outbox_group):
        cli.add_command(group)
