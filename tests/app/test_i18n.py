"""Chinese and English: browser language, header switch, user setting, full catalogs."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app.db import get_session
from app.users import services

from .conftest import csrf_token

ROOT = Path(__file__).resolve().parents[2]
PO = ROOT / "app/translations/zh/LC_MESSAGES/messages.po"
MO = PO.with_suffix(".mo")


@pytest.mark.parametrize(
    ("accept", "title"),
    [
        ("zh-CN,zh;q=0.9", "登录 OrderFlow"),
        ("en-US,en;q=0.8", "Log in to OrderFlow"),
        ("", "登录 OrderFlow"),
    ],
)
def test_browser_language_picks_the_page_language(client, accept, title):
    html = client.get("/login", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert title in html


def test_header_switch_changes_language_for_the_session(client):
    token = csrf_token(client)
    response = client.post("/language", data={"csrf_token": token, "lang": "en", "next": "/login"})
    assert response.status_code == 302 and response.location == "/login"
    assert "Log in to OrderFlow" in client.get(
        "/login", headers={"Accept-Language": "zh"}
    ).get_data(as_text=True)


def test_header_switch_refuses_unknown_language(client):
    token = csrf_token(client)
    client.post("/language", data={"csrf_token": token, "lang": "fr"})
    assert "登录 OrderFlow" in client.get("/login", headers={"Accept-Language": "zh"}).get_data(
        as_text=True
    )


def test_user_setting_beats_browser(app, client, login, make_user):
    make_user("ann", locale="en")
    login("ann")
    html = client.get("/", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "Welcome" in html and "欢迎" not in html


def test_account_page_saves_language(app, client, login, make_user):
    make_user("ann")
    login("ann")
    token = csrf_token(client, "/account")
    client.post("/account", data={"lang-csrf_token": token, "lang-locale": "zh"})
    with app.app_context():
        assert services.get_user(get_session(), "ann").locale == "zh"
    assert "欢迎" in client.get("/", headers={"Accept-Language": "en"}).get_data(as_text=True)


def test_every_page_string_has_a_chinese_translation():
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="zh")
    extracted = set()
    method_map = [("app/**.py", "python"), ("app/templates/**.html", "jinja2")]
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "_l": None, "lazy_gettext": None}
    for _filename, _lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, keywords=keywords, options_map={"app/templates/**.html": {}}
    ):
        extracted.add(message if isinstance(message, str) else message[0])
    missing = sorted(m for m in extracted if not (catalog.get(m) and catalog.get(m).string))
    assert missing == [], f"untranslated strings, run scripts/i18n.sh: {missing}"
    fuzzy = [m.id for m in catalog if m.id and m.fuzzy]
    assert fuzzy == []


def test_compiled_catalog_matches_the_po_file():
    with PO.open("rb") as fh:
        po = {m.id: m.string for m in read_po(fh, locale="zh") if m.id}
    mo = {m.id: m.string for m in read_mo(io.BytesIO(MO.read_bytes())) if m.id}
    assert po == mo, "messages.mo is stale: run 'bash scripts/i18n.sh compile'"
