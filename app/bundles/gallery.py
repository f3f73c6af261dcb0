"""The gallery: shipped bundles found by words in Chinese or English, or pinyin initials."""

from __future__ import annotations

from functools import cache

from templates_lib import INDUSTRIES, Bundle, builtin_bundles

from ..pinyin import full, initials


@cache
def _index() -> tuple[tuple[Bundle, str], ...]:
    out = []
    for bundle in builtin_bundles():
        names = [bundle.name["zh"], bundle.summary["zh"], *bundle.keywords]
        for doc in bundle.flows:
            names.append(doc["name"]["zh"])
        pinyin = " ".join(f"{initials(n)} {full(n)}" for n in names)
        out.append((bundle, f"{bundle.search_text()} {pinyin}"))
    return tuple(out)


def search(query: str = "", industry: str | None = None) -> list[Bundle]:
    """Bundles matching every word of ``query`` and the industry, in gallery order.

    A word matches the names, descriptions, keywords and flow names in either language, or
    their pinyin (``dedh`` or ``dingdan`` find 订单).
    """
    words = [w for w in query.lower().split() if w]
    found = []
    for bundle, text in _index():
        if industry and industry not in bundle.industries:
            continue
        if all(w in text or w in text.replace(" ", "") for w in words):
            found.append(bundle)
    return found


def industries() -> dict[str, dict[str, str]]:
    """Industry key -> {en, zh}, for the filter."""
    return dict(INDUSTRIES)
