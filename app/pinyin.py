"""Pinyin for finding Chinese names by typing Latin letters: 重庆仓路由 is found by ``cqcly``
(initials) or ``chongqing`` (full pinyin).

pypinyin reads whole words, so characters with several readings get the one the word uses
(重庆 is chong qing, not zhong qing).
"""

from __future__ import annotations

import re
from functools import lru_cache

from pypinyin import Style, lazy_pinyin


def _keep_each(text: str) -> list[str]:
    return list(text)  # characters that are not Chinese pass through one by one


@lru_cache(maxsize=4096)
def initials(text: str) -> str:
    """The pinyin initial of every Chinese character and the other letters and digits."""
    # pypinyin takes a list of replacements from ``errors``; its annotation says str only.
    parts = lazy_pinyin(text, style=Style.FIRST_LETTER, errors=_keep_each)  # type: ignore[arg-type]
    return "".join(p[:1].lower() for p in parts if p[:1].isalnum())


@lru_cache(maxsize=4096)
def full(text: str) -> str:
    """The whole pinyin of ``text``, without tones or spaces."""
    parts = lazy_pinyin(text, errors=_keep_each)  # type: ignore[arg-type]  # as in initials()
    return "".join(p.lower() for p in parts if p.isalnum())


def matches(query: str, *texts: str) -> bool:
    """True when ``query`` is in one of ``texts``, or in the pinyin (initials or whole) of one."""
    q = query.strip().lower()
    if not q:
        return True
    compact = q.replace(" ", "")
    for text in texts:
        if q in text.lower():
            return True
        if compact.isascii() and (compact in initials(text) or compact in full(text)):
            return True
    return False


_NOT_KEY = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=1024)
def slug(text: str, limit: int = 64) -> str:
    """A readable key for ``text``: the pinyin of its Chinese words and its Latin words, lower
    case, joined by ``_`` (大额订单审批 -> ``da_e_ding_dan_shen_pi``). Cut at a word
    boundary to ``limit`` characters; empty when ``text`` has no letters or digits."""
    words: list[str] = []
    for part in lazy_pinyin(text):
        words.extend(w for w in _NOT_KEY.split(part.lower()) if w)
    out = ""
    for word in words:
        candidate = f"{out}_{word}" if out else word
        if len(candidate) > limit:
            break
        out = candidate
    return out or "_".join(words)[:limit].strip("_")
