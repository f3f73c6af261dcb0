"""The machine API under ``/api/v1``, authenticated by API keys; one module per resource."""

from __future__ import annotations

from typing import Any

from flask import g

from ..security import api_key_required
from . import (  # noqa: F401 (routes)
    channels,
    dashboard,
    docs,
    flows,
    orders,
    org,
    reference,
    runs,
    spec,
    status,
    subscriptions,
)
from ._blueprint import bp

# The figures, costs and alert rules are declared beside their routes.
spec.declare(dashboard.OPERATIONS, dashboard.SCHEMAS)

__all__ = ["bp"]


@bp.get("/me")
@api_key_required("orders:read")
def me() -> dict[str, Any]:
    """Who the calling key is and what it may do."""
    key = g.api_key
    return {"name": key.name, "prefix": key.prefix, "scopes": key.scopes}
