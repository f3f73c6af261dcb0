"""Login, logout, lockout, CSRF, sessions and request size limits."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from app.db import get_session
from app.models import User, utcnow

from .conftest import csrf_token


def test_login_page_renders_form(client):
    page = client.get("/login", headers={"Accept-Language": "en"})
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'name="username"' in html and 'name="password"' in html
    assert 'name="csrf_token"' in html


def test_anonymous_is_sent_to_login_with_next(client):
    response = client.get("/admin/users")
    assert response.status_code == 302
    assert response.location == "/login?next=/admin/users"


def test_login_logout_round_trip(client, login, make_user):
    make_user("ann", roles=("viewer",))
    response = login("ann")
    assert response.status_code == 302 and response.location == "/"
    home = client.get("/", headers={"Accept-Language": "en"})
    assert home.status_code == 200 and "Welcome, ann" in home.get_data(as_text=True)

    token = csrf_token(client, "/")
    out = client.post("/logout", data={"csrf_token": token})
    assert out.status_code == 302 and out.location == "/login"
    assert client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/admin/users", "/admin/users"),
        ("https://evil.example/", "/"),
        ("//evil.example/x", "/"),
        ("javascript:alert(1)", "/"),
    ],
)
def test_login_redirects_only_to_local_paths(client, make_user, target, expected):
    make_user("ann", roles=("admin",))
    token = csrf_token(client)
    response = client.post(
        "/login",
        query_string={"next": target},
        data={"username": "ann", "password": "correct-horse", "csrf_token": token},
    )
    assert response.status_code == 302 and response.location == expected


@pytest.mark.parametrize(
    ("lang", "message"),
    [("en", "Wrong username or password."), ("zh", "用户名或密码错误。")],
)
@pytest.mark.parametrize("username", ["ann", "nobody"])
def test_wrong_password_and_unknown_user_get_the_same_message(
    login, make_user, lang, message, username
):
    make_user("ann")
    response = login(username, "not-the-password", **{"Accept-Language": lang})
    assert response.status_code == 401
    assert message in response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"username": "ann", "password": ""}, "Enter your password."),
        ({"username": "", "password": "x"}, "Enter your username."),
        ({"username": "ann" * 30, "password": "x"}, "Field cannot be longer than 64 characters."),
    ],
)
def test_empty_or_oversized_fields_are_explained(client, make_user, data, message):
    make_user("ann")
    token = csrf_token(client)
    response = client.post(
        "/login", data={**data, "csrf_token": token}, headers={"Accept-Language": "en"}
    )
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)


def test_lockout_after_repeated_failures(app, client, login, make_user):
    make_user("ann")
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert login("ann", "wrong-password").status_code == 401
    locked = login("ann", "correct-horse", **{"Accept-Language": "en"})
    assert locked.status_code == 401  # the same answer as a wrong password (no account hint)
    assert "an account is locked for 15 minutes." in locked.get_data(as_text=True)

    with app.app_context():
        db = get_session()
        user = db.scalars(select(User).where(User.username == "ann")).one()
        user.locked_until = utcnow() - timedelta(seconds=1)
        db.commit()
    assert login("ann", "correct-horse").status_code == 302


def test_successful_login_resets_failure_count(app, login, make_user):
    make_user("ann")
    login("ann", "wrong-password")
    login("ann", "wrong-password")
    assert login("ann").status_code == 302
    with app.app_context():
        user = get_session().scalars(select(User).where(User.username == "ann")).one()
        assert user.failed_logins == 0 and user.last_login_at is not None


def test_inactive_user_cannot_log_in(app, login, make_user):
    make_user("ann")
    with app.app_context():
        db = get_session()
        db.scalars(select(User).where(User.username == "ann")).one().is_active = False
        db.commit()
    assert login("ann").status_code == 401


def test_post_without_csrf_token_is_refused(client, make_user):
    make_user("ann")
    response = client.post(
        "/login",
        data={"username": "ann", "password": "correct-horse"},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 400
    assert "The form has expired or was not sent from OrderFlow" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302  # still logged out


def test_csrf_rejection_is_translated(client, login, make_user):
    make_user("ann", roles=("admin",))
    login("ann")
    response = client.post(
        "/logout", data={"csrf_token": "forged"}, headers={"Accept-Language": "zh"}
    )
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)
    assert client.get("/").status_code == 200  # the forged logout did nothing


def test_session_cookie_flags(client, login, make_user):
    make_user("ann")
    response = login("ann")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_password_change_ends_other_sessions(app, client, login, make_user):
    make_user("ann")
    login("ann")
    other = app.test_client()
    token = csrf_token(other)
    other.post("/login", data={"username": "ann", "password": "correct-horse", "csrf_token": token})
    assert other.get("/").status_code == 200

    token = csrf_token(client, "/account")
    response = client.post(
        "/account",
        data={
            "pw-csrf_token": token,
            "pw-current": "correct-horse",
            "pw-new": "battery-staple",
            "pw-confirm": "battery-staple",
        },
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200  # the session that changed it stays in
    assert other.get("/").status_code == 302  # the other one is logged out


def test_password_change_with_wrong_current_password(client, login, make_user):
    make_user("ann")
    login("ann")
    token = csrf_token(client, "/account")
    response = client.post(
        "/account",
        data={
            "pw-csrf_token": token,
            "pw-current": "nope",
            "pw-new": "battery-staple",
            "pw-confirm": "battery-staple",
        },
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 422
    assert "The current password is wrong." in response.get_data(as_text=True)


def test_oversized_form_is_refused_with_a_page(client, make_user):
    make_user("ann")
    token = csrf_token(client)
    response = client.post(
        "/login",
        data={"username": "ann", "password": "x" * (3 * 1024 * 1024), "csrf_token": token},
        headers={"Accept-Language": "en"},
    )
    assert response.status_code == 413
    assert "The data you sent is too large." in response.get_data(as_text=True)


def test_unknown_page_is_a_translated_404(client):
    response = client.get("/no-such-page", headers={"Accept-Language": "zh"})
    assert response.status_code == 404
    assert "页面不存在" in response.get_data(as_text=True)


def test_passwords_are_hashed_with_argon2_at_the_recommended_cost():
    """The suite turns the cost down to run fast (see conftest); the app keeps RFC 9106's
    second recommended setting's memory and more passes: 64 MiB, 3 passes, 4 lanes."""
    from .conftest import PRODUCTION_HASHER

    hashed = PRODUCTION_HASHER.hash("correct-horse")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    assert PRODUCTION_HASHER.verify(hashed, "correct-horse")
