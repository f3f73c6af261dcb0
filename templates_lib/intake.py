"""Preparing raw channel orders the way a bundle's ``intake`` section asks.

Live-commerce and mini-program orders often carry the whole address in one line, with
provinces written short (``浙江``) or missing. With ``clean_address`` the address is parsed by
``cpca`` (a maintained parser with the national administrative-division data) into the
official province, city and district names, so routing by region works; the text as received
is kept under ``custom.raw_address``. cpca (with pandas) is the optional extra ``address``
and is imported only when an address is cleaned; without it a bundle that asks for
``clean_address`` raises :class:`AddressParserMissingError` rather than leave addresses as
they came. ``dedup`` names the order paths that identify one buyer order across channels
(the same live-stream order pushed by two systems).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any

from .errors import AddressParserMissingError

__all__ = ["address_parser", "clean_address", "dedup_key", "prepare_order"]

_PARTS = ("province", "city", "district", "street")
_MUNICIPALITY_CITY = "市辖区"


def address_parser(bundle: str = "") -> Any:
    """The address parser module (cpca); AddressParserMissingError, naming ``bundle``, when
    it is not installed."""
    try:
        # Imported on first use, not with this module: it loads pandas and the division
        # table, which orders without clean_address never need.
        import cpca
    except ImportError as err:
        raise AddressParserMissingError(bundle) from err
    return cpca


def _text(value: Any) -> str:
    return str(value).strip() if isinstance(value, str) else ""


def clean_address(address: Mapping[str, Any]) -> dict[str, Any]:
    """``address`` with official province, city and district names read from its text.

    Works for a full address in one field (``street``) as well as for split fields with short
    or missing names. A part the parser cannot recognise keeps its received value.
    """
    parts = [_text(address.get(p)) for p in _PARTS]
    text = "".join(p for p in parts if p)
    if not text:
        return dict(address)
    row = address_parser().transform([text]).iloc[0]

    def value(column: str) -> str:
        found = row.get(column)
        return found if isinstance(found, str) and found else ""

    province, city, district = value("省"), value("市"), value("区")
    if city == _MUNICIPALITY_CITY:
        city = province
    out = dict(address)
    if province:
        out["province"] = province
    if city:
        out["city"] = city
    if district:
        out["district"] = district
    if province or city:
        out["street"] = value("地址").strip() or _text(address.get("street"))
    phone = re.sub(r"[^0-9]", "", _text(address.get("phone")))
    if phone.startswith("86") and len(phone) == 13:
        phone = phone[2:]
    if phone:
        out["phone"] = phone
    return out


def dig(data: Any, path: str) -> Any:
    """The value at a dotted ``path`` (``buyer.phone``, ``lines.0.sku``; a negative index
    counts from the end), or None where the path leads nowhere."""
    for part in path.split("."):
        if isinstance(data, Mapping):
            data = data.get(part)
        elif isinstance(data, list) and part.lstrip("-").isdigit():
            index = int(part)
            data = data[index] if -len(data) <= index < len(data) else None
        else:
            return None
    return data


def dedup_key(intake: Mapping[str, Any], order: Mapping[str, Any]) -> str | None:
    """A key equal for the same buyer order from any channel, from the ``dedup`` paths;
    None when the intake has no dedup rule or a path has no value."""
    paths = intake.get("dedup") or ()
    if not paths:
        return None
    values = [dig(order, p) for p in paths]
    if any(v in (None, "") for v in values):
        return None
    digest = hashlib.sha256("\x1f".join(str(v) for v in values).encode()).hexdigest()[:40]
    return f"dedup:{digest}"


def prepare_order(bundle: Any, order: Mapping[str, Any]) -> dict[str, Any]:
    """``order`` prepared as the bundle's intake says (address cleaned); unchanged otherwise.

    ``bundle`` is a Bundle or its ``intake`` section (``"bundle"`` may name it there).
    AddressParserMissingError when the intake cleans addresses and cpca is not installed.
    """
    intake = bundle.intake if hasattr(bundle, "intake") else dict(bundle or {})
    doc = dict(order)
    if intake.get("clean_address") and isinstance(doc.get("shipping_address"), Mapping):
        if not intake.get("channels") or doc.get("channel") in intake["channels"]:
            address_parser(str(getattr(bundle, "id", None) or intake.get("bundle") or ""))
            raw = doc["shipping_address"]
            cleaned = clean_address(raw)
            if cleaned != raw:
                custom = dict(doc.get("custom") or {})
                custom.setdefault("raw_address", "".join(_text(raw.get(p)) for p in _PARTS))
                doc["custom"] = custom
                doc["shipping_address"] = cleaned
    return doc
