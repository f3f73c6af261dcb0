"""Languages: Simplified Chinese and English through Flask-Babel."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from flask import Flask, g, has_request_context, request, session
from flask_babel import Babel, force_locale, get_locale
from flask_babel import lazy_gettext as _l
from markupsafe import Markup, escape
from wtforms import SelectChoice  # type: ignore[attr-defined]  # WTForms 3.2; types-WTForms lacks it

from .config import LANGUAGES
from .sales_channels import channel_name, sales_channels

T = TypeVar("T")
LANGUAGE_NAMES = {"zh": "中文", "en": "English"}
ROLE_LABELS = {
    "admin": _l("Administrator"),
    "supervisor": _l("Flow supervisor"),
    "approver": _l("Approver"),
    "viewer": _l("Viewer"),
}

# Codes the engine and the app store, as readers see them (unknown codes stay as they are).
CODE_LABELS: dict[str, dict[str, Any]] = {
    "run_status": {
        "new": _l("new run"),
        "waiting": _l("waiting"),
        "completed": _l("run completed"),
        "incident": _l("incident (run stopped)"),
        "cancelled": _l("run cancelled"),
    },
    "event": {
        "run_started": _l("Run started"),
        "node_passed": _l("Passed node"),
        "node_waiting": _l("Waiting at node"),
        "join_waiting": _l("Waiting at join"),
        "incident": _l("Incident"),
        "retried": _l("Retried"),
        "run_completed": _l("Run completed"),
        "run_cancelled": _l("Run cancelled"),
        "token_cancelled": _l("Branch withdrawn"),
        "event_received": _l("Event received"),
        "event_ignored": _l("Event ignored"),
        "event_deferred": _l("Event held back"),
    },
    # What a notification message template is for (notifications.messages.EVENTS).
    "notification_event": {
        "approval_needed": _l("Approval needed"),
        "approval_reminder": _l("Approval reminder"),
        "approval_escalated": _l("Approval escalated"),
        "approval_delegated": _l("Approval handed over"),
        "approval_info": _l("Sent back for more information"),
        "approval_cc": _l("Approval copied to you"),
        "approval_mention": _l("Mentioned in an approval comment"),
        "flow_message": _l("Flow notify node"),
    },
    # A message template's language, named in that language.
    "template_language": {"zh": "中文", "en": "English"},
    # The engine's own exits; a switch's case names are the flow's own words.
    "branch": {
        "true": _l("yes"),
        "false": _l("no"),
        "default": _l("default"),
        "approved": _l("approved"),
        "rejected": _l("rejected"),
        "timeout": _l("timed out"),
        "found": _l("found"),
        "none": _l("none found"),
        "reserved": _l("reserved"),
        "insufficient": _l("not enough stock"),
        "single": _l("one warehouse"),
        "split": _l("split"),
        "unavailable": _l("unavailable"),
        "received": _l("received"),
        "no_match": _l("no match"),
    },
    # Entered with their {"en", "zh"} names by app.notifications.kinds when the app is built.
    "channel": {},
    "tier": {
        "standard": _l("standard"),
        "silver": _l("silver"),
        "gold": _l("gold"),
        "platinum": _l("platinum"),
        "vip": _l("VIP"),
    },
    "field_type": {
        "string": _l("text"),
        "number": _l("number"),
        "integer": _l("whole number"),
        "boolean": _l("yes/no"),
        "date": _l("date"),
        "datetime": _l("date and time"),
        "duration": _l("duration"),
    },
    "severity": {"info": _l("info"), "warning": _l("warning"), "critical": _l("critical")},
    "finding": {
        "gap": _l("gap (no row matches)"),
        "overlap": _l("overlap (several rows match)"),
        "unreachable": _l("unreachable row"),
    },
}


def code_label(code: Any, kind: str) -> str:
    """``code`` (a run status, audit event kind, alert severity ...) in the reader's words."""
    if code is None or code == "":
        return "—"
    known = CODE_LABELS[kind].get(str(code))
    return _text(known) if known is not None else str(code)


def _text(label: Any) -> str:
    """A catalogue string, or a ``{"en", "zh"}`` name, in the reader's language."""
    if isinstance(label, Mapping):
        return str(in_reader_language(label.get("en"), label.get("zh")))
    return str(label)


_CODE_SPAN = re.compile(r"`([^`]+)`")


def with_code(text: Any) -> Markup:
    """Plain text whose `backquoted` parts (codes, DSL) are shown as code."""
    escaped = str(escape(text or ""))
    # The text is escaped first; only the <code> tags added here are markup.
    return Markup(_CODE_SPAN.sub(lambda m: f"<code>{m[1]}</code>", escaped))  # noqa: S704


def code_labels_of(kind: str) -> dict[str, str]:
    """Every label of one kind of code in the reader's language (for the page scripts)."""
    return {code: _text(label) for code, label in CODE_LABELS[kind].items()}


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


def in_reader_language(english: T, chinese: T) -> T:
    """Pick the reader's language of a text the libraries give in both (English outside
    a request, like the catalogue's messages)."""
    locale = get_locale() if has_request_context() else None
    return chinese if locale is not None and locale.language == "zh" else english


def in_both(say: Callable[[], Any]) -> dict[str, str]:
    """What ``say()`` says in Chinese and in English (``{"zh": ..., "en": ...}``)."""
    out = {}
    for language, locale in (("zh", "zh_Hans_CN"), ("en", "en")):
        with force_locale(locale):
            out[language] = str(say())
    return out


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

    app.add_template_filter(with_code, "with_code")

    @app.template_filter("branch_label")
    def branch_label_filter(branch: Any) -> str:
        return code_label(branch, "branch") if branch else ""

    @app.template_filter("code_label")
    def code_label_filter(code: Any, kind: str) -> str:
        return code_label(code, kind)

    @app.template_filter("channel_name")
    def channel_name_filter(key: Any) -> str:
        return channel_name(str(key), current_language()) if key else ""

    @app.context_processor
    def inject_languages() -> dict[str, object]:
        return {
            "languages": LANGUAGE_NAMES,
            "current_language": current_language(),
            "role_labels": ROLE_LABELS,
            "code_labels": CODE_LABELS,
            "code_labels_of": code_labels_of,
            "sales_channels": list(sales_channels()),
        }
