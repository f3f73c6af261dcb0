"""Request and response plumbing shared by the API modules: JSON bodies with size limits
(parsed by ``app/jsonbody.py``), exact-decimal JSON responses, cursor pagination, query
parameters."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, TypeVar

from flask import Response, current_app, g, request
from flask_babel import lazy_gettext as _l

from ..db import get_db, in_transaction
from ..errors import AppError, ValidationError
from ..jsonbody import parse_json
from ..jsontext import json_dumps
from ..orders.grouped import GroupCommit

T = TypeVar("T")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class PayloadTooLargeError(AppError):
    code = "payload_too_large"
    status = 413


class UnsupportedMediaTypeError(AppError):
    code = "unsupported_media_type"
    status = 415


def body_limit() -> int:
    """``API_MAX_BODY``: the largest body read, in bytes; a longer declared one is refused."""
    limit = int(current_app.config.get("API_MAX_BODY", 1024 * 1024))
    length = request.content_length
    if length is not None and length > limit:
        raise PayloadTooLargeError(
            _l("The request body is larger than %(n)d bytes.", n=limit),
            details=[{"path": "/", "message": f"max {limit} bytes", "rule": "maxBytes"}],
        )
    return limit


def raw_body() -> bytes:
    """The request body, refused past ``API_MAX_BODY`` bytes (413)."""
    limit = body_limit()
    raw = request.get_data(cache=True)
    if len(raw) > limit:
        raise PayloadTooLargeError(_l("The request body is larger than %(n)d bytes.", n=limit))
    return raw


def json_body(*, want: type = dict) -> Any:
    """The request's JSON body, checked for media type, size, depth and top-level type."""
    mimetype = request.mimetype or ""
    if mimetype != "application/json" and not mimetype.endswith("+json"):
        raise UnsupportedMediaTypeError(_l("Send the body as application/json."))
    doc = parse_json(raw_body())
    if not isinstance(doc, want):
        kind = "object" if want is dict else "array"
        raise ValidationError(
            _l("The body must be a JSON %(kind)s.", kind=kind),
            code="invalid_body",
            details=[{"path": "/", "message": f"expected {kind}", "rule": "type"}],
        )
    return doc


def reply(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    """A JSON response that keeps decimals exact."""
    response = Response(json_dumps(body), status=status, mimetype="application/json")
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def iso(moment: datetime | None) -> str | None:
    return moment.isoformat().replace("+00:00", "Z") if moment is not None else None


# -- query parameters -----------------------------------------------------------------


def _bad_param(name: str, message: Any) -> ValidationError:
    return ValidationError(
        message,
        code="invalid_parameter",
        details=[{"path": f"?{name}", "message": str(message), "rule": "parameter"}],
    )


def int_param(name: str, default: int, *, low: int = 1, high: int = 2**31 - 1) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    # int() would also take " 5", "5_0" and other digits than 0-9, which no client means.
    if not (raw.isascii() and raw.removeprefix("-").isdigit()):
        raise _bad_param(name, _l("%(name)s must be a whole number.", name=name))
    value = int(raw)
    if not low <= value <= high:
        raise _bad_param(
            name, _l("%(name)s must be between %(low)d and %(high)d.", name=name, low=low,
                     high=high)
        )  # fmt: skip
    return value


def limit_param() -> int:
    return int_param("limit", DEFAULT_LIMIT, low=1, high=MAX_LIMIT)


def bool_param(name: str) -> bool:
    """A boolean query parameter: ``true`` or ``false`` (absent: false)."""
    raw = request.args.get(name)
    if raw is None:
        return False
    if raw not in ("true", "false"):
        raise _bad_param(name, _l("%(name)s must be true or false.", name=name))
    return raw == "true"


def time_param(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None or not date.min.year < moment.year < date.max.year:
        # Year 1 and 9999 are refused too: converted to UTC to compare, they would overflow.
        raise _bad_param(name, _l("%(name)s must be an ISO 8601 time with an offset.", name=name))
    return moment


def str_param(name: str, *, max_length: int = 128) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > max_length or "\x00" in raw:
        raise _bad_param(name, _l("%(name)s is too long.", name=name))
    return raw


CURSOR_PATTERN = "^[0-9]{0,10}$"


def cursor_id() -> int | None:
    """The ``cursor`` parameter: the id of the last item of the previous page (empty or
    absent: the first page)."""
    raw = request.args.get("cursor")
    if not raw:
        return None
    if len(raw) > 10 or not raw.isascii() or not raw.isdigit():
        raise _bad_param("cursor", _l("The cursor is not valid; start again without it."))
    # Ids are 32-bit: a larger cursor means what the largest does (PostgreSQL would refuse it).
    return min(int(raw), 2**31 - 1)


def page(items: list[Any], limit: int, key: Any) -> dict[str, Any]:
    """``{"items": [...], "next_cursor": ...}`` from ``limit + 1`` fetched rows."""
    more = len(items) > limit
    items = items[:limit]
    return {
        "items": items,
        "next_cursor": str(key(items[-1])) if more and items else None,
    }


def actor_name() -> str:
    """Who acts through the API: the key's name, as the audit trail records it."""
    key = g.get("api_key")
    return f"api:{key.name}" if key is not None else "api"


def transact(work: Callable[[Any], T]) -> T:
    """Run ``work(session)`` in its own transaction and commit, retrying write conflicts
    (SQLite's "database is locked", a stale run lock) from a fresh read."""
    return in_transaction(get_db(), work)


def group_commit(
    name: str, store_one: Callable[[Any], T], store_many: Callable[[Any], list[T]]
) -> GroupCommit[T]:
    """The app's group commit called ``name``: requests of that kind arriving at the same
    moment share a transaction (``app/orders/grouped.py``)."""
    key = f"orderflow.group_commit.{name}"
    groups: GroupCommit[T] | None = current_app.extensions.get(key)
    if groups is None:
        groups = current_app.extensions.setdefault(key, GroupCommit(store_one, store_many))
    return groups
