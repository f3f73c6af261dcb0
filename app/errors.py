"""Domain errors and how the web layer renders them.

Exception tree::

    AppError                  base of every error the app raises on purpose
    ├── ConfigError           the configuration cannot work (bad DATABASE_URL, ...)
    ├── ValidationError       user input is invalid; carries one message per field
    ├── AuthenticationError   wrong credentials, locked account, bad API key
    ├── PermissionDeniedError the actor lacks the permission for the action
    ├── NotFoundError         the object does not exist (or is not visible)
    └── ConflictError         the object changed or exists already
        └── DatabaseBusyError other writers kept the database locked; retry later (503)
"""

from __future__ import annotations

import logging
from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    jsonify,
    make_response,
    redirect,
    render_template,
    request,
)
from flask.typing import ResponseReturnValue
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from .urls import slashless_location

log = logging.getLogger(__name__)


class AppError(Exception):
    """Base of every error the app raises on purpose."""

    status = 400
    code = "error"

    def __init__(self, message: Any, *, code: str | None = None, details: Any = None) -> None:
        super().__init__(str(message))
        self.message = message
        self.details = details
        if code:
            self.code = code


class ConfigError(AppError):
    code = "config_error"
    status = 500


class ValidationError(AppError):
    code = "validation_error"
    status = 422

    def __init__(self, message: Any, *, fields: dict[str, Any] | None = None, **kw: Any) -> None:
        super().__init__(message, **kw)
        self.fields = fields or {}


class AuthenticationError(AppError):
    code = "authentication_failed"
    status = 401


class PermissionDeniedError(AppError):
    code = "permission_denied"
    status = 403


class NotFoundError(AppError):
    code = "not_found"
    status = 404


class ConflictError(AppError):
    code = "conflict"
    status = 409


class DatabaseBusyError(ConflictError):
    """Other writers held the database's write lock past the waits and retries (SQLite).

    Nothing of the refused unit of work was stored; the client may send it again after
    ``retry_after`` seconds (sent as ``Retry-After``).
    """

    code = "database_busy"
    status = 503
    retry_after = 1

    def __init__(self, message: Any = None, **kw: Any) -> None:
        super().__init__(
            message
            or _l(
                "The database is busy with other changes, so this one was not saved. "
                "Send it again in a moment."
            ),
            **kw,
        )


def wants_json() -> bool:
    """API paths and JSON clients get JSON errors; browsers get pages."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json" and not request.accept_mimetypes["text/html"]


def error_body(code: str, message: str, details: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": {"code": code, "message": message}}
    if details:
        body["error"]["details"] = details
    return body


def _render(
    status: int, code: str, message: str, details: Any = None
) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify(error_body(code, message, details)), status
    template = "errors/_fragment.html" if request.headers.get("HX-Request") else "errors/error.html"
    return render_template(template, status=status, code=code, message=message), status


def _slashless() -> str | None:
    adapter = current_app.create_url_adapter(request)
    return slashless_location(adapter) if adapter is not None else None


def retry_headers(err: AppError) -> dict[str, str]:
    """``Retry-After`` for an error that passes (a busy database, a rate limit)."""
    retry_after = getattr(err, "retry_after", None)
    return {"Retry-After": str(retry_after)} if retry_after else {}


def app_error_response(err: AppError) -> tuple[Response, int]:
    """The page, fragment or JSON body answering ``err``."""
    details = getattr(err, "fields", None) or err.details
    body, status = _render(err.status, err.code, str(err.message), details)
    response = make_response(body, status)
    response.headers.update(retry_headers(err))
    return response, status


def unexpected_error_response(err: Exception) -> tuple[Response | str, int]:
    """A 500 for an error no handler expected; the traceback goes to the log."""
    log.exception("unhandled error on %s %s", request.method, request.path)
    return _render(500, "internal_error", str(_HTTP_MESSAGES[500]))


_HTTP_MESSAGES = {
    400: _l("The request could not be understood."),
    403: _l("You do not have permission to open this page."),
    404: _l("This page does not exist."),
    405: _l("This action is not allowed here."),
    413: _l("The data you sent is too large."),
    429: _l("Too many requests. Please wait a moment and try again."),
    500: _l("Something went wrong on our side. The error has been logged."),
}


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    from flask_wtf.csrf import CSRFError

    app.register_error_handler(AppError, app_error_response)
    app.register_error_handler(Exception, unexpected_error_response)

    @app.errorhandler(CSRFError)
    def handle_csrf(err: CSRFError) -> tuple[Response | str, int]:
        msg = _l(
            "The form has expired or was not sent from OrderFlow. Reload the page and try again."
        )
        return _render(400, "csrf_failed", str(msg))

    @app.errorhandler(HTTPException)
    def handle_http(err: HTTPException) -> ResponseReturnValue | HTTPException:
        status = err.code or 500
        if status < 400:
            return err
        if status == 404 and (location := _slashless()) is not None:
            return redirect(location, 308)
        message = _HTTP_MESSAGES.get(status) or err.description or err.name
        response = make_response(_render(status, err.name.lower().replace(" ", "_"), str(message)))
        # Keep what the exception says about the answer (a 405's Allow), not its body's type.
        for name, value in err.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response
