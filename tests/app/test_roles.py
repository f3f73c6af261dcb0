"""Every role sees and opens only what it is allowed to."""

from __future__ import annotations

import pytest

PAGES = ["/admin/users", "/admin/api-keys"]


@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("admin", {"/admin/users", "/admin/api-keys"}),
        ("supervisor", set()),
        ("approver", set()),
        ("viewer", set()),
    ],
)
def test_role_access_to_admin_pages(client, login, make_user, role, allowed):
    make_user("u1", roles=(role,))
    login("u1")
    for page in PAGES:
        response = client.get(page, headers={"Accept-Language": "en"})
        expected = 200 if page in allowed else 403
        assert response.status_code == expected, (role, page)
    home = client.get("/").get_data(as_text=True)
    for page in PAGES:
        assert (f'href="{page}"' in home) == (page in allowed), (role, page)


@pytest.mark.parametrize(
    ("lang", "text"),
    [("en", "You do not have permission to open this page."), ("zh", "您没有权限打开此页面。")],
)
def test_forbidden_page_is_translated(client, login, make_user, lang, text):
    make_user("vic", roles=("viewer",))
    login("vic")
    response = client.get("/admin/users", headers={"Accept-Language": lang})
    assert response.status_code == 403
    assert text in response.get_data(as_text=True)


def test_forbidden_htmx_request_gets_only_the_fragment(client, login, make_user):
    make_user("vic", roles=("viewer",))
    login("vic")
    response = client.get("/admin/users", headers={"HX-Request": "true"})
    html = response.get_data(as_text=True)
    assert response.status_code == 403
    assert 'data-error-code="forbidden"' in html and "<html" not in html


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        ("supervisor", ['data-home="flows"', "Build a new flow in the editor"],
         ['data-home="users"', "Connect a shop, ERP or WMS with an API key"]),
        ("approver", ['data-home="approvals"', "Open the approval inbox"],
         ['data-home="flows"', "Build a new flow in the editor", 'data-home="users"']),
        ("viewer", ["See how orders are doing on the dashboard", 'data-home="flows"'],
         ['data-home="approvals"', "Open the approval inbox",
          "Build a new flow in the editor", 'data-home="users"']),
        ("admin", ['data-home="users"', "Connect a shop, ERP or WMS with an API key"], []),
    ],
)  # fmt: skip
def test_home_page_fits_the_role(client, login, make_user, role, shown, hidden):
    """Each role's home leads to its own work and offers nothing it may not do."""
    make_user("u1", roles=(role,))
    login("u1")
    html = client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)
    for part in shown:
        assert part in html, (role, part)
    for part in hidden:
        assert part not in html, (role, part)


def test_admin_creates_user_and_changes_roles(client, login, make_user):
    from .conftest import csrf_token

    make_user("boss", roles=("admin",))
    login("boss")
    token = csrf_token(client, "/admin/users")
    created = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "li.qiang",
            "display_name": "李强",
            "password": "finance-2026",
            "roles": ["approver"],
            "locale": "zh",
        },
    )
    assert created.status_code == 302
    page = client.get("/admin/users", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "li.qiang" in page and "李强" in page

    duplicate = client.post(
        "/admin/users",
        data={
            "csrf_token": token,
            "username": "li.qiang",
            "password": "finance-2026",
            "roles": ["viewer"],
        },
        headers={"Accept-Language": "en"},
    )
    assert duplicate.status_code == 422
    assert "The username li.qiang is taken." in duplicate.get_data(as_text=True)

    from sqlalchemy import select

    from app.db import get_session
    from app.models import User

    with client.application.app_context():
        user = get_session().scalars(select(User).where(User.username == "li.qiang")).one()
        user_id = user.id
    changed = client.post(
        f"/admin/users/{user_id}/roles", data={"csrf_token": token, "roles": ["approver", "viewer"]}
    )
    assert changed.status_code == 302
    with client.application.app_context():
        user = get_session().get(User, user_id)
        assert user.role_names == {"approver", "viewer"}


def test_new_user_with_bad_fields_is_refused(client, login, make_user):
    from .conftest import csrf_token

    make_user("boss", roles=("admin",))
    login("boss")
    token = csrf_token(client, "/admin/users")
    response = client.post(
        "/admin/users",
        data={"csrf_token": token, "username": "x", "password": "short", "roles": []},
        headers={"Accept-Language": "en"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "The password must have 8 to 256 characters." in html
    assert "Choose at least one role." in html
