"""The browser's icon: linked from every page and answered at /favicon.ico."""

from __future__ import annotations


def test_favicon_is_served_and_linked(client):
    moved = client.get("/favicon.ico")
    assert (moved.status_code, moved.location) == (301, "/static/favicon.svg")
    icon = client.get(moved.location)
    assert icon.status_code == 200
    assert icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
    icon.close()
    login_page = client.get("/login").get_data(as_text=True)
    assert '<link rel="icon" type="image/svg+xml" href="/static/favicon.svg">' in login_page
