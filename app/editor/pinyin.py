"""Pinyin initials for searching Chinese names by typing Latin letters (大额审核 -> desh).

The 3,755 common characters of GB2312 level 1 are ordered by pinyin, so the initial of such
a character follows from its code point: no dictionary needed. Rarer characters (level 2,
ordered by radical) are left out of the initials; their text still matches as typed.
"""

from __future__ import annotations

from bisect import bisect_right

# First GB2312 code of each initial's run of characters (i, u and v start no syllable).
_STARTS = (
    (0xB0A1, "a"), (0xB0C5, "b"), (0xB2C1, "c"), (0xB4EE, "d"), (0xB6EA, "e"),
    (0xB7A2, "f"), (0xB8C1, "g"), (0xB9FE, "h"), (0xBBF7, "j"), (0xBFA6, "k"),
    (0xC0AC, "l"), (0xC2E8, "m"), (0xC4C3, "n"), (0xC5B6, "o"), (0xC5BE, "p"),
    (0xC6DA, "q"), (0xC8BB, "r"), (0xC8F6, "s"), (0xCBFA, "t"), (0xCDDA, "w"),
    (0xCEF4, "x"), (0xD1B9, "y"), (0xD4D1, "z"),
)  # fmt: skip
_CODES = [c for c, _ in _STARTS]
_LEVEL1_END = 0xD7F9


def initial(ch: str) -> str:
    """The pinyin initial of a common Chinese character, the character lowercased otherwise."""
    if ch.isascii():
        return ch.lower()
    try:
        raw = ch.encode("gb2312")
    except UnicodeEncodeError:
        return ""
    if len(raw) != 2:
        return ""
    code = raw[0] << 8 | raw[1]
    if not _CODES[0] <= code <= _LEVEL1_END:
        return ""
    return _STARTS[bisect_right(_CODES, code) - 1][1]


def initials(text: str) -> str:
    """Initials of every Chinese character and the alphanumerics of ``text``."""
    return "".join(initial(ch) for ch in text if ch.isalnum())


def matches(query: str, *texts: str) -> bool:
    """True when ``query`` is in one of ``texts`` or in the pinyin initials of one."""
    q = query.strip().lower()
    if not q:
        return True
    for text in texts:
        if q in text.lower():
            return True
        if q.isascii() and q.replace(" ", "") in initials(text):
            return True
    return False
