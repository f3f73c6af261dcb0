"""Failed sign-ins are throttled per address across usernames, and a locked account answers
exactly like one that does not exist."""

from __future__ import annotations

import re
import time

from .conftest import csrf_token


def _attempt(app, username: str, password: str, address: str = "10.1.1.1", lang: str = "en"):
    client = app.test_client()
    token = csrf_token(client)
    return client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        headers={"Accept-Language": lang},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failed_logins_from_one_address_are_throttled_across_usernames(app, make_user):
    app.config["RATELIMIT_LOGIN"] = "4/600"
    make_user("ann")
    statuses = [_attempt(app, f"guess{i}", "wrong-password").status_code for i in range(4)]
    assert statuses == [401] * 4
    for lang, message in [
        ("en", "Too many failed sign-ins from your network address (10.1.1.1). Wait "),
        ("zh", "来自您的网络地址（10.1.1.1）的登录失败次数过多。请等待 "),
    ]:
        refused = _attempt(app, "ann", "correct-horse", lang=lang)  # even the right password
        assert refused.status_code == 429
        assert 1 <= int(refused.headers["Retry-After"]) <= 600
        assert message in refused.get_data(as_text=True)
    # Another address is not affected, nor is the account itself.
    assert _attempt(app, "ann", "correct-horse", address="10.2.2.2").status_code == 302


def test_successful_logins_from_one_address_are_not_counted(app, make_user):
    """An office behind one NAT address signs in every morning."""
    app.config["RATELIMIT_LOGIN"] = "1/600"
    for name in ("ann", "bob"):
        make_user(name)
        assert _attempt(app, name, "correct-horse").status_code == 302


def _error(response) -> str:
    match = re.search(
        r'<div class="flash error" role="alert">(.*?)</div>', response.get_data(as_text=True), re.S
    )
    assert match, "no error message on the login page"
    return match.group(1).strip()


def test_locked_account_and_unknown_user_get_the_same_answer(app, make_user):
    make_user("ann")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _attempt(app, "ann", "wrong-password")
    locked, unknown = _attempt(app, "ann", "correct-horse"), _attempt(app, "nobody", "x" * 12)
    assert locked.status_code == unknown.status_code == 401
    assert _error(locked) == _error(unknown)
    assert "locked for 15 minutes" in _error(locked)  # the rule is stated to everyone


def test_locked_account_takes_as_long_as_an_unknown_one(app, make_user):
    """The locked answer also checks a password hash, so its time does not tell either."""
    make_user("ann")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        _attempt(app, "ann", "wrong-password")

    def fastest(username: str) -> float:
        times = []
        for _ in range(3):
            client = app.test_client()
            data = {
                "username": username,
                "password": "correct-horse",
                "csrf_token": csrf_token(client),
            }
            started = time.perf_counter()
            assert client.post("/login", data=data).status_code == 401
            times.append(time.perf_counter() - started)
        return min(times)

    assert fastest("ann") > 0.5 * fastest("nobody")
