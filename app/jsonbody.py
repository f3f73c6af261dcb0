"""Parsing JSON that people and programs send: API bodies, channel webhooks, the editor's
calls and the order text pasted into the simulator all go through ``parse_json``."""

from __future__ import annotations

import re
from typing import Any

from flask_babel import lazy_gettext as _l

from .errors import ValidationError
from .jsontext import json_loads

__all__ = ["MAX_DEPTH", "parse_json"]

MAX_DEPTH = 32
# A \uD800-\uDFFF escape, or such a character in text already decoded: the only ways a JSON
# document can carry a surrogate. Bodies without one skip the walk over the parsed document.
_SURROGATE_HINT = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
_SURROGATE_HINT_BYTES = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def _too_deep(raw: bytes | str, limit: int) -> bool:
    opening = ("{", "[") if isinstance(raw, str) else (b"{", b"[")
    # Cheap test first: a body with fewer brackets than the limit cannot be too deep.
    # raw and opening are both str or both bytes.
    if raw.count(opening[0]) + raw.count(opening[1]) <= limit:  # type: ignore[arg-type]
        return False
    depth = 0
    in_string = escaped = False
    for char in raw.encode() if isinstance(raw, str) else raw:
        if in_string:
            if escaped:
                escaped = False
            elif char == 0x5C:  # backslash
                escaped = True
            elif char == 0x22:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in (0x7B, 0x5B):
            depth += 1
            if depth > limit:
                return True
        elif char in (0x7D, 0x5D):
            depth -= 1
    return False


def _escaped(text: str) -> str:
    """``text`` with each surrogate written as its JSON escape, so that it can be shown."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _lone_surrogate(doc: Any, path: str = "") -> tuple[str, str] | None:
    """The JSON pointer and the character of the first lone surrogate in ``doc``'s text."""
    if isinstance(doc, str):
        found = _SURROGATE.search(doc)
        return (path or "/", found.group()) if found else None
    if isinstance(doc, dict):
        for key, value in doc.items():
            here = f"{path}/{_escaped(key).replace('~', '~0').replace('/', '~1')}"
            found = _SURROGATE.search(key)
            if found:
                return here, found.group()
            inner = _lone_surrogate(value, here)
            if inner:
                return inner
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            inner = _lone_surrogate(value, f"{path}/{index}")
            if inner:
                return inner
    return None


def _invalid(message: Any, path: str, detail: str) -> ValidationError:
    return ValidationError(
        message, code="invalid_json", details=[{"path": path, "message": detail, "rule": "json"}]
    )


def parse_json(raw: bytes | str) -> Any:
    """Parse JSON (numbers with a fraction become exact decimals); ``ValidationError`` with
    the place and the reason when it is not JSON the database can store."""
    if _too_deep(raw, MAX_DEPTH):
        raise ValidationError(
            _l("The JSON is nested deeper than %(n)d levels.", n=MAX_DEPTH),
            code="too_deep",
            details=[{"path": "/", "message": f"max depth {MAX_DEPTH}", "rule": "maxDepth"}],
        )
    # The needle has raw's type, bytes or str.
    if (b"\\u0000" if isinstance(raw, bytes) else "\\u0000") in raw:  # type: ignore[operator]
        raise _invalid(_l("Text may not contain NUL characters."), "/", "\\u0000")
    try:
        doc = json_loads(raw)
    except (ValueError, RecursionError) as err:
        reason = str(err)[:200]
        raise _invalid(
            _l("This is not valid JSON: %(reason)s", reason=reason), "/", reason
        ) from err
    hint = _SURROGATE_HINT_BYTES if isinstance(raw, bytes) else _SURROGATE_HINT
    # The pattern has raw's type, bytes or str.
    found = _lone_surrogate(doc) if hint.search(raw) else None  # type: ignore[arg-type]
    if found:
        # Text with half a surrogate pair cannot be encoded as UTF-8, so it cannot be stored.
        path, char = found
        escape = _escaped(char)
        raise _invalid(
            _l(
                "The text at %(path)s contains a lone surrogate %(escape)s: an escape between "
                "\\ud800 and \\udfff must be half of a pair, as in \\ud83d\\ude00 for 😀. "
                "Send text as UTF-8 or with complete pairs.",
                path=path,
                escape=escape,
            ),
            path,
            f"lone surrogate {escape}",
        )
    return doc
