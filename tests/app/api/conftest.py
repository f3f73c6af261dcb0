"""API test fixtures: keys with chosen scopes and a client that sends them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from app.db import get_session
from app.security import API_SCOPES
from app.users import services as users


@pytest.fixture
def make_key(app: Flask, make_user: Callable[..., Any]) -> Callable[..., str]:
    """Factory: ``make_key(scopes=("orders:read",), owner="ann")`` → plaintext key."""
    owners: dict[str, Any] = {}

    def make(scopes: tuple[str, ...] = API_SCOPES, owner: str | None = None,
             roles: tuple[str, ...] = ("admin",)) -> str:  # fmt: skip
        user = None
        if owner:
            user = owners.get(owner) or make_user(owner, roles=roles)
            owners[owner] = user
        with app.app_context():
            _, plaintext = users.create_api_key(
                get_session(), user, name=f"test-{len(owners)}-{'-'.join(scopes)}"[:120],
                scopes=scopes,
            )  # fmt: skip
        return plaintext

    return make


class Api:
    """A test client that sends an API key and JSON."""

    def __init__(self, client: FlaskClient, key: str, lang: str = "en") -> None:
        self.client = client
        self.headers = {"Authorization": f"Bearer {key}", "Accept-Language": lang}

    def __getattr__(self, method: str) -> Callable[..., Any]:
        def call(path: str, headers: dict[str, str] | None = None, **kw: Any) -> Any:
            return getattr(self.client, method)(
                "/api/v1" + path, headers={**self.headers, **(headers or {})}, **kw
            )

        return call


@pytest.fixture
def api(client: FlaskClient, make_key: Callable[..., str]) -> Api:
    """A client with a key holding every scope, owned by an admin."""
    return Api(client, make_key(owner="apiowner"))
