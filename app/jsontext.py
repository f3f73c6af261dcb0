"""JSON text with exact decimals: the one place the app turns its data into JSON and back.

Order data carries money, so a number with a fraction is read as a ``Decimal`` and written
with its own digits (``12.50`` stays ``12.50``). Every role has one function here:

- :func:`json_loads`: reading stored columns, request bodies, webhook answers, bundles.
- :func:`json_dumps`: compact text for JSON columns (orjson writes the common values several
  times faster; what it refuses, e.g. integers beyond 64 bits, goes through simplejson to the
  same text).
- :func:`body_bytes`: the UTF-8 body of an outgoing HTTP request (webhooks, notifications).
- :func:`shown`: indented text for people (the CLI, the integrations page).
- :func:`canonical`: key-sorted ASCII text whose hash names a thing (event ids).

Texts that never hold a decimal (a chat platform's API call, the OpenAPI document) use the
standard library's ``json``; simplejson and orjson are imported nowhere else in the app
(an import contract in pyproject.toml keeps it so).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson
import simplejson

__all__ = ["body_bytes", "canonical", "json_dumps", "json_loads", "jsonable", "shown"]


def json_loads(text: str | bytes) -> Any:
    """Numbers with a fraction come back as ``Decimal``, never as binary floats."""
    return simplejson.loads(text, use_decimal=True)


def json_dumps(value: Any) -> str:
    """Compact JSON for storage: ``Decimal("12.50")`` is the number 12.50, datetimes ISO
    text, read-only mappings objects, sets sorted lists."""
    try:
        return orjson.dumps(value, default=_orjson_default, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return _ENCODER.encode(value)


def body_bytes(value: Any) -> bytes:
    """The body of an outgoing HTTP request: UTF-8 JSON, decimals exact."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False).encode()


def shown(value: Any) -> str:
    """JSON for people: indented, Chinese as written; what JSON cannot hold as its text."""
    return simplejson.dumps(value, use_decimal=True, ensure_ascii=False, indent=2, default=str)


def canonical(value: Any) -> str:
    """The same text for the same value whatever the order of its keys (ASCII, so any hash of
    it is stable)."""
    return simplejson.dumps(value, sort_keys=True)


def jsonable(value: Any) -> Any:
    """Make ``value`` storable in a JSON column: datetimes become ISO text, tuples lists;
    decimals stay decimals (stored exactly by :func:`json_dumps`)."""
    if isinstance(value, str | int | float | bool | Decimal) or value is None:
        return value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    return str(value)


def _orjson_default(value: Any) -> Any:
    if type(value) is Decimal and value.is_finite():
        return orjson.Fragment(str(value))  # the decimal's own digits, as a JSON number
    return _json_default(value)


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):  # read-only mappings the engine shares between records
        return dict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, timedelta):
        return value.total_seconds()
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"cannot store a value of type {type(value).__name__} as JSON")


# One encoder for every JSON column: building one per value costs more than most encodings.
_ENCODER = simplejson.JSONEncoder(
    use_decimal=True, ensure_ascii=False, separators=(",", ":"), default=_json_default
)
