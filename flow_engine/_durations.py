"""Durations as people write them, and their canonical form in flow documents.

``4h``, ``2d 4h``, ``2d4h``, ``4小时``, ``3天4小时``, ``半小时``, ``1个半小时``, ``90 分钟``,
``1.5h``, ``2 hours``, ``30 min`` are all read; the canonical form keeps the units the
person chose, run together: ``2d4h``, ``4h``, ``30m``, ``1h30m``, ``90m``. Fractions are
spelled out in the next smaller unit (``1.5h`` is ``1h30m``), so the engine and stored
documents only ever see ``^([0-9]+[wdhms])+$``. Months and years are refused: their length
varies.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import timedelta
from decimal import Decimal
from typing import Any

_UNIT = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_ORDER = "wdhms"
_WORDS = {
    "w": ("weeks", "week", "wks", "wk", "w", "个星期", "星期", "个礼拜", "礼拜", "周"),
    "d": ("days", "day", "d", "天", "日"),
    "h": ("hours", "hour", "hrs", "hr", "h", "个小时", "小时", "个钟头", "钟头"),
    "m": ("minutes", "minute", "mins", "min", "m", "分钟", "分"),
    "s": ("seconds", "second", "secs", "sec", "s", "秒钟", "秒"),
}
_UNIT_OF = {word: unit for unit, words in _WORDS.items() for word in words}
_UNIT_RE = "|".join(sorted(map(re.escape, _UNIT_OF), key=len, reverse=True))
_ZH_DIGITS = "零一二两三四五六七八九十"
# One part: a number (digits, a decimal or Chinese numerals), "半" after the number or the
# unit (1个半小时, 一天半), or "半" alone (半小时).
_PART = re.compile(
    rf"(?P<num>[0-9]+(?:\.[0-9]+)?|[{_ZH_DIGITS}]+)?\s*个?(?P<half>半)?\s*"
    rf"(?P<unit>{_UNIT_RE})(?P<after>半)?"
)
_GLUE = re.compile(r"[\s,，、]*(?:and|和|又|零)?[\s,，、]*")
CANONICAL = re.compile(r"^(?:[0-9]+[wdhms])+$")
MAX_TEXT = 40
# Ten years: far beyond any SLA, well inside what a timedelta holds.
MAX_SECONDS = 3650 * 86400

ACCEPTED = ("4h", "2d 4h", "30 min", "2 hours", "1.5h")
ACCEPTED_ZH = ("4h", "2d 4h", "4小时", "2天", "30分钟", "半小时")


class DurationError(ValueError):
    """A text that is not a duration; ``reason`` is 'unrecognised' or 'too_long'."""

    def __init__(self, text: str, reason: str = "unrecognised") -> None:
        super().__init__(f"not a duration: {text!r} (use e.g. 30m, 4h, 2d 4h, 4小时, 半小时)")
        self.text = text
        self.reason = reason


def _zh_number(text: str) -> int | None:
    digits = {c: i for i, c in enumerate("零一二三四五六七八九")} | {"两": 2}
    if "十" not in text:
        return digits[text] if len(text) == 1 and text in digits else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1 or tens not in digits and tens:
        return None
    if ones and ones not in digits:
        return None
    return (digits[tens] if tens else 1) * 10 + (digits[ones] if ones else 0)


def _amounts(text: str) -> dict[str, Decimal]:
    """Amount per unit as written; DurationError when any part cannot be read."""
    rest, pos = text.strip().lower(), 0
    amounts: dict[str, Decimal] = {}
    if not rest or len(rest) > MAX_TEXT:
        raise DurationError(text)
    while pos < len(rest):
        part = _PART.match(rest, pos)
        if part is None or (part.group("num") is None and part.group("half") is None):
            raise DurationError(text)
        num = part.group("num")
        if num is None:
            value = Decimal(0)
        elif num[0].isdigit():
            value = Decimal(num)
        else:
            whole = _zh_number(num)
            if whole is None:
                raise DurationError(text)
            value = Decimal(whole)
        if part.group("half") or part.group("after"):
            if part.group("half") and part.group("after"):
                raise DurationError(text)
            value += Decimal("0.5")
        unit = _UNIT_OF[part.group("unit")]
        amounts[unit] = amounts.get(unit, Decimal(0)) + value
        glue = _GLUE.match(rest, part.end())
        pos = glue.end() if glue else part.end()
    return amounts


def normalise_duration(text: str) -> str:
    """The canonical form of ``text`` (``2d 4h`` → ``2d4h``); DurationError if unreadable."""
    if not isinstance(text, str):
        raise DurationError(str(text))
    amounts = _amounts(text)
    counts = dict.fromkeys(_ORDER, 0)
    for unit, value in amounts.items():
        seconds = value * _UNIT[unit]
        if seconds != seconds.to_integral_value():
            raise DurationError(text)
        whole = int(value)
        counts[unit] += whole
        left = int(seconds) - whole * _UNIT[unit]
        for smaller in _ORDER[_ORDER.index(unit) + 1 :]:
            counts[smaller] += left // _UNIT[smaller]
            left %= _UNIT[smaller]
    if sum(n * _UNIT[u] for u, n in counts.items()) > MAX_SECONDS:
        raise DurationError(text, "too_long")
    out = "".join(f"{n}{u}" for u, n in counts.items() if n)
    return out or "0" + next(iter(amounts))


def parse_duration(text: str) -> timedelta:
    """Parse a duration in any accepted form; DurationError (a ValueError) when malformed."""
    canonical = normalise_duration(text)
    seconds = sum(int(n) * _UNIT[u] for n, u in re.findall(r"([0-9]+)([wdhms])", canonical))
    return timedelta(seconds=seconds)


def duration_fields(
    schema: Mapping[str, Any], value: Any, path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], Any, tuple[Mapping[str, Any], ...]]]:
    """Each duration in ``value`` per ``schema``: (path, text, schemas from the root down).

    Duration properties are marked ``"x-editor": "duration"`` in node config schemas.
    """
    yield from _walk(schema, value, path, (schema,))


def _walk(
    schema: Mapping[str, Any],
    value: Any,
    path: tuple[str | int, ...],
    chain: tuple[Mapping[str, Any], ...],
) -> Iterator[tuple[tuple[str | int, ...], Any, tuple[Mapping[str, Any], ...]]]:
    if schema.get("x-editor") == "duration":
        yield path, value, chain
    elif isinstance(value, Mapping):
        for key, sub in (schema.get("properties") or {}).items():
            if key in value:
                yield from _walk(sub, value[key], (*path, key), (*chain, sub))
    elif isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            yield from _walk(schema["items"], item, (*path, i), (*chain, schema["items"]))
