"""The machine API under ``/api/v1``, authenticated by API keys; one module per resource."""

from __future__ import annotations

from typing import Any

from flask import g

# Each module declares its operations beside its views (spec.api); importing it routes them.
from . import (  # noqa: F401 (routes)
    alert_rules,
    channels,
    costs,
    docs,
    figures,
    flows,
    orders,
    org,
    reference,
    runs,
    status,
    subscriptions,
)
from ._blueprint import bp
from ._schemas import ref
from .spec import api

__all__ = ["bp"]


@api.get(
    "/me",
    scope="orders:read",
    summary="The calling key, its name and scopes",
    responses={"200": ref("Me")},
)  # fmt: skip
def me() -> dict[str, Any]:
    """Who the calling key is and what it may do."""
    key = g.api_key
    return {"name": key.name, "prefix": key.prefix, "scopes": key.scopes}
