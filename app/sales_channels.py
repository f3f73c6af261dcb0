"""Sales channels an order can come from (``order.channel``), with their names in Chinese and
English: the order schema's own (``x-enum-zh`` / ``x-enum-en`` in ``order.schema.json``), and
any a channel mapping file declares under ``sales_channels`` (``{"xiaohongshu": {"zh": "小红书",
"en": "Xiaohongshu"}}``). The order schemas the app validates against list exactly these."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from flow_engine import order_schema

# The channel mapping files (``app/channels/mappings``): data read here, no code imported.
MAPPINGS = Path(__file__).parent / "channels" / "mappings"


@cache
def sales_channels() -> dict[str, dict[str, str]]:
    """Every sales channel key with its ``{"zh", "en"}`` name, in the order pages list them."""
    channel = order_schema()["properties"]["channel"]
    zh, en = channel.get("x-enum-zh") or {}, channel.get("x-enum-en") or {}
    found = {key: {"zh": zh.get(key, key), "en": en.get(key, key)} for key in channel["enum"]}
    for path in sorted(MAPPINGS.glob("*.json")):
        declared = json.loads(path.read_text(encoding="utf-8")).get("sales_channels") or {}
        for key, names in declared.items():
            found.setdefault(key, {"zh": names["zh"], "en": names["en"]})
    return found


def channel_name(key: str, language: str) -> str:
    """A sales channel's name in ``language`` (``zh`` or ``en``); the key when unknown."""
    names = sales_channels().get(key)
    return names["zh" if language.startswith("zh") else "en"] if names else key


def with_sales_channels(schema: dict[str, Any]) -> dict[str, Any]:
    """``schema`` (an order schema, changed in place) accepting every sales channel."""
    channel, known = schema["properties"]["channel"], sales_channels()
    channel["enum"] = list(known)
    channel["x-enum-zh"] = {key: names["zh"] for key, names in known.items()}
    channel["x-enum-en"] = {key: names["en"] for key, names in known.items()}
    return schema
