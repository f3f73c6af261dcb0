"""Template filters for figures: durations, percentages, money (times: ``app.clock``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Flask
from flask_babel import gettext as _
from markupsafe import Markup

from ..jsontext import json_dumps


def duration(seconds: Any) -> str:
    """``8.3 s``, ``12 min``, ``4.2 h``, ``3.1 d`` (or ``—``)."""
    if seconds is None:
        return "—"
    value = float(seconds)
    if value < 60:
        return _("%(n)s s", n=f"{value:.1f}".rstrip("0").rstrip("."))
    if value < 3600:
        return _("%(n)s min", n=f"{value / 60:.1f}".rstrip("0").rstrip("."))
    if value < 86400 * 2:
        return _("%(n)s h", n=f"{value / 3600:.1f}".rstrip("0").rstrip("."))
    return _("%(n)s d", n=f"{value / 86400:.1f}".rstrip("0").rstrip("."))


def percent(value: Any) -> str:
    return "—" if value is None else f"{float(value):.1f}%"


def money(value: Any) -> str:
    return "—" if value is None else f"¥{float(value):,.2f}"


def number(value: Any) -> str:
    if value is None:
        return "—"
    value = float(value)
    return f"{value:,.0f}" if value == int(value) else f"{value:,.2f}"


# The formats a dashboard panel declares for its figures.
FORMATS: dict[str, Callable[[Any], str]] = {
    "count": number,
    "percent": percent,
    "money": money,
    "duration": duration,
}


def script_json(data: Any) -> Markup:
    """JSON safe to put inside a ``<script type="application/json">`` element."""
    text = json_dumps(data)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escaped)
    return Markup(text)  # noqa: S704 (escaped above: no tag can close the script element)


def init_app(app: Flask) -> None:
    for name, fn in (("duration", duration), ("percent", percent), ("money", money),
                     ("figure", number)):  # fmt: skip
        app.jinja_env.filters.setdefault(name, fn)
