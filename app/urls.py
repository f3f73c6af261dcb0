"""Numbers in URLs: row ids in paths (``<id:name>``) and numbers in query strings; and
the one spelling of each page's path (``/flows/`` redirects to ``/flows``).

Row ids are 32-bit on PostgreSQL. A larger number names no row, and passed to the database
it fails (integer out of range on PostgreSQL, OverflowError on SQLite), so it is refused
here: a 404 in a path, ignored in a query string.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import request
from werkzeug.exceptions import HTTPException
from werkzeug.routing import BaseConverter, MapAdapter

__all__ = [
    "MAX_ID",
    "MAX_PAGE",
    "IdConverter",
    "id_arg",
    "page_arg",
    "row_id",
    "slashless_location",
]

MAX_ID = 2**31 - 1
MAX_PAGE = 10_000


def _up_to(limit: int) -> str:
    """A regular expression for the whole numbers 1 to ``limit``, without leading zeros."""
    digits = str(limit)
    shorter = f"[1-9][0-9]{{0,{len(digits) - 2}}}"
    same_length = [
        digits[:i] + f"[{'1' if i == 0 else '0'}-{int(d) - 1}]" + f"[0-9]{{{len(digits) - i - 1}}}"
        for i, d in enumerate(digits)
        if int(d) > (1 if i == 0 else 0)
    ]
    return "(?:" + "|".join([shorter, *same_length, digits]) + ")"


class IdConverter(BaseConverter):
    """A row id or version number in a URL path: 1 to 2**31 - 1; anything else does not
    match, so the URL is a 404 before any view runs."""

    # The bound is in the pattern itself, not in to_python: Werkzeug answers 405 rather than
    # 404 when a path matches another method's rule whose conversion would have failed.
    regex = _up_to(MAX_ID)

    def to_python(self, value: str) -> int:
        return int(value)

    def to_url(self, value: Any) -> str:
        return str(int(value))


def _whole(raw: Any) -> int | None:
    text = str(raw or "").strip()
    # Ten digits at most: the check is on the text, before int() turns a long one into work.
    return int(text) if text.isdecimal() and len(text) <= 10 else None


def row_id(raw: Any) -> int | None:
    """``raw`` (text from a query string or form) as a row id, or None if it is not one."""
    number = _whole(raw)
    return number if number is not None and 1 <= number <= MAX_ID else None


def id_arg(args: Mapping[str, Any], name: str) -> int | None:
    """The row id or version number in ``?name=``; None when absent or not one."""
    return row_id(args.get(name))


def page_arg(args: Mapping[str, Any], name: str = "page") -> int:
    """The page number in ``?page=``: 1 when absent or not a number, at most ``MAX_PAGE``."""
    number = _whole(args.get(name))
    return min(max(number, 1), MAX_PAGE) if number is not None else 1


def slashless_location(adapter: MapAdapter) -> str | None:
    """Where a GET for a path with a trailing slash that matched nothing belongs: the same
    path without the slash when that is a route (``/flows/`` → ``/flows``), else None.

    Werkzeug already sends ``/orders`` to ``/orders/``; this is the other direction, which
    it leaves as a 404.
    """
    path = request.path
    if request.method not in ("GET", "HEAD") or len(path) < 2 or not path.endswith("/"):
        return None
    stripped = path.rstrip("/")
    # "//host" would be read by the browser as another site.
    if not stripped or stripped.startswith("//"):
        return None
    try:
        adapter.match(stripped, method="GET")
    except HTTPException:
        return None
    query = request.query_string.decode("latin-1")
    return request.script_root + stripped + ("?" + query if query else "")
