"""Log in, switch language and use the layout at phone width in real Chromium."""

from __future__ import annotations

import pytest

from .conftest import screenshot

PHONE = {"width": 360, "height": 740}


def _login(page, base: str, username: str, password: str = "correct-horse") -> None:
    page.goto(f"{base}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit].btn")
    page.wait_for_url(f"{base}/")


def _overflow(page) -> int:
    return page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")


@pytest.mark.parametrize("role", ["admin", "supervisor", "approver", "viewer"])
def test_each_role_logs_in_at_phone_width(live_server, page_for, make_user, role):
    make_user(f"{role}-1", roles=(role,))
    page = page_for(**PHONE, locale="zh-CN")
    _login(page, live_server, f"{role}-1")
    assert "欢迎" in page.inner_text("h1")
    assert _overflow(page) <= 0
    admin_links = page.locator("nav a[href='/admin/users']").count()
    assert admin_links == (1 if role == "admin" else 0)
    if role == "admin":
        page.click("nav a[href='/admin/users']")
        assert _overflow(page) <= 0, "the users table must scroll inside its panel"
        screenshot(page, "foundation-users-360")
    screenshot(page, f"foundation-home-{role}-360")


def test_language_switch_in_header(live_server, page_for, make_user):
    make_user("ann", roles=("viewer",))
    page = page_for(locale="zh-CN")
    page.goto(f"{live_server}/login")
    assert page.inner_text("h1") == "登录 OrderFlow"
    page.click("header button[name=lang][value=en]")
    page.wait_for_load_state()
    assert page.inner_text("h1") == "Log in to OrderFlow"
    _login(page, live_server, "ann")
    assert page.inner_text("h1").startswith("Welcome")


def test_wrong_password_message_in_browser(live_server, page_for, make_user):
    make_user("ann")
    page = page_for(**PHONE, locale="en-US")
    page.goto(f"{live_server}/login")
    page.fill("input[name=username]", "ann")
    page.fill("input[name=password]", "nope-nope")
    page.click("button[type=submit].btn")
    assert page.locator("[role=alert]").inner_text() == (
        "Wrong username or password. After 5 failed attempts in a row an account is locked"
        " for 15 minutes."
    )
    screenshot(page, "foundation-login-error-360")
