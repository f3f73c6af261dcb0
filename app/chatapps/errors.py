"""Errors shared by the chat platforms.

DeliveryError (app.runs.outbox)
└── TokenExpiredError: the platform no longer takes the cached access token
"""

from __future__ import annotations

from ..runs.outbox import DeliveryError

__all__ = ["TokenExpiredError"]


class TokenExpiredError(DeliveryError):
    """The platform no longer takes the cached access token: fetch a new one, try once more."""
