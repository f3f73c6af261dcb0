"""Static types of the rule language and their reading from a JSON Schema (draft 2020-12)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "ANY",
    "T",
    "arith_type",
    "compatible",
    "display",
    "field_type",
    "from_schema",
    "suggestions",
    "unify",
]

KINDS = (
    "any",
    "null",
    "boolean",
    "number",
    "string",
    "date",
    "datetime",
    "duration",
    "list",
    "object",
)
_ZH = {
    "any": "任意值",
    "null": "空值",
    "boolean": "布尔值",
    "number": "数字",
    "string": "文本",
    "date": "日期",
    "datetime": "日期时间",
    "duration": "时长",
    "list": "列表",
    "object": "对象",
}
_MAX_REF_DEPTH = 32
LABEL_KEYS = ("x-label-zh", "x-label-en", "x-label")


@dataclass(frozen=True, eq=False, slots=True)
class T:
    """A static type: a kind plus the element type of lists and the schema of objects."""

    kind: str
    integer: bool = False
    item: T | None = None
    schema: Mapping[str, Any] | None = None
    root: Mapping[str, Any] | None = None
    enum: tuple[Any, ...] | None = None

    def is_(self, *kinds: str) -> bool:
        return self.kind in kinds


ANY = T("any")
NULL = T("null")
BOOLEAN = T("boolean")
NUMBER = T("number")
INTEGER = T("number", integer=True)
STRING = T("string")
DATE = T("date")
DATETIME = T("datetime")
DURATION = T("duration")
LIST = T("list", item=ANY)
OBJECT = T("object")
SIMPLE = {
    "any": ANY,
    "null": NULL,
    "boolean": BOOLEAN,
    "number": NUMBER,
    "integer": INTEGER,
    "string": STRING,
    "date": DATE,
    "datetime": DATETIME,
    "duration": DURATION,
    "list": LIST,
    "object": OBJECT,
    "list<string>": T("list", item=STRING),
}


def display(t: T, zh: bool = False) -> str:
    """Human name of a type, e.g. ``list of number`` / ``数字列表``."""
    if t.kind == "list" and t.item is not None and t.item.kind != "any":
        return f"{display(t.item, zh)}列表" if zh else f"list of {display(t.item)}"
    if zh:
        return _ZH[t.kind]
    return "integer" if t.integer else t.kind


def resolve(schema: Any, root: Mapping[str, Any] | None) -> Mapping[str, Any]:
    """Follow local ``$ref`` pointers (``#/$defs/x``); anything unreadable becomes ``{}``."""
    for _ in range(_MAX_REF_DEPTH):
        if not isinstance(schema, Mapping):
            return {}
        ref = schema.get("$ref")
        if not isinstance(ref, str) or not ref.startswith("#") or root is None:
            return schema
        target: Any = root
        for part in ref[1:].split("/"):
            if not part:
                continue
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, Mapping) else None
        schema = target
    return {}


def from_schema(schema: Any, root: Mapping[str, Any] | None = None, depth: int = 0) -> T:
    """Read a JSON Schema into a static type (unknown constructs read as ``any``)."""
    if root is None and isinstance(schema, Mapping):
        root = schema
    schema = resolve(schema, root)
    if depth > _MAX_REF_DEPTH or not schema:
        return ANY
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list):
            kinds = [from_schema(o, root, depth + 1) for o in options]
            kinds = [k for k in kinds if k.kind != "null"]
            return kinds[0] if len(kinds) == 1 else ANY
    declared = schema.get("type")
    if isinstance(declared, list):
        declared = [d for d in declared if d != "null"]
        declared = declared[0] if len(declared) == 1 else None
    enum = schema.get("enum")
    enum_values = tuple(enum) if isinstance(enum, list) else None
    if declared is None and "const" in schema:
        enum_values = (schema["const"],)
    if declared is None and enum_values:
        sample = enum_values[0]
        declared = "string" if isinstance(sample, str) else None
    if declared is None and isinstance(schema.get("properties"), Mapping):
        declared = "object"
    if declared == "string":
        fmt = schema.get("format")
        if fmt == "date":
            return DATE
        if fmt == "date-time":
            return DATETIME
        if fmt == "duration":
            return DURATION
        return T("string", enum=enum_values) if enum_values else STRING
    if declared == "integer":
        return T("number", integer=True, enum=enum_values)
    if declared == "number":
        return T("number", enum=enum_values)
    if declared == "boolean":
        return BOOLEAN
    if declared == "array":
        items = schema.get("items")
        return T("list", item=from_schema(items, root, depth + 1) if items else ANY)
    if declared == "object":
        return T("object", schema=schema, root=root)
    if declared == "null":
        return NULL
    return ANY


