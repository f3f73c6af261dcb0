"""Configuration: defaults, environment variables and the instance folder."""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from .errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_INSTANCE = ROOT / "instance"

ROLES = ("admin", "supervisor", "approver", "viewer")
LANGUAGES = ("zh", "en")


def _bool(value: str) -> bool:
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _secret_key(instance: Path, name: str = "secret_key") -> str:
    """Return the instance's secret ``name``, generating it on first start."""
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    # Exclusive create: two processes starting together must agree on one key.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip()
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def load_config(overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build the configuration from defaults, ``ORDERFLOW_*`` variables and overrides."""
    overrides = dict(overrides or {})
    env = os.environ
    instance = Path(
        overrides.pop("INSTANCE_PATH", None)
        or env.get("ORDERFLOW_INSTANCE_PATH")
        or DEFAULT_INSTANCE
    ).resolve()
    instance.mkdir(parents=True, exist_ok=True)

    config: dict[str, Any] = {
        "INSTANCE_PATH": str(instance),
        "DATABASE_URL": env.get("DATABASE_URL") or f"sqlite:///{instance / 'orderflow.db'}",
        "REDIS_URL": env.get("REDIS_URL") or None,
        "QUEUE_NAME": env.get("ORDERFLOW_QUEUE_NAME", "orderflow"),
        "QUEUE_IMMEDIATE": _bool(env.get("ORDERFLOW_QUEUE_IMMEDIATE", "0")),
        # /demo/receiver/<name> for the demo's webhooks; `orderflow serve` turns it on.
        "DEMO_RECEIVER": _bool(env.get("ORDERFLOW_DEMO_RECEIVER", "0")),
        # Encrypts stored platform credentials (pull connectors); SECRET_KEY when unset.
        "SECRETS_KEY": env.get("ORDERFLOW_SECRETS_KEY") or None,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env.get("ORDERFLOW_SECURE_COOKIES", "0")),
        "SESSION_COOKIE_NAME": "orderflow_session",
        "PERMANENT_SESSION_LIFETIME": int(env.get("ORDERFLOW_SESSION_SECONDS", "43200")),
        "MAX_CONTENT_LENGTH": int(env.get("ORDERFLOW_MAX_CONTENT_LENGTH", str(2 * 1024 * 1024))),
        "MAX_FORM_MEMORY_SIZE": 512 * 1024,
        "MAX_FORM_PARTS": 200,
        "WTF_CSRF_TIME_LIMIT": None,
        "WTF_CSRF_SSL_STRICT": False,
        "BABEL_DEFAULT_LOCALE": "zh",
        "BABEL_TRANSLATION_DIRECTORIES": str(Path(__file__).parent / "translations"),
        # The channel delivery log: days kept, and at most this many rows per channel
        # (held deliveries stay until handled).
        "CHANNEL_DELIVERY_DAYS": int(env.get("ORDERFLOW_CHANNEL_DELIVERY_DAYS", "30")),
        "CHANNEL_DELIVERY_KEEP": int(env.get("ORDERFLOW_CHANNEL_DELIVERY_KEEP", "20000")),
        "LOGIN_MAX_FAILURES": int(env.get("ORDERFLOW_LOGIN_MAX_FAILURES", "5")),
        "LOGIN_LOCK_SECONDS": int(env.get("ORDERFLOW_LOGIN_LOCK_SECONDS", "900")),
        "TESTING": False,
    }
    config["SECRET_KEY"] = env.get("SECRET_KEY") or _secret_key(instance)
    # Receivers of outbound webhooks hold this one, so it is not the key that signs sessions
    # and approval links.
    config["WEBHOOK_SECRET"] = env.get("ORDERFLOW_WEBHOOK_SECRET") or _secret_key(
        instance, "webhook_secret"
    )
    config.update(overrides)
    _check(config)
    return config


def _check(config: dict[str, Any]) -> None:
    url = str(config["DATABASE_URL"])
    scheme = url.split(":", 1)[0]
    if not (scheme.startswith("sqlite") or scheme.startswith("postgresql")):
        raise ConfigError(
            f"DATABASE_URL must start with sqlite:/// or postgresql://, got {scheme!r}. "
            "Example: postgresql+psycopg://user:password@127.0.0.1:5432/orderflow"
        )
    redis_url = config.get("REDIS_URL")
    if redis_url and not str(redis_url).startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"REDIS_URL must start with redis://, got {redis_url!r}")


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url
