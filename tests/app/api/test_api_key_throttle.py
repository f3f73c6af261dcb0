"""Bad API keys are throttled per key prefix and address, and never lock out a valid key
sent from the same address (clients behind one NAT)."""

from __future__ import annotations


def _get(client, key: str, address: str = "10.9.9.9", lang: str = "en"):
    return client.get(
        "/api/v1/orders",
        headers={"Authorization": f"Bearer {key}", "Accept-Language": lang},
        environ_base={"REMOTE_ADDR": address},
    )


def test_a_valid_key_works_after_a_flood_of_bad_keys_from_its_address(app, client, make_key):
    app.config.update(RATELIMIT_API_AUTH="3/60", RATELIMIT_API_AUTH_ADDRESS="5/60")
    valid = make_key(scopes=("orders:read",))
    statuses = [_get(client, f"of_{i:08x}_made-up").status_code for i in range(8)]
    assert statuses == [401] * 5 + [429] * 3  # the flood of made-up keys is bounded
    assert _get(client, valid).status_code == 200
    assert _get(client, "of_feedbeef_made-up").status_code == 429


def test_bad_attempts_are_limited_per_prefix_and_address(app, client, make_key):
    app.config.update(RATELIMIT_API_AUTH="3/60", RATELIMIT_API_AUTH_ADDRESS="100/60")
    valid = make_key(scopes=("orders:read",))
    prefix = valid.split("_")[1]
    wrong = f"of_{prefix}_not-the-secret"
    assert [_get(client, wrong).status_code for _ in range(5)] == [401, 401, 401, 429, 429]
    limited = _get(client, wrong)
    assert limited.json["error"]["code"] == "rate_limited"
    assert "failed API key checks" in limited.json["error"]["message"]
    assert int(limited.headers["Retry-After"]) >= 1
    in_zh = _get(client, wrong, lang="zh").json["error"]["message"]
    assert in_zh.startswith("来自 10.9.9.9 的 API 密钥校验失败次数过多。")
    # The same prefix from another address, and another prefix from this one, still count
    # on their own; the valid key itself is never refused.
    assert _get(client, wrong, address="10.8.8.8").status_code == 401
    assert _get(client, "of_0badc0de_x").status_code == 401
    assert _get(client, valid).status_code == 200
