"""Task functions run by the Huey consumers."""

from __future__ import annotations

import os
import socket

from .queue import huey


@huey.task()
def echo(value: str) -> dict[str, str | int]:
    """Return ``value`` with the identity of the process that ran it (wiring check)."""
    return {"value": value, "pid": os.getpid(), "host": socket.gethostname()}
