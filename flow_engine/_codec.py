"""Lossless JSON encoding of run data (orders and variables hold Decimals and datetimes).

Plain JSON values pass through unchanged. Values JSON cannot hold exactly are tagged:
``Decimal`` -> ``{"$decimal": "12.50"}``, ``datetime`` -> ``{"$datetime": ISO}``,
``date`` -> ``{"$date": ISO}``, ``timedelta`` -> ``{"$duration": seconds as decimal string}``.
Tuples and frozensets become lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any, overload

from flow_engine.errors import FlowStateError

_SCALARS = (str, int, float, bool, type(None))


_PLAIN = frozenset(_SCALARS)


def encode(value: Any) -> Any:
    """Return a JSON-serialisable form of ``value``."""
    kind = type(value)
    if kind in _PLAIN:  # exact types first: this walks every stored order and snapshot
        return value
    if kind is dict:
        return {k if type(k) is str else str(k): encode(v) for k, v in value.items()}
    if kind is list:
        return [encode(v) for v in value]
    if kind is Decimal:
        return {"$decimal": str(value)}
    return _encode_other(value)


def _encode_other(value: Any) -> Any:
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, datetime):
        return {"$datetime": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, timedelta):
        seconds = Decimal(value.days * 86400 + value.seconds) + Decimal(value.microseconds) / 10**6
        return {"$duration": str(seconds)}
    if isinstance(value, set | frozenset):
        return sorted((encode(v) for v in value), key=repr)
    raise FlowStateError(f"cannot store a value of type {type(value).__name__} in a run")


def decode(value: Any) -> Any:
    """Invert :func:`encode`."""
    if isinstance(value, dict):
        if len(value) == 1:
            ((tag, raw),) = value.items()
            if tag == "$decimal":
                return Decimal(raw)
            if tag == "$datetime":
                return datetime.fromisoformat(raw)
            if tag == "$date":
                return date.fromisoformat(raw)
            if tag == "$duration":
                return timedelta(microseconds=int(Decimal(raw) * 10**6))
        return {k: decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def plain(value: Any) -> Any:
    """A readable JSON form for reports: Decimals as strings, datetimes as ISO text."""
    if isinstance(value, _SCALARS):
        return value
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return f"{value.total_seconds():g}s"
    return str(value)


def iso(moment: datetime | None) -> str | None:
    """Return the ISO text of an aware datetime (None stays None)."""
    return None if moment is None else moment.isoformat()


@overload
def parse_iso(text: str) -> datetime: ...


@overload
def parse_iso(text: None) -> None: ...


def parse_iso(text: str | None) -> datetime | None:
    """Parse ISO text written by :func:`iso`."""
    return None if text is None else datetime.fromisoformat(text)
