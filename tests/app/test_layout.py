"""The base layout: vendored assets only, responsive meta, htmx wired with CSRF."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pages_load_no_external_resources(client, login, make_user):
    make_user("boss", roles=("admin",))
    login("boss")
    for path in ["/", "/admin/users", "/admin/api-keys", "/account"]:
        html = client.get(path).get_data(as_text=True)
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources, path
        assert not [s for s in sources if s.startswith(("http:", "https:", "//"))], path
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in html


def test_htmx_is_vendored_with_version_and_license(client):
    response = client.get("/static/vendor/htmx/htmx.min.js")
    assert response.status_code == 200 and b"htmx" in response.data[:2000]
    response.close()
    readme = (ROOT / "static/vendor/README.md").read_text()
    assert "htmx.org" in readme and "2.0.11" in readme
    assert (ROOT / "static/vendor/htmx/LICENSE").exists()


def test_htmx_requests_carry_the_csrf_token(client):
    html = client.get("/login").get_data(as_text=True)
    assert re.search(r"hx-headers='\{\"X-CSRFToken\": \"[^\"]+\"\}'", html)
