"""API test fixtures: keys with chosen scopes and a client that sends them."""

from __future__ import annotations

import threading
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


@pytest.fixture
def first_intake_slowed(monkeypatch: pytest.MonkeyPatch) -> None:
    """The first order transaction takes 0.3 s, so that requests arriving with it queue
    behind it (and are then stored together by the group commit)."""
    from app.orders import intake

    receive, slowed = intake.receive, threading.Event()

    def slow_first(*args: Any, **kwargs: Any) -> Any:
        if not slowed.is_set():
            slowed.set()
            threading.Event().wait(0.3)
        return receive(*args, **kwargs)

    monkeypatch.setattr(intake, "receive", slow_first)


def at_once(count: int, call: Callable[[int], Any]) -> dict[int, Any]:
    """``call(i)`` for each i below ``count``, in threads released together; answers by i."""
    barrier = threading.Barrier(count)
    answers: dict[int, Any] = {}

    def run(i: int) -> None:
        barrier.wait()
        answers[i] = call(i)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return answers
