"""Fixtures for app tests: a migrated database per test, app, client, runner, factories.

SQLite (default): the schema is migrated once into a template file, and each test gets a
copy. PostgreSQL (``DATABASE_URL`` set, as in CI's second pass): the throw-away database is
migrated once and every table but the seeded ones is emptied after each test.
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import text

from app import create_app, security
from app.db import get_db, get_session
from app.migrate import upgrade
from app.models import Base, User
from app.users import services

SEEDED_TABLES = {"roles"}

# Passwords are hashed with Argon2 as in production, with the cost turned down: at the
# default cost (64 MiB, 3 passes) every user a test creates and every login it makes takes
# about 0.2 s of CPU, minutes over the suite. A hash records its own cost, so checking one
# works the same either way; tests that need the production cost build their own hasher.
PRODUCTION_HASHER = security._hasher
security._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
security._DUMMY_HASH = security._hasher.hash("not-a-password")
PG_URL = os.environ.get("DATABASE_URL", "")
USING_PG = PG_URL.startswith("postgres")


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A database migrated to head: a SQLite file to copy, or the PostgreSQL URL."""
    if USING_PG:
        upgrade(PG_URL)
        return PG_URL
    path = tmp_path_factory.mktemp("template") / "orderflow.db"
    upgrade(f"sqlite:///{path}")
    return str(path)


@pytest.fixture
def database_url(template_db: str, tmp_path: Path) -> Iterator[str]:
    if USING_PG:
        yield template_db
        return
    target = tmp_path / "orderflow.db"
    shutil.copy(template_db, target)
    yield f"sqlite:///{target}"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": database_url,
        "QUEUE_NAME": f"test-{uuid.uuid4().hex[:12]}",
        "SECRET_KEY": "test-secret",
        # Outbound webhooks go only to allowed hosts; tests receive them on loopback.
        "OUTBOX_ALLOWED_HOSTS": "127.0.0.1",
    }


@pytest.fixture
def app(app_config: dict[str, Any]) -> Iterator[Flask]:
    application = create_app(app_config)
    yield application
    database = get_db(application)
    if USING_PG:
        with database.engine.begin() as conn:
            conn.execute(text(_pg_reset(conn)))
    database.dispose()


_PG_RESET: list[str] = []


def _pg_reset(conn: Any) -> str:
    """What empties the test database between tests: each table deleted from (children
    first) and its id sequences restarted, in one round trip. TRUNCATE does the same at
    about ten times the cost on tables this small, and waits for every other connection."""
    if not _PG_RESET:
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)
                  if t.name not in SEEDED_TABLES]  # fmt: skip
        sequences = conn.execute(
            text(
                "SELECT s.relname FROM pg_class s JOIN pg_depend d ON d.objid = s.oid "
                "JOIN pg_class t ON d.refobjid = t.oid "
                "WHERE s.relkind = 'S' AND d.deptype IN ('a', 'i') AND t.relname = ANY(:tables)"
            ),
            {"tables": tables},
        ).scalars()
        _PG_RESET.append(
            "".join(f'DELETE FROM "{t}";' for t in tables)
            + "".join(f'ALTER SEQUENCE "{name}" RESTART;' for name in sequences)
        )
    return _PG_RESET[0]


@pytest.fixture
def make_app(app_config: dict[str, Any]) -> Iterator[Callable[..., Flask]]:
    """Factory for extra apps with config overrides; their connections close afterwards."""
    made: list[Flask] = []

    def make(**overrides: Any) -> Flask:
        application = create_app({**app_config, **overrides})
        made.append(application)
        return application

    yield make
    for application in made:
        get_db(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def make_user(app: Flask) -> Callable[..., User]:
    """Factory: ``make_user("ann", roles=("viewer",), password="...")``."""

    def make(
        username: str = "user",
        roles: tuple[str, ...] = ("viewer",),
        password: str = "correct-horse",
        **kw: Any,
    ) -> User:
        from .org_fixtures import user_holds_access_roles

        with app.app_context():
            user = services.create_user(
                get_session(), None, username=username, password=password, roles=roles, **kw
            )
            user_holds_access_roles(get_session(), user)
            get_session().commit()
            return user

    return make


CSRF_RE = re.compile(
    r'name="csrf_token" type="hidden" value="([^"]+)"|name="csrf_token" value="([^"]+)"'
)


def csrf_token(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token of the client's session, read from a page as a browser would."""
    page = client.get(path).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {path}"
    return match.group(1) or match.group(2)


@pytest.fixture
def login(client: FlaskClient) -> Callable[..., Any]:
    """Log the test client in through the real login form."""

    def do_login(username: str, password: str = "correct-horse", **headers: str) -> Any:
        token = csrf_token(client)
        return client.post(
            "/login",
            data={"username": username, "password": password, "csrf_token": token},
            headers=headers,
        )

    return do_login
