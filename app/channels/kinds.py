"""Channel kinds, declared once each by their mapping file (``mappings/<kind>.json``).

A file's ``kind`` block says what the kind is called on pages (``label``, Chinese and
English), where it is listed (``position``), the sales channel its orders come from by
default (``sales_channel``), and, for a kind whose payloads have another kind's shape, whose
``fields`` it reads (``shape``: the Taobao pull connector stores the trades the relayed
Taobao kind receives). Adding a kind signed with OrderFlow's own signature or a generic HMAC
is this one file; a platform with its own signature also needs its protocol
(``protocols.PROTOCOLS``). A new sales channel is declared in a mapping file too (see
``app.sales_channels``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

MAPPINGS = Path(__file__).parent / "mappings"


@cache
def _declared() -> dict[str, Mapping[str, Any]]:
    found = {}
    for path in sorted(MAPPINGS.glob("*.json")):
        block = json.loads(path.read_text(encoding="utf-8"))["kind"]
        found[path.stem] = block
    return dict(sorted(found.items(), key=lambda item: (item[1]["position"], item[0])))


def kinds() -> tuple[str, ...]:
    """Every channel kind, in the order pages list them."""
    return tuple(_declared())


def label(kind: str) -> dict[str, str]:
    """The kind's name on pages as ``{"zh", "en"}`` (the key itself for an unknown kind)."""
    block = _declared().get(kind)
    return dict(block["label"]) if block else {"zh": kind, "en": kind}


def shape(kind: str) -> str:
    """The kind whose mapping file's ``fields`` read this kind's payloads."""
    return str(_declared()[kind].get("shape") or kind)


def default_sales_channel(kind: str) -> str | None:
    """The sales channel orders of this kind come from unless the admin says otherwise."""
    block = _declared().get(kind)
    return block.get("sales_channel") if block else None
