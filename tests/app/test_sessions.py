"""Sessions end on the server: a copied cookie stops working after logout, a password
change, deactivation or an admin's "sign out everywhere"."""

from __future__ import annotations

from flask.testing import FlaskClient

from .conftest import csrf_token

COOKIE = "orderflow_session"


def _sign_in(app, username: str) -> FlaskClient:
    client = app.test_client()
    token = csrf_token(client)
    response = client.post(
        "/login", data={"username": username, "password": "correct-horse", "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def _copy(app, client: FlaskClient) -> FlaskClient:
    """Another client holding a copy of ``client``'s session cookie (a stolen cookie)."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    assert thief.get("/").status_code == 200
    return thief


def test_logout_ends_a_copied_session_cookie(app, make_user):
    make_user("ann")
    client = _sign_in(app, "ann")
    thief = _copy(app, client)
    client.post("/logout", data={"csrf_token": csrf_token(client, "/")})
    assert thief.get("/").status_code == 302
    assert thief.get("/account").location.startswith("/login")


def _admin_post(admin: FlaskClient, path: str, **data: str):
    token = csrf_token(admin, "/admin/users")
    return admin.post(path, data={"csrf_token": token, **data}, headers={"Accept-Language": "en"})


def test_deactivating_a_user_ends_their_sessions_and_login(app, make_user):
    ann = make_user("ann")
    make_user("boss", roles=("admin",))
    stolen = _copy(app, _sign_in(app, "ann"))
    admin = _sign_in(app, "boss")
    response = _admin_post(admin, f"/admin/users/{ann.id}/active", active="0")
    assert response.status_code == 302
    assert stolen.get("/").status_code == 302
    fresh = app.test_client()
    refused = fresh.post(
        "/login",
        data={"username": "ann", "password": "correct-horse", "csrf_token": csrf_token(fresh)},
    )
    assert refused.status_code == 401
    page = admin.get("/admin/users", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Inactive" in page

    assert _admin_post(admin, f"/admin/users/{ann.id}/active", active="1").status_code == 302
    assert stolen.get("/").status_code == 302  # reactivation does not revive old cookies
    _sign_in(app, "ann")


def test_admin_signs_a_user_out_everywhere(app, make_user):
    ann = make_user("ann")
    make_user("boss", roles=("admin",))
    phone, laptop = _sign_in(app, "ann"), _sign_in(app, "ann")
    admin = _sign_in(app, "boss")
    response = _admin_post(admin, f"/admin/users/{ann.id}/sign-out")
    assert response.status_code == 302
    flash = admin.get("/admin/users", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "ann is signed out on every device." in flash
    assert phone.get("/").status_code == 302 and laptop.get("/").status_code == 302
    assert admin.get("/").status_code == 200  # the admin's own session is untouched
    _sign_in(app, "ann")


def test_only_admins_can_end_other_sessions(app, make_user):
    ann = make_user("ann")
    make_user("sup", roles=("supervisor",))
    other = _sign_in(app, "sup")
    token = csrf_token(other, "/")
    assert (
        other.post(f"/admin/users/{ann.id}/sign-out", data={"csrf_token": token}).status_code == 403
    )
    assert (
        other.post(
            f"/admin/users/{ann.id}/active", data={"csrf_token": token, "active": "0"}
        ).status_code
        == 403
    )
