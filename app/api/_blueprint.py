"""The ``/api/v1`` blueprint, its rate limit and its error bodies.

Every error is ``{"error": {"code", "message", "details"?}}``: ``code`` is stable for
programs, ``message`` is for people (Chinese or English by ``Accept-Language``), and
``details`` of validation errors lists each problem as ``{"path", "message", "rule"?}``
with a JSON pointer into the request body (``?name`` for a query parameter); an order's
problems also give the ``field`` label and an ``example`` of an accepted value.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, request
from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_limiter import RateLimitExceeded
from werkzeug.routing import BaseConverter

from .. import ratelimit
from ..errors import AppError, NotFoundError, error_body, retry_headers
from ..flows.services import KEY_RE, RESERVED_KEYS
from ._http import reply

bp = Blueprint("api", __name__, url_prefix="/api/v1")


class FlowKeyConverter(BaseConverter):
    """A flow key in a URL; other text, and the reserved keys, do not match (404, or 405
    where another route has the path: ``GET /flows/import``)."""

    regex = "".join(f"(?!{key}$)" for key in RESERVED_KEYS) + KEY_RE.pattern.strip("^$")


@bp.record_once
def _setup(state: Any) -> None:
    state.app.url_map.converters["flow_key"] = FlowKeyConverter


def _caller() -> str:
    header = request.headers.get("Authorization", "") or request.headers.get("X-API-Key", "")
    token = header[7:].strip() if header.lower().startswith("bearer ") else header
    parts = token.split("_", 2)
    # The key prefix is public and fixed per key: count per key, else per address.
    return f"key:{parts[1]}" if len(parts) == 3 else f"ip:{ratelimit.client_address()}"


# Webhooks have a limit of their own (per channel); the documentation is not metered.
UNMETERED = frozenset({"api.channel_webhook", "api.openapi", "api.reference_page"})

# One bucket per caller over every API route.
ratelimit.limiter.shared_limit(
    ratelimit.configured("RATELIMIT_API"),
    scope="api",
    key_func=_caller,
    exempt_when=lambda: request.endpoint in UNMETERED,
)(bp)


@bp.before_request
def _nul_in_path() -> None:
    if "\x00" in request.path:
        raise NotFoundError(_l("This page does not exist."))


def problems(err: AppError) -> list[dict[str, Any]] | None:
    """The error's details as a list of ``{path, message, ...}`` in the caller's language."""
    fields = getattr(err, "fields", None)
    if fields:
        return [{"path": f"/{name}", "message": str(msg)} for name, msg in fields.items()]
    details = err.details
    if not details:
        return None
    if isinstance(details, dict):
        return [{"path": f"/{k}", "message": str(v)} for k, v in details.items()]
    locale = get_locale()
    zh = locale is None or locale.language == "zh"
    out = []
    for item in details:
        if not isinstance(item, dict):
            out.append({"path": "/", "message": str(item)})
            continue
        entry = dict(item)
        if zh and entry.get("message_zh"):
            entry["message"] = entry["message_zh"]
        if zh and entry.get("field_zh"):
            entry["field"] = entry["field_zh"]
        entry.setdefault("path", "/")
        entry["message"] = str(entry.get("message", ""))
        out.append(entry)
    return out


@bp.errorhandler(AppError)
def _app_error(err: AppError) -> Response:
    body = error_body(err.code, str(err.message), problems(err))
    return reply(body, err.status, retry_headers(err))


@bp.errorhandler(RateLimitExceeded)
def _rate_limited(err: RateLimitExceeded) -> Response:
    return _app_error(ratelimit.refusal())
