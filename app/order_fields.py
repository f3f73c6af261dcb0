"""The order schema the app validates against: the canonical schema plus admins' custom fields.

Custom fields live in the database (``order_custom_fields``) and are merged under
``custom.properties`` so that payloads are checked and flows can type-check expressions
such as ``order.custom.po_number``. Validators are compiled once per set of custom fields.

:func:`validate` is the one check of an order, whichever way it comes in; each problem is
``{"path", "field", "message", "rule", "example"}`` (``field_zh`` and ``message_zh`` in
Chinese): the JSON pointer and the field's label, why, and an accepted value as JSON text.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import threading
from collections.abc import Mapping
from itertools import islice
from typing import Any

import jsonschema_rs
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from flow_engine import SchemaFailure, describe_schema_error, order_schema

from .db import on_commit
from .errors import ConflictError, NotFoundError, ValidationError
from .i18n import in_both
from .models import CustomField
from .rechecked import Rechecked
from .sales_channels import with_sales_channels

MAX_PROBLEMS = 50
MAX_AMOUNT = 999_999_999_999
FIELD_TYPES: dict[str, dict[str, Any]] = {
    "string": {"type": "string", "maxLength": 2000},
    "number": {"type": "number"},
    "integer": {"type": "integer"},
    "boolean": {"type": "boolean"},
    "date-time": {"type": "string", "format": "date-time"},
}
NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

# Custom fields are read at most once a second per process: a field added or removed in
# another process applies to its orders within that second.
RECHECK_SECONDS = 1.0
_lock = threading.Lock()
_cache: dict[tuple[Any, ...], tuple[dict[str, Any], Any]] = {}
_current: Rechecked[tuple[dict[str, Any], Any]] = Rechecked(RECHECK_SECONDS)


def _fingerprint(fields: list[CustomField]) -> tuple[Any, ...]:
    return tuple(
        (f.name, f.type, f.label_en, f.label_zh, f.required, tuple(f.options or ())) for f in fields
    )


def _field_schema(field: CustomField) -> dict[str, Any]:
    schema = dict(FIELD_TYPES[field.type])
    if field.options:
        schema["enum"] = list(field.options)
    schema["description"] = field.label_en
    schema["x-label-en"] = field.label_en
    schema["x-label-zh"] = field.label_zh
    return schema


def with_storage_limits(schema: dict[str, Any]) -> dict[str, Any]:
    """Bound what the order table stores in columns (the amount is NUMERIC(14, 2))."""
    amount = schema["properties"].get("amount")
    if isinstance(amount, dict):
        amount.setdefault("maximum", MAX_AMOUNT)
    return schema


def _build(fields: list[CustomField]) -> tuple[dict[str, Any], Any]:
    schema = with_sales_channels(with_storage_limits(copy.deepcopy(order_schema())))
    if fields:
        custom = schema["properties"].setdefault("custom", {"type": "object"})
        props = custom.setdefault("properties", {})
        for field in fields:
            props[field.name] = _field_schema(field)
        required = [f.name for f in fields if f.required]
        if required:
            custom["required"] = required
            schema["required"] = sorted({*schema.get("required", ()), "custom"})
    return schema, jsonschema_rs.validator_for(schema, validate_formats=True)


def _compiled(db: Session) -> tuple[dict[str, Any], Any]:
    return _current.get(db, _load)


def _load(db: Session) -> tuple[dict[str, Any], Any]:
    fields = list(db.scalars(select(CustomField).order_by(CustomField.name)))
    key = _fingerprint(fields)
    with _lock:
        hit = _cache.get(key)
    if hit is None:
        hit = _build(fields)
        with _lock:
            if len(_cache) > 16:
                _cache.clear()
            _cache[key] = hit
    return hit


def forget() -> None:
    """Look at the custom fields again on the next order (after a change here)."""
    _current.forget()


def effective_schema(db: Session) -> dict[str, Any]:
    """The canonical order schema with the custom fields merged in (a fresh copy)."""
    return copy.deepcopy(_compiled(db)[0])


def declared_custom_fields(db: Session) -> frozenset[str]:
    """Names of the custom fields the order declares (``order.custom.<name>``)."""
    custom = _compiled(db)[0]["properties"].get("custom") or {}
    return frozenset(custom.get("properties") or ())


def _label(schema: Mapping[str, Any], parts: list[Any]) -> tuple[Mapping[str, Any], str, str]:
    """The schema of the value at ``parts`` and its field label in English and Chinese."""
    spec: Mapping[str, Any] = schema
    en, zh = [str(schema.get("x-label-en"))], [str(schema.get("x-label-zh"))]
    for step in parts:
        if isinstance(step, int):
            items = spec.get("items")
            spec = items if isinstance(items, Mapping) else {}
            en[-1], zh[-1] = f"{en[-1]} #{step + 1}", f"{zh[-1]}第 {step + 1} 项"
            continue
        found = (spec.get("properties") or {}).get(step)
        spec = found if isinstance(found, Mapping) else {}
        en.append(str(spec.get("x-label-en") or step))
        zh.append(str(spec.get("x-label-zh") or spec.get("x-label-en") or step))
    if len(en) > 1:  # "Order" goes without saying below the order itself
        en, zh = en[1:], zh[1:]
    return spec, " › ".join(en), " › ".join(zh)


@functools.cache
def _canonical() -> dict[str, Any]:
    # Labels only: the channel list is not needed, nor refreshed.
    return order_schema()


def field_label(pointer: str) -> tuple[Mapping[str, Any], str, str]:
    """The schema of the order value at the JSON pointer ``pointer`` (``/lines/0/sku``) and
    its label in English and Chinese (订单行第 1 项 › 商品编码), by the canonical order schema;
    a custom field is named by its key."""
    parts: list[Any] = [int(p) if p.isdigit() else p for p in pointer.strip("/").split("/") if p]
    return _label(_canonical(), parts)


def accepted_example(spec: Mapping[str, Any]) -> str:
    """A value ``spec`` accepts, as JSON text (``"CNY"``, ``12.5``)."""
    return json.dumps(_accepted(spec), ensure_ascii=False, default=str)


# A value of each type, for fields whose schema gives no example or options.
TYPE_EXAMPLES: dict[Any, Any] = {"string": "text", "boolean": True, "array": []}


def _accepted(spec: Mapping[str, Any]) -> Any:
    """A value ``spec`` accepts: its example, its first option, or one of its type."""
    if spec.get("examples"):
        return spec["examples"][0]
    if spec.get("enum"):
        return spec["enum"][0]
    if spec.get("format") == "date-time":
        return "2026-12-07T09:30:00+08:00"
    kinds = spec.get("type")
    kind = next((k for k in kinds if k != "null"), None) if isinstance(kinds, list) else kinds
    if kind == "object":
        props = spec.get("properties") or {}
        return {name: _accepted(props.get(name) or {}) for name in spec.get("required") or ()}
    if kind == "array" and isinstance(spec.get("items"), Mapping):
        return [_accepted(spec["items"])]
    if kind in ("integer", "number"):
        low = spec.get("minimum", 0)
        return max(low, 1) if kind == "integer" else max(low, 12.5)
    return TYPE_EXAMPLES.get(kind, "text")


def _pointer(parts: list[Any]) -> str:
    return "/" + "/".join(str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _problem(schema: Mapping[str, Any], parts: list[Any], err: Any, at: str) -> dict[str, Any]:
    """One problem: where (JSON pointer and field label), what and why (the rule and a
    sentence naming the field, what is accepted and an example, as the flow editor says it),
    and a value that would be accepted; texts in English and Chinese."""
    kind = err.kind.name
    spec, field, field_zh = _label(schema, parts)
    example = err.kind.as_dict().get("limit") if kind in ("minimum", "maximum") else None
    if example is None:
        example = _accepted(spec)
    failure = SchemaFailure.located(
        schema, list(err.schema_path), list(err.instance_path), err.instance, err.message
    )
    en, zh = describe_schema_error(failure, schema, ("Order", "订单"), (field, field_zh))
    return {
        "path": at + _pointer(parts) if parts else at or "/",
        "field": field,
        "field_zh": field_zh,
        "message": en,
        "message_zh": zh,
        "rule": kind,
        "example": json.dumps(example, ensure_ascii=False, default=str),
    }


def _not_an_object(schema: Mapping[str, Any], at: str) -> dict[str, Any]:
    said = in_both(lambda: _("An order is a JSON object."))
    return {
        "path": at or "/",
        "field": str(schema.get("x-label-en")),
        "field_zh": str(schema.get("x-label-zh")),
        "message": said["en"],
        "message_zh": said["zh"],
        "rule": "type",
        "example": json.dumps(_accepted(schema), ensure_ascii=False),
    }


def problems(
    db: Session, doc: Any, *, at: str = "", limit: int = MAX_PROBLEMS
) -> tuple[int, list[dict[str, Any]]]:
    """How many problems ``doc`` has against the effective schema (at most MAX_PROBLEMS are
    counted), and the first ``limit`` of them by path, their paths under ``at``."""
    schema, validator = _compiled(db)
    if not isinstance(doc, Mapping):
        return 1, [_not_an_object(schema, at)][:limit]
    if validator.is_valid(doc):
        return 0, []
    found = []
    for err in islice(validator.iter_errors(doc), MAX_PROBLEMS):
        parts = list(err.instance_path)
        if err.kind.name == "required":
            parts.append(str(err.kind.as_dict().get("property")))
        found.append((_pointer(parts), parts, err))
    found.sort(key=lambda f: f[0])
    return len(found), [_problem(schema, parts, err, at) for _, parts, err in found[:limit]]


def validate(db: Session, doc: Any) -> None:
    """Raise ValidationError (``invalid_order``) listing every problem of ``doc``."""
    count, found = problems(db, doc)
    if count:
        raise ValidationError(
            _l("The order has %(n)d problems.", n=count), code="invalid_order", details=found
        )


# -- admin operations -------------------------------------------------------------------


def list_fields(db: Session) -> list[CustomField]:
    return list(db.scalars(select(CustomField).order_by(CustomField.name)))


def add_field(
    db: Session,
    actor: object,
    *,
    name: str,
    type: str,
    label_en: str,
    label_zh: str,
    required: bool = False,
    options: list[Any] | None = None,
) -> CustomField:
    """Add a custom order field (under ``custom``). No commit."""
    problems: dict[str, str] = {}
    if not NAME_RE.match(name or ""):
        problems["name"] = str(_l("Use lower-case letters, digits and _, starting with a letter."))
    if type not in FIELD_TYPES:
        problems["type"] = str(_l("Unknown field type."))
    if not (label_en or "").strip() or not (label_zh or "").strip():
        problems["label"] = str(_l("Give the field an English and a Chinese label."))
    if problems:
        raise ValidationError(_l("The custom field is not valid."), fields=problems)
    if db.scalars(select(CustomField).where(CustomField.name == name)).first() is not None:
        raise ConflictError(_l("A custom field named %(name)s exists already.", name=name))
    field = CustomField(
        name=name,
        type=type,
        label_en=label_en.strip(),
        label_zh=label_zh.strip(),
        required=bool(required),
        options=list(options) if options else None,
    )
    db.add(field)
    db.flush()
    on_commit(db, forget)
    return field


def remove_field(db: Session, actor: object, name: str) -> None:
    field = db.scalars(select(CustomField).where(CustomField.name == name)).first()
    if field is None:
        raise NotFoundError(_l("There is no custom field named %(name)s.", name=name))
    db.delete(field)
    db.flush()
    on_commit(db, forget)
