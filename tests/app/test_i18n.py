"""Chinese and English: browser language, header switch, user setting, full catalogs."""

from __future__ import annotations

import io
import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from app.db import get_session
from app.i18n import code_label
from app.runs.effects import fill
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
    def plain(value):  # a plural message's forms come as a list or a tuple
        return tuple(value) if isinstance(value, list | tuple) else value

    with PO.open("rb") as fh:
        po = {plain(m.id): plain(m.string) for m in read_po(fh, locale="zh") if m.id}
    mo = {plain(m.id): plain(m.string) for m in read_mo(io.BytesIO(MO.read_bytes())) if m.id}
    assert po == mo, "messages.mo is stale: run 'bash scripts/i18n.sh compile'"


def _schema_texts(schema, where, names=None):
    """(where, what is missing) for every help, title and choice of a config schema; a list's
    choices may be named on the list (``names``)."""
    if isinstance(schema, list):
        for i, sub in enumerate(schema):
            yield from _schema_texts(sub, f"{where}[{i}]")
        return
    if not isinstance(schema, dict):
        return
    if isinstance(schema.get("description"), str) and not schema.get("x-description-zh"):
        yield where, f"help without x-description-zh: {schema['description']!r}"
    if isinstance(schema.get("title"), str) and not schema.get("x-title-zh"):
        yield where, f"title without x-title-zh: {schema['title']!r}"
    names = schema.get("x-enum-zh") or names or {}
    for value in schema.get("enum") or ():
        # Upper-case values (HTTP methods) are the words themselves.
        if isinstance(value, str) and not value.isupper() and value not in names:
            yield where, f"choice {value!r} without a Chinese name in x-enum-zh"
    for key, sub in schema.items():
        if key == "properties" and isinstance(sub, dict):
            for name, prop in sub.items():
                yield from _schema_texts(prop, f"{where}.{name}")
        elif key == "items":
            yield from _schema_texts(sub, f"{where}[]", schema.get("x-enum-zh"))
        elif key in ("oneOf", "anyOf", "allOf", "additionalProperties", "$defs"):
            yield from _schema_texts(sub, f"{where}.{key}")


def test_every_node_help_title_and_choice_has_a_chinese_twin():
    from flow_engine import NODE_HANDLERS

    missing = [
        f"{where}: {what}"
        for node_type, handler in NODE_HANDLERS.items()
        for where, what in _schema_texts(dict(handler.config_schema), node_type)
    ]
    assert missing == [], "node config schemas need zh twins:\n" + "\n".join(missing)


def test_every_editor_script_string_is_in_the_translated_dictionary():
    # The editor scripts show only texts of editor/_i18n.html (translated on the server).
    keys = set(
        re.findall(r"'([a-z0-9_]+)':", (ROOT / "app/templates/editor/_i18n.html").read_text())
    )
    used = set()
    for script in (ROOT / "static/js/editor").glob("*.js"):
        used |= set(re.findall(r"OF\.t\('([a-z0-9_]+)'\)", script.read_text()))
        used |= set(re.findall(r"OF\.t\('([a-z0-9_]+)',", script.read_text()))
    assert sorted(used - keys) == []


@pytest.mark.parametrize(
    ("code", "kind", "zh", "en"),
    [
        ("waiting", "run_status", "等待中", "waiting"),
        ("incident", "run_status", "异常（运行已停）", "incident (run stopped)"),
        ("run_started", "event", "运行开始", "Run started"),
        ("node_passed", "event", "经过节点", "Passed node"),
        ("critical", "severity", "严重", "critical"),
        ("gap", "finding", "缺口（没有行命中）", "gap (no row matches)"),
        ("timeout", "branch", "超时", "timed out"),
        ("wecom", "channel", "企业微信", "WeCom"),
        ("large_path", "branch", "large_path", "large_path"),
        (None, "event", "—", "—"),
    ],
)
def test_stored_codes_read_in_each_language(app, code, kind, zh, en):
    for lang, expected in (("zh", zh), ("en", en)):
        with app.test_request_context("/", headers={"Accept-Language": lang}):
            assert code_label(code, kind) == expected


def test_a_missing_value_in_a_message_is_a_dash_never_none():
    assert fill("客户 {customer} 的采购单 {po}", {"customer": None, "po": "PO-1"}) == (
        "客户 — 的采购单 PO-1"
    )
