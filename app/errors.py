"""Domain errors and how the web layer renders them.

Exception tree::

    AppError                  base of every error the app raises on purpose
    ├── ConfigError           the configuration cannot work (bad DATABASE_URL, ...)
    ├── ValidationError       user input is invalid; carries one message per field
    ├── AuthenticationError   wrong credentials, locked account, bad API key
    ├── PermissionDeniedError the actor lacks the permission for the action
    ├── NotFoundError         the object does not exist (or is not visible)
    └── ConflictError         the object changed or exists already
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


def _render(status: int, code: str, message: str, details: Any = None) -> tuple[Response, int]:
    if wants_json():
        return jsonify(error_body(code, message, details)), status
    template = "errors/_fragment.html" if request.headers.get("HX-Request") else "errors/error.html"
    return render_template(template, status=status, code=code, message=message), status


def _slashless() -> str | None:
    adapter = current_app.create_url_adapter(request)
    return slashless_location(adapter) if adapter is not None else None


def init_app(app: Flask) -> None:
    """Register the error handlers."""
    from flask_babel import gettext as _
    from flask_wtf.csrf import CSRFError

    http_messages = {
        400: lambda: _("The request could not be understood."),
        403: lambda: _("You do not have permission to open this page."),
        404: lambda: _("This page does not exist."),
        405: lambda: _("This action is not allowed here."),
        413: lambda: _("The data you sent is too large."),
        429: lambda: _("Too many requests. Please wait a moment and try again."),
        500: lambda: _("Something went wrong on our side. The error has been logged."),
    }

    @app.errorhandler(AppError)
    def handle_app_error(err: AppError) -> tuple[Response, int]:
        details = getattr(err, "fields", None) or err.details
        return _render(err.status, err.code, str(err.message), details)

    @app.errorhandler(CSRFError)
    def handle_csrf(err: CSRFError) -> tuple[Response, int]:
        msg = _(
            "The form has expired or was not sent from OrderFlow. Reload the page and try again."
        )
        return _render(400, "csrf_failed", msg)

    @app.errorhandler(HTTPException)
    def handle_http(err: HTTPException) -> Response | HTTPException:
        status = err.code or 500
        if status < 400:
            return err
        if status == 404 and (location := _slashless()) is not None:
            return redirect(location, 308)
        message = http_messages.get(status, lambda: err.description or err.name)()
        response = make_response(_render(status, err.name.lower().replace(" ", "_"), message))
        # Keep what the exception says about the answer (a 405's Allow), not its body's type.
        for name, value in err.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
        return response

    @app.errorhandler(Exception)
    def handle_unexpected(err: Exception) -> tuple[Response, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _render(500, "internal_error", http_messages[500]())
