"""Platform credentials kept encrypted at rest (Fernet), with a key derived from the
``ORDERFLOW_SECRETS_KEY`` setting, or from ``SECRET_KEY`` when it is not set.

A value encrypted under another key (the setting changed, a database restored elsewhere)
cannot be read back: :class:`CredentialsUnreadableError` says so and what to do, it never
crashes a sync.
"""

from __future__ import annotations

import base64
import hashlib
import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from flask import current_app, has_app_context
from flask_babel import lazy_gettext as _l

from ..errors import AppError
from ..queue import task_app


class CredentialsUnreadableError(AppError):
    code = "credentials_unreadable"
    status = 409


def _fernet(key: str | None = None) -> Fernet:
    if key is None:
        config = (current_app if has_app_context() else task_app()).config
        key = config.get("SECRETS_KEY") or config["SECRET_KEY"]
    secret = key
    digest = hashlib.sha256(b"orderflow-credentials\0" + str(secret).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def seal(values: dict[str, Any], *, key: str | None = None) -> str:
    """``values`` as one encrypted text for the database."""
    return _fernet(key).encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def open_sealed(token: str, *, key: str | None = None) -> dict[str, Any]:
    """The values sealed in ``token``; CredentialsUnreadableError when the key is not the one
    they were sealed with."""
    try:
        return json.loads(_fernet(key).decrypt(token.encode()))
    except (InvalidToken, ValueError):
        raise CredentialsUnreadableError(
            _l(
                "The stored credentials cannot be decrypted with this server's key "
                "(ORDERFLOW_SECRETS_KEY or SECRET_KEY changed since they were saved): "
                "enter the app key, app secret and session again."
            )
        ) from None
