"""``GET /metrics``: Prometheus text for machines (an API key with the ``alerts:read`` scope,
sent as ``Authorization: Bearer of_...``, as Prometheus' ``authorization`` setting does)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response

from ..db import get_session
from ..models import utcnow
from ..security import api_key_required
from . import hooks, prometheus
from . import tasks as _tasks  # noqa: F401  (registers the background tasks)

bp = Blueprint("metrics", __name__)


@bp.record_once
def _setup(state: Any) -> None:
    hooks.install(state.app)


@bp.get("/metrics")
@api_key_required("alerts:read")
def exposition() -> Response:
    text = prometheus.render(get_session(), utcnow())
    return Response(text, mimetype="text/plain", content_type=prometheus.CONTENT_TYPE)
