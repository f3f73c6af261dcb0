"""The machine API under ``/api/v1``, authenticated by API keys; one module per resource."""

from __future__ import annotations

from typing import Any

from flask import g

from ..security import api_key_required
from . import (  # noqa: F401 (routes)
    channels,
    docs,
    flows,
    orders,
    org,
    reference,
    runs,
    status,
    subscriptions,
)
from ._blueprint import bp

__all__ = ["bp"]


@bp.get("/me")
@api_key_required("orders:read")
def me() -> dict[str, Any]:
    """Who the calling key is and what it may do."""
    key = g.api_key
    return {"name": key.name, "prefix": key.prefix, "scopes": key.scopes}
