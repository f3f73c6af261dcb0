"""Languages: Simplified Chinese and English through Flask-Babel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, g, has_request_context, request, session
from flask_babel import Babel, get_locale
from flask_babel import lazy_gettext as _l
from wtforms import SelectChoice

from .config import LANGUAGES

LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
ROLE_LABELS = {
    "admin": _l("Administrator"),
    "supervisor": _l("Flow supervisor"),
    "approver": _l("Approver"),
    "viewer": _l("Viewer"),
}


def language_choices(with_browser: bool = True) -> list[SelectChoice]:
    """Options of a language picker; the empty value means "follow the browser"."""
    options = [SelectChoice(code, name) for code, name in LANGUAGE_NAMES.items()]
    return [SelectChoice("", _l("Browser language")), *options] if with_browser else options


def localized(text: Any, lang: str) -> str:
    """A ``{"en", "zh"}`` text in ``lang`` (the other language when missing); plain text as is."""
    if isinstance(text, Mapping):
        other = "en" if lang == "zh" else "zh"
        return str(text.get(lang) or text.get(other) or "")
    return "" if text is None else str(text)


def in_reader_language(english: str, chinese: str) -> str:
    """Pick the reader's language of a text the libraries give in both (English outside
    a request, like the catalogue's messages)."""
    locale = get_locale() if has_request_context() else None
    return chinese if locale is not None and locale.language == "zh" else english


def current_language() -> str:
    """The language of this request's pages: "zh" or "en"."""
    locale = get_locale()
    return (locale.language if locale else "zh") or "zh"


def select_locale() -> str:
    """The user's setting, else the language picked in the header, else the browser's.

    Outside a request (the CLI, background tasks) messages are in English.
    """
    if not has_request_context():
        return "en"
    user = g.get("user")
    if user is not None and user.locale in LANGUAGES:
        return user.locale
    chosen = session.get("lang")
    if chosen in LANGUAGES:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or "zh"


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=select_locale)

    @app.template_filter("localized")
    def localized_filter(text: Any) -> str:
        return localized(text, current_language())

    @app.context_processor
    def inject_languages() -> dict[str, object]:
        return {
            "languages": LANGUAGE_NAMES,
            "current_language": current_language(),
            "role_labels": ROLE_LABELS,
        }
