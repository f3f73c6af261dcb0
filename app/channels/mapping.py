"""Channel payload → canonical order, by path mappings kept as data.

A mapping is ``{"fields": {target: spec}, "dedup": [canonical paths]}``. Targets are dotted
paths in the canonical order (``customer.id``). A spec is one of::

    {"path": "trade.tid"}                      a dotted path in the payload
    {"first": ["outer_sku_id", "sku_id"]}      the first path that has a value
    {"join": ["a.first", "a.last"], "sep": " "} non-empty values joined
    {"const": "CNY"}                           a fixed value
    {"each": "line_items", "fields": {...}}    a list, each item mapped by ``fields``

with optional ``type`` (string, int, decimal, fen, datetime, china_time, unix_time, date,
split), ``default`` and ``required``, ``absent`` (values that mean "none", such as WooCommerce's
customer id 0), and ``warn`` (``{"zh": ..., "en": ...}``): when the
value came from a later path of ``first`` or from ``default``, the order is stored with that
warning in ``intake_warnings`` instead of being refused (a product sold without a SKU, a
guest checkout without a customer). Shipped mappings live in ``mappings/<kind>.json`` (which
also declare the kind, see ``kinds``); a channel's own ``mapping`` overrides fields of its
kind's one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from flask_babel import lazy_gettext as _l

from .. import order_fields
from ..errors import ValidationError
from . import kinds

CHINA = timezone(timedelta(hours=8))
_MISSING = object()


class MappingProblemError(Exception):
    """A field the mapping cannot fill, with what went wrong in English and Chinese."""

    def __init__(self, path: str, message: str, message_zh: str = "") -> None:
        super().__init__(message)
        self.path = path
        self.message = message
        self.message_zh = message_zh or message


@cache
def shipped(kind: str) -> dict[str, Any]:
    """The mapping shipped for a channel kind."""
    if kind not in kinds.kinds():
        raise ValidationError(_l("Unknown channel kind %(kind)s.", kind=kind), code="unknown_kind")
    path = kinds.MAPPINGS / f"{kinds.shape(kind)}.json"
    return json.loads(path.read_text(encoding="utf-8"))


def effective(kind: str, override: Mapping[str, Any] | None) -> dict[str, Any]:
    """The kind's mapping with a channel's overrides applied."""
    base = shipped(kind)
    override = override or {}
    return {
        "fields": {**base["fields"], **(override.get("fields") or {})},
        "dedup": override.get("dedup", base.get("dedup")),
    }


def _get(doc: Any, path: str, absent: Any = ()) -> Any:
    node = doc
    for part in path.split("."):
        if isinstance(node, Mapping) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    if node is None or node == "" or (absent and node in absent):
        return _MISSING
    return node


def _decimal(value: Any) -> Decimal:
    if isinstance(value, bool):
        raise ValueError("not a number")
    return Decimal(str(value))


def _datetime(value: Any, zone: timezone = UTC) -> str:
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=zone)
    return moment.isoformat()


CONVERTERS: dict[str, Callable[[Any], Any]] = {
    "string": str,
    "int": lambda v: int(_decimal(v)),
    "decimal": _decimal,
    "fen": lambda v: (_decimal(v) / 100).quantize(Decimal("0.01")),
    "datetime": _datetime,
    "china_time": lambda v: _datetime(str(v).replace(" ", "T"), CHINA),
    "unix_time": lambda v: datetime.fromtimestamp(int(_decimal(v)), CHINA).isoformat(),
    "date": lambda v: _datetime(f"{str(v)[:10]}T00:00:00", CHINA),
    "split": lambda v: [t.strip() for t in str(v).split(",") if t.strip()],
}


def _value(
    spec: Mapping[str, Any], doc: Any, where: str, warnings: list[dict[str, Any]] | None = None
) -> Any:
    fell_back = False
    absent = spec.get("absent", ())
    if "const" in spec:
        value = spec["const"]
    elif "path" in spec:
        value = _get(doc, spec["path"], absent)
    elif "first" in spec:
        value = _MISSING
        for i, path in enumerate(spec["first"]):
            value = _get(doc, path, absent)
            if value is not _MISSING:
                fell_back = i > 0
                break
    elif "join" in spec:
        parts = [str(v) for v in (_get(doc, p) for p in spec["join"]) if v is not _MISSING]
        value = spec.get("sep", " ").join(parts) if parts else _MISSING
    else:
        raise MappingProblemError(
            where,
            "mapping spec needs path, first, join, const or each",
            "映射规则需要 path、first、join、const 或 each 之一",
        )
    if value is _MISSING:
        value = spec.get("default", _MISSING)
        fell_back = value is not _MISSING
    if fell_back and spec.get("warn") and warnings is not None:
        warnings.append({"path": where, "value": value, **spec["warn"]})
    if value is _MISSING:
        if spec.get("required"):
            source = spec.get("path") or spec.get("first") or spec.get("join")
            paths = " / ".join(f"`{p}`" for p in (source if isinstance(source, list) else [source]))
            field, en, zh = order_fields.field_label(where)
            example = f"`{order_fields.accepted_example(field)}`"
            raise MappingProblemError(
                where,
                f"“{en}” is not in the channel payload (looked in {paths}); map it from another "
                f"payload field or give it a default in the mapping, e.g. {example}.",
                f"渠道数据中没有「{zh}」（查找了 {paths}）：请在字段映射中改从其他字段读取，"
                f"或给出默认值，例如 {example}。",
            )
        return _MISSING
    kind = spec.get("type")
    if kind:
        try:
            value = CONVERTERS[kind](value)
        except (ValueError, TypeError, InvalidOperation, OverflowError, KeyError) as err:
            _, en, zh = order_fields.field_label(where)
            read_en, read_zh, example = READ_AS.get(kind, (kind, kind, ""))
            shown = str(value).replace("`", "'")[:40]
            raise MappingProblemError(
                where,
                f"“{en}”: the channel sent `{shown}`, which cannot be read as {read_en} "
                f"(e.g. `{example}`).",
                f"「{zh}」：渠道发来的 `{shown}` 无法读作{read_zh}（例如 `{example}`）。",
            ) from err
    return value


# What each ``type`` of a mapping reads, in words, with a value it reads.
READ_AS = {
    "string": ("text", "文本", "SKU-1001"),
    "int": ("a whole number", "整数", "3"),
    "decimal": ("a number", "数字", "12.50"),
    "fen": ("an amount in fen (分)", "以分为单位的金额", "1250"),
    "datetime": ("a date and time", "日期时间", "2026-12-07T09:30:00+08:00"),
    "china_time": ("a China time", "北京时间", "2026-12-07 09:30:00"),
    "unix_time": ("a Unix time in seconds", "Unix 时间戳（秒）", "1796607000"),
    "date": ("a date", "日期", "2026-12-07"),
    "split": ("a comma-separated list", "逗号分隔的列表", "gift, urgent"),
}


def _put(target: dict[str, Any], path: str, value: Any) -> None:
    *parents, last = path.split(".")
    node = target
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value


def value_of(spec: Mapping[str, Any], doc: Any) -> Any:
    """One spec's value in ``doc`` (None when missing); raises MappingProblemError."""
    value = _value(spec, doc, "")
    return None if value is _MISSING else value


