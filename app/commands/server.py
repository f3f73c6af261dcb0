"""``orderflow serve`` and ``orderflow worker``: the web server with its embedded background
worker, and background workers alone for the scale-out deployment."""

from __future__ import annotations

import os

import click

from ..queue import run_worker, start_embedded_consumer
from ..runs.tasks import recover
from ._app import ready_app


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=5000, show_default=True, type=click.IntRange(1, 65535))
@click.option("--threads", default=8, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--workers",
    "queue_workers",
    default=2,
    show_default=True,
    type=click.IntRange(0, 16),
    help="Background worker threads in this process (0: run them with 'orderflow worker').",
)
def serve(host: str, port: int, threads: int, queue_workers: int) -> None:
    """Run the web server (waitress) with an embedded background worker."""
    from waitress.server import create_server

    # Embedded mode answers the demo's webhooks itself (ORDERFLOW_DEMO_RECEIVER=0: not).
    os.environ.setdefault("ORDERFLOW_DEMO_RECEIVER", "1")
    app = ready_app()
    # Listen before the worker starts: deliveries to this server (the demo receiver) that
    # came due while nothing ran then wait in the backlog instead of being refused.
    server = create_server(app, host=host, port=port, threads=threads, ident="OrderFlow")
    consumer = start_embedded_consumer(queue_workers)[0] if queue_workers else None
    if consumer is not None:
        recover()  # catch up on timers and deliveries that came due while nothing ran
    click.echo(f"OrderFlow is running at http://{host}:{port}/  (Ctrl+C to stop)")
    try:
        server.run()
    finally:
        if consumer is not None:
            consumer.stop(graceful=True)


@click.command()
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option(
    "--type",
    "worker_type",
    default="thread",
    show_default=True,
    type=click.Choice(["thread", "process"]),
)
def worker(workers: int, worker_type: str) -> None:
    """Run background workers only (scale-out mode; start as many as you need)."""

    ready_app()
    recover()
    click.echo(f"OrderFlow worker started with {workers} {worker_type} workers")
    run_worker(workers=workers, worker_type=worker_type)


def register(cli: click.Group) -> None:
    cli.add_command(serve)
    cli.add_command(worker)
