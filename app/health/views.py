"""Liveness and readiness probes."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint

from ..db import check_connection, get_db
from ..errors import AppError
from ..queue import check_queue

bp = Blueprint("health", __name__)
log = logging.getLogger(__name__)


@bp.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is up and serving requests."""
    return {"status": "ok"}


@bp.get("/readyz")
def readyz() -> tuple[dict[str, Any], int]:
    """The database and the queue are reachable."""
    checks: dict[str, str] = {}
    try:
        check_connection(get_db().engine)
        checks["database"] = "ok"
    except AppError as err:
        log.warning("readiness: %s", err)
        checks["database"] = "unreachable"
    try:
        check_queue()
        checks["queue"] = "ok"
    except Exception as err:  # any storage error means the queue is not usable
        log.warning("readiness: queue unreachable: %s", err)
        checks["queue"] = "unreachable"
    ready = all(v == "ok" for v in checks.values())
    return {"status": "ready" if ready else "unavailable", "checks": checks}, 200 if ready else 503