def _map(
    fields: Mapping[str, Any], doc: Any, prefix: str, problems: list, warnings: list
) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for target, spec in fields.items():
        where = f"{prefix}/{target.replace('.', '/')}"
        try:
            if "each" in spec:
                items = _get(doc, spec["each"])
                items = [] if items is _MISSING else items
                if not isinstance(items, list):
                    field, en, zh = order_fields.field_label(where)
                    example = order_fields.accepted_example(field)
                    raise MappingProblemError(
                        where,
                        f"“{en}”: `{spec['each']}` in the channel payload is not a list, "
                        f"e.g. `{example}`.",
                        f"「{zh}」：渠道数据中的 `{spec['each']}` 不是列表，例如 `{example}`。",
                    )
                value: Any = [
                    _map(spec["fields"], item, f"{where}/{i}", problems, warnings)
                    for i, item in enumerate(items)
                ]
            else:
                value = _value(spec, doc, where, warnings)
        except MappingProblemError as problem:
            problems.append(
                {
                    "path": problem.path,
                    "message": problem.message,
                    "message_zh": problem.message_zh,
                    "rule": "mapping",
                }
            )
            continue
        if value is not _MISSING:
            _put(out, target, value)
    return out


def to_order(mapping: Mapping[str, Any], payload: Any, *, channel: str) -> dict[str, Any]:
    """Map ``payload`` to a canonical order; ValidationError lists every unmappable field."""
    if not isinstance(payload, Mapping):
        raise ValidationError(
            _l("The channel payload is not a JSON object."),
            code="invalid_payload",
            details=[{"path": "/", "message": "expected object", "rule": "type"}],
        )
    problems: list[dict[str, Any]] = []
    warnings: list[dict[str, Any]] = []
    order = _map(mapping["fields"], payload, "", problems, warnings)
    if problems:
        raise ValidationError(
            _l("The channel payload cannot be mapped to an order (%(n)d problems).",
               n=len(problems)),
            code="mapping_failed",
            details=problems,
        )  # fmt: skip
    order["channel"] = channel
    if warnings:
        order["intake_warnings"] = warnings
    return order


