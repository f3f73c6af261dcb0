"""Rate limits: fixed windows counted in Redis (shared by every process) or in memory.

A limit is written ``"COUNT/SECONDS"`` (``"30/60"``: thirty requests a minute) and set in the
configuration or the environment (``ORDERFLOW_RATELIMIT_API``, ``..._WEBHOOK``,
``..._PUBLIC``, ``..._API_AUTH``, ``..._API_AUTH_ADDRESS``, ``..._LOGIN``); ``"0/1"`` or an
empty value turns a limit off. Without ``REDIS_URL`` every process counts for itself, so
with N web processes a client may get up to N times the limit.
"""

from __future__ import annotations

import functools
import math
import os
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, current_app, request
from flask_babel import lazy_gettext as _l

from .errors import AppError, _render

F = TypeVar("F", bound=Callable[..., Any])
EXTENSION_KEY = "orderflow.ratelimit"
DEFAULTS = {
    "RATELIMIT_API": "3000/1",
    "RATELIMIT_WEBHOOK": "1000/1",
    "RATELIMIT_PUBLIC": "30/60",
    # Failed API key checks per address and key prefix: a client sending a wrong or revoked
    # key is slowed down without touching the other clients behind the same address.
    "RATELIMIT_API_AUTH": "10/60",
    # Failed API key checks per address over all prefixes: made-up keys cannot buy fresh
    # buckets for ever. A valid key is never refused by either.
    "RATELIMIT_API_AUTH_ADDRESS": "120/60",
    # Failed sign-ins per address over all usernames (each account also locks on its own).
    "RATELIMIT_LOGIN": "30/600",
}


class RateLimitedError(AppError):
    code = "rate_limited"
    status = 429

    def __init__(self, retry_after: int, message: Any = None) -> None:
        super().__init__(message or _l("Too many requests. Please wait a moment and try again."))
        self.retry_after = retry_after


def parse(spec: str | None) -> tuple[int, int] | None:
    """``"30/60"`` → ``(30, 60)``; ``None`` when the limit is off."""
    if not spec:
        return None
    count, _, seconds = str(spec).partition("/")
    limit, window = int(count), int(seconds or 1)
    if limit <= 0 or window <= 0:
        return None
    return limit, window


class MemoryCounter:
    """Per-process fixed-window counters (the embedded single-process deployment)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[int, int]] = {}

    def hit(self, key: str, window: int, now: float) -> int:
        slot = int(now // window)
        with self._lock:
            seen_slot, count = self._counts.get(key, (slot, 0))
            count = count + 1 if seen_slot == slot else 1
            self._counts[key] = (slot, count)
            if len(self._counts) > 100_000:  # forget old windows rather than grow forever
                self._counts = {k: v for k, v in self._counts.items() if v[0] == slot}
            return count

    def peek(self, key: str, window: int, now: float) -> int:
        slot = int(now // window)
        with self._lock:
            seen_slot, count = self._counts.get(key, (slot, 0))
        return count if seen_slot == slot else 0


class RedisCounter:
    """Counters shared by every process through Redis (``INCR`` + ``EXPIRE``)."""

    def __init__(self, url: str, namespace: str) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._namespace = namespace

    def hit(self, key: str, window: int, now: float) -> int:
        slot = int(now // window)
        name = f"{self._namespace}:rl:{key}:{slot}"
        pipe = self._redis.pipeline(transaction=False)
        pipe.incr(name)
        pipe.expire(name, window + 1)
        count, _ = pipe.execute()
        return int(count)

    def peek(self, key: str, window: int, now: float) -> int:
        value = self._redis.get(f"{self._namespace}:rl:{key}:{int(now // window)}")
        return int(value or 0)


def _counter(app: Flask) -> MemoryCounter | RedisCounter:
    counter = app.extensions.get(EXTENSION_KEY)
    if counter is None:
        url = app.config.get("REDIS_URL")
        # The queue name separates deployments (and test runs) sharing one Redis.
        namespace = str(app.config.get("QUEUE_NAME") or "orderflow")
        counter = RedisCounter(url, namespace) if url else MemoryCounter()
        app.extensions[EXTENSION_KEY] = counter
    return counter


def client_address() -> str:
    """The caller's address (behind a proxy, configure ProxyFix so this is the client's)."""
    return request.remote_addr or "unknown"


def _over(name: str, who: str, *, count_this: bool) -> int | None:
    """Seconds until ``who``'s window of limit ``name`` ends if it is over; else ``None``."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # a LocalProxy
    limit = parse(app.config.get(name, DEFAULTS.get(name)))
    if limit is None:
        return None
    allowed, window = limit
    now = time.time()
    try:
        counter = _counter(app)
        if count_this:
            over = counter.hit(f"{name}:{who}", window, now) > allowed
        else:
            over = counter.peek(f"{name}:{who}", window, now) >= allowed
    except Exception:  # a Redis outage must not take the API down; the limit lapses
        app.logger.warning("rate limit %s not checked: counter unavailable", name)
        return None
    return max(1, math.ceil(window - (now % window))) if over else None


def check(name: str, who: str) -> None:
    """Count one request of ``who`` against the limit ``name``; raise when over it."""
    retry_after = _over(name, who, count_this=True)
    if retry_after is not None:
        raise RateLimitedError(retry_after)


def count(name: str, who: str) -> int | None:
    """Count one event of ``who`` (a failure) against the limit ``name``, refusing nothing;
    return the seconds to wait when ``who`` is now over it."""
    return _over(name, who, count_this=True)


def refuse_if_over(name: str, who: str) -> None:
    """Raise when ``who`` is already over limit ``name``, without counting this request."""
    retry_after = _over(name, who, count_this=False)
    if retry_after is not None:
        raise RateLimitedError(retry_after)


def limited(name: str, who: Callable[[], str] = client_address) -> Callable[[F], F]:
    """Apply the configured limit ``name`` to a view, counted per ``who()``."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            check(name, who())
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]  # functools.wraps keeps the signature

    return decorator


def init_app(app: Flask) -> None:
    """Set the default limits and answer 429 with ``Retry-After`` (idempotent)."""
    for key, value in DEFAULTS.items():
        app.config.setdefault(key, os.environ.get(f"ORDERFLOW_{key}", value))
    if app.extensions.get(EXTENSION_KEY + ".init"):
        return
    app.extensions[EXTENSION_KEY + ".init"] = True

    @app.errorhandler(RateLimitedError)
    def too_many(err: RateLimitedError) -> Any:

        response, status = _render(err.status, err.code, str(err.message))
        if not isinstance(response, str):
            response.headers["Retry-After"] = str(err.retry_after)
            return response, status
        return response, status, {"Retry-After": str(err.retry_after)}
