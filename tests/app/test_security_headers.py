"""Every response carries the browser security headers, and no page needs inline script."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

TEMPLATES = Path(__file__).resolve().parents[2] / "app" / "templates"


@pytest.mark.parametrize(
    "path",
    ["/login", "/", "/api/v1/orders", "/api/v1/openapi.json", "/static/css/app.css", "/nowhere"],
)
def test_every_response_has_the_security_headers(client, path):
    with client.get(path) as response:
        headers = response.headers
    policy = dict(
        (part.split(" ", 1) + [""])[:2] for part in headers["Content-Security-Policy"].split("; ")
    )
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no inline script, no eval
    assert policy["frame-ancestors"] == "'none'"
    assert policy["object-src"] == "'none'"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


INLINE_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.IGNORECASE)
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\ssrc=)(?![^>]*type=\"application/json\")[^>]*>")


def test_templates_have_no_inline_script():
    """The policy refuses inline script: handlers live in static/js, data in JSON blocks."""
    found = []
    for template in sorted(TEMPLATES.rglob("*.html")):
        text = template.read_text(encoding="utf-8")
        found += [f"{template.relative_to(TEMPLATES)}: {m.group(0)[:80]}"
                  for m in (*INLINE_HANDLER.finditer(text), *INLINE_SCRIPT.finditer(text))]  # fmt: skip
    assert found == []