def dedup_key(mapping: Mapping[str, Any], order: Mapping[str, Any]) -> str | None:
    """The cross-channel key of ``order`` when the mapping has a dedup rule and every part
    of it has a value; orders with the same key are one buyer order."""
    rule = mapping.get("dedup")
    if not rule:
        return None
    parts = [_get(order, path) for path in rule]
    if any(p is _MISSING for p in parts):
        return None
    return "|".join([*rule, *(str(p) for p in parts)])[:200]


_SOURCES = ("path", "first", "join", "const", "each")
_SPEC_KEYS = frozenset(
    {*_SOURCES, "sep", "fields", "type", "default", "required", "warn", "absent"}
)
_TARGET = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")


def check_override(override: Any) -> dict[str, Any]:
    """A channel's own mapping, checked: ``{"fields": {...}, "dedup": [...]}`` (both optional).

    Raises ValidationError listing every problem with its JSON path; returns the override.
    """
    problems: list[dict[str, Any]] = []

    def bad(path: str, message: str, message_zh: str) -> None:
        problems.append(
            {"path": path, "message": message, "message_zh": message_zh, "rule": "mapping"}
        )

    def fields(specs: Any, where: str) -> None:
        if not isinstance(specs, Mapping):
            bad(
                where,
                'expected an object of target path -> spec, such as {"currency": {"const": "CNY"}}',
                '应为“订单字段 → 映射规则”的对象，例如 {"currency": {"const": "CNY"}}',
            )
            return
        for target, spec in specs.items():
            at = f"{where}/{target}"
            if not _TARGET.match(str(target)):
                bad(
                    at,
                    f"{target!s} is not an order field: use a dotted path such as customer.id",
                    f"{target!s} 不是订单字段：请写点分路径，例如 customer.id",
                )
            if not isinstance(spec, Mapping):
                bad(
                    at,
                    f'the rule of {target!s} must be an object such as {{"path": "trade.tid"}}',
                    f'{target!s} 的映射规则应为对象，例如 {{"path": "trade.tid"}}',
                )
                continue
            sources = [k for k in _SOURCES if k in spec]
            if len(sources) != 1:
                bad(
                    at,
                    f"{target!s}: give exactly one of path, first, join, const or each, "
                    'such as {"path": "order.currency"}',
                    f"{target!s}：path、first、join、const、each 只能且必须写一个，"
                    '例如 {"path": "order.currency"}',
                )
            unknown = sorted(set(spec) - _SPEC_KEYS)
            if unknown:
                bad(
                    at,
                    f"{target!s}: unknown keys {', '.join(unknown)}; accepted: "
                    f"{', '.join(sorted(_SPEC_KEYS))}",
                    f"{target!s}：不认识的键 {', '.join(unknown)}；可用：{', '.join(sorted(_SPEC_KEYS))}",
                )
            for key in ("path", "each"):
                if key in spec and (not isinstance(spec[key], str) or not spec[key]):
                    bad(
                        f"{at}/{key}",
                        f"{target!s}: {key} is a dotted path in the payload, such as trade.tid",
                        f"{target!s}：{key} 应为渠道数据中的点分路径，例如 trade.tid",
                    )
            for key in ("first", "join"):
                if key in spec and (
                    not isinstance(spec[key], list)
                    or not spec[key]
                    or not all(isinstance(p, str) and p for p in spec[key])
                ):
                    bad(
                        f"{at}/{key}",
                        f'{target!s}: {key} is a list of payload paths, such as ["sku", "variant_id"]',
                        f'{target!s}：{key} 应为渠道数据路径的列表，例如 ["sku", "variant_id"]',
                    )
            if "absent" in spec and not isinstance(spec["absent"], list):
                bad(
                    f"{at}/absent",
                    f"{target!s}: absent is a list of values meaning none, such as [0]",
                    f"{target!s}：absent 应为表示“没有”的取值列表，例如 [0]",
                )
            warn = spec.get("warn")
            if warn is not None and (
                not isinstance(warn, Mapping)
                or not all(isinstance(warn.get(k), str) and warn.get(k) for k in ("zh", "en"))
            ):
                bad(
                    f"{at}/warn",
                    f'{target!s}: warn gives both languages, such as {{"zh": "没有 SKU", "en": "No SKU"}}',
                    f'{target!s}：warn 需要中英文两种说法，例如 {{"zh": "没有 SKU", "en": "No SKU"}}',
                )
            if "type" in spec and spec["type"] not in CONVERTERS:
                bad(
                    f"{at}/type",
                    f"{target!s}: type {spec['type']!s} is unknown; one of {', '.join(CONVERTERS)}",
                    f"{target!s}：没有类型 {spec['type']!s}；可用：{', '.join(CONVERTERS)}",
                )
            if "each" in spec:
                fields(spec.get("fields"), f"{at}/fields")

    if not isinstance(override, Mapping):
        bad(
            "/",
            'the mapping is a JSON object with fields and/or dedup, such as {"fields": {}}',
            '映射应为含 fields 和/或 dedup 的 JSON 对象，例如 {"fields": {}}',
        )
    else:
        unknown = sorted(set(override) - {"fields", "dedup"})
        if unknown:
            bad(
                "/",
                f"unknown keys {', '.join(unknown)}; accepted: fields, dedup",
                f"不认识的键 {', '.join(unknown)}；可用：fields、dedup",
            )
        if "fields" in override:
            fields(override["fields"], "/fields")
        dedup = override.get("dedup")
        if dedup is not None and (
            not isinstance(dedup, list) or not all(isinstance(p, str) and p for p in dedup)
        ):
            bad(
                "/dedup",
                'dedup is a list of order fields, such as ["customer.id", "external_id"], '
                "or null for none",
                'dedup 应为订单字段的列表，例如 ["customer.id", "external_id"]，不需要时写 null',
            )
    if problems:
        raise ValidationError(
            _l("The mapping has %(n)d problems.", n=len(problems)),
            code="invalid_mapping",
            details=problems,
        )
    return dict(override)
