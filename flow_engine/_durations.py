"""Durations in node configuration: ``30m``, ``48h``, ``3d``, ``1d12h``, ``2w``."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"([0-9]+)([wdhms])")
_WHOLE = re.compile(r"^(?:[0-9]+[wdhms])+$")
_UNIT = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}


def parse_duration(text: str) -> timedelta:
    """Parse a compact duration; ValueError when malformed."""
    if not _WHOLE.match(text):
        raise ValueError(f"not a duration: {text!r} (use e.g. 30m, 48h, 3d, 1d12h)")
    return timedelta(seconds=sum(int(n) * _UNIT[u] for n, u in _PART.findall(text)))
