"""Rate limits: webhooks per channel and apart from the API's limit, the documentation never
limited, the sign-in page still shown to an address over its limit, limits lapsing while
Redis is down, and one count shared through Redis by every app using it."""

from __future__ import annotations

import os
import uuid

import pytest
import redis

from ..conftest import csrf_token

REDIS_URL = os.environ.get("REDIS_URL", "")
UNKNOWN_KEY = {"Authorization": "Bearer of_00000000_not-a-key"}


def _webhook(client, channel: str):
    return client.post(
        f"/api/v1/channels/{channel}/webhook", data=b"{}", content_type="application/json"
    )


def test_webhooks_are_limited_per_channel_and_not_by_the_api_limit(app, client):
    app.config.update(RATELIMIT_WEBHOOK="2/60", RATELIMIT_API="1/60")
    # No such channel (404): the limit is checked before the channel is looked up.
    assert [_webhook(client, "shop").status_code for _ in range(3)] == [404, 404, 429]
    limited = _webhook(client, "shop")
    assert limited.json["error"]["code"] == "rate_limited"
    assert int(limited.headers["Retry-After"]) >= 1
    assert _webhook(client, "other").status_code == 404  # each channel counts on its own
    # Six webhooks from this address, and its API budget of one call is still whole.
    assert client.get("/api/v1/orders").status_code == 401
    assert client.get("/api/v1/orders").status_code == 429
    assert client.get("/api/v1/openapi.json").status_code == 200  # the docs are not metered
    app.config["RATELIMIT_WEBHOOK"] = ""  # off: webhooks do not fall under the API limit
    assert [_webhook(client, "shop").status_code for _ in range(3)] == [404] * 3


def test_the_sign_in_page_still_opens_for_an_address_over_its_limit(app, make_user):
    app.config["RATELIMIT_LOGIN"] = "1/600"
    make_user("ann")
    client = app.test_client()

    def sign_in(password: str):
        data = {"username": "ann", "password": password, "csrf_token": csrf_token(client)}
        return client.post("/login", data=data)

    assert sign_in("wrong-password").status_code == 401
    assert sign_in("correct-horse").status_code == 429
    assert client.get("/login").status_code == 200


def test_limits_lapse_while_redis_is_unreachable(make_app):
    app = make_app(
        REDIS_URL="redis://127.0.0.1:1/0",
        RATELIMIT_API="1/60",
        RATELIMIT_API_AUTH="1/60",
        RATELIMIT_API_AUTH_ADDRESS="1/60",
    )
    client = app.test_client()
    statuses = [client.get("/api/v1/orders", headers=UNKNOWN_KEY).status_code for _ in range(3)]
    assert statuses == [401] * 3  # neither refused nor failing: the limits are not counted


@pytest.mark.skipif(not REDIS_URL, reason="counts are shared only through Redis (REDIS_URL)")
def test_apps_on_one_redis_share_one_count(app, make_app):
    app.config["RATELIMIT_API"] = "2/60"
    first = app.test_client()
    assert [first.get("/api/v1/orders").status_code for _ in range(2)] == [401, 401]
    # Another process's app: a limiter and storage of its own, the same Redis and queue name.
    second = make_app(RATELIMIT_API="2/60")
    refused = second.test_client().get("/api/v1/orders")
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) >= 1
    with redis.Redis.from_url(REDIS_URL) as server:
        stored = server.keys(f"{app.config['QUEUE_NAME']}:rl:*")
    assert stored, "the counts are kept in Redis under the deployment's queue name"
    # Another deployment on the same Redis (another queue name) counts on its own.
    other = make_app(RATELIMIT_API="2/60", QUEUE_NAME=f"test-{uuid.uuid4().hex[:12]}")
    assert other.test_client().get("/api/v1/orders").status_code == 401