def _labels(prop: Any, root: Mapping[str, Any] | None) -> list[str]:
    prop = resolve(prop, root)
    return [prop[k] for k in LABEL_KEYS if isinstance(prop.get(k), str)]


def field_type(obj: T, name: str) -> tuple[str, T] | None:
    """Look ``name`` (a field name or one of its labels) up in an object type.

    Returns the canonical field name and its type, or None when the object does not allow it.
    """
    if obj.kind == "any" or obj.schema is None:
        return name, ANY
    props = obj.schema.get("properties")
    props = props if isinstance(props, Mapping) else {}
    if name in props:
        return name, from_schema(props[name], obj.root)
    for key, prop in props.items():
        if name in _labels(prop, obj.root):
            return key, from_schema(prop, obj.root)
    extra = obj.schema.get("additionalProperties")
    if isinstance(extra, Mapping):
        return name, from_schema(extra, obj.root)
    if extra is True or not props or obj.schema.get("patternProperties"):
        return name, ANY
    return None


def _allows_null(schema: Any, root: Mapping[str, Any] | None) -> bool:
    schema = resolve(schema, root)
    declared = schema.get("type")
    if declared == "null" or (isinstance(declared, list) and "null" in declared):
        return True
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and any(_allows_null(o, root) for o in options):
            return True
    return False


def always_present(obj: T, name: str) -> bool:
    """Whether a valid object always holds a non-null value under canonical field ``name``."""
    if obj.schema is None:
        return False
    required = obj.schema.get("required")
    props = obj.schema.get("properties")
    if not isinstance(required, list) or name not in required or not isinstance(props, Mapping):
        return False
    return name in props and not _allows_null(props[name], obj.root)


def suggestions(obj: T) -> dict[str, str]:
    """Every name (field or label) accepted on an object type -> its canonical field name."""
    if obj.schema is None:
        return {}
    props = obj.schema.get("properties")
    out: dict[str, str] = {}
    if isinstance(props, Mapping):
        for key, prop in props.items():
            out[key] = key
            for label in _labels(prop, obj.root):
                out.setdefault(label, key)
    return out


_TEMPORAL = ("date", "datetime")


def compatible(a: T, b: T) -> bool:
    """Whether two values of these types may be compared for equali"""
    if a.kind in ("any", "null") or b.kind in ("any", "null") or a.kind == b.kind:
        return True
    pair = {a.kind, b.kind}
    return "string" in pair and bool(pair & set(_TEMPORAL))


def unify(a: T, b: T) -> T:
    """The common type of two values (``any`` when they differ)."""
    if a.kind == "null":
        return b
    if b.kind == "null" or a is b:
        return a
    if a.kind != b.kind or "any" in (a.kind, b.kind):
        return ANY
    if a.kind == "number":
        return INTEGER if a.integer and b.integer else NUMBER
    if a.kind == "list":
        return T("list", item=unify(a.item or ANY, b.item or ANY))
    return a


def arith_type(op: str, lt: T, rt: T) -> T | None:
    kinds = (lt.kind, rt.kind)
    if "null" in kinds:
        return NULL
    if kinds == ("number", "number"):
        exact_int = lt.integer and rt.integer and op in "+-*"
        return INTEGER if exact_int else NUMBER
    if "any" in kinds:
        other = rt if lt.kind == "any" else lt
        if other.kind == "number" and op in "*/%":
            return ANY if op != "%" else NUMBER
        return NUMBER if other.kind == "number" else ANY
    table = {
        ("+", "string", "string"): STRING,
        ("+", "list", "list"): LIST,
        ("+", "date", "duration"): DATE,
        ("-", "date", "duration"): DATE,
        ("+", "datetime", "duration"): DATETIME,
        ("-", "datetime", "duration"): DATETIME,
        ("+", "duration", "date"): DATE,
        ("+", "duration", "datetime"): DATETIME,
        ("+", "duration", "duration"): DURATION,
        ("-", "duration", "duration"): DURATION,
        ("-", "date", "date"): DURATION,
        ("-", "datetime", "datetime"): DURATION,
        ("*", "duration", "number"): DURATION,
        ("*", "number", "duration"): DURATION,
        ("/", "duration", "number"): DURATION,
        ("/", "duration", "duration"): NUMBER,
    }
    return table.get((op, *kinds))
