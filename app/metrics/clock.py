"""The time zone figures are shown and days are cut in (``ORDERFLOW_TIMEZONE``)."""

from __future__ import annotations

import os
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import current_app, has_app_context

DEFAULT_ZONE = "Asia/Shanghai"


def zone() -> ZoneInfo:
    """The business time zone: app config ``TIMEZONE``, else ``ORDERFLOW_TIMEZONE``, else
    Asia/Shanghai."""
    name = None
    if has_app_context():
        name = current_app.config.get("TIMEZONE")
    name = name or os.environ.get("ORDERFLOW_TIMEZONE") or DEFAULT_ZONE
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_ZONE)
