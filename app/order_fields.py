"""The order schema the app validates against: the canonical schema plus admins' custom fields.

Custom fields live in the database (``order_custom_fields``) and are merged under
``custom.properties`` so that payloads are checked and flows can type-check expressions
such as ``order.custom.po_number``. Validators are compiled once per set of custom fields.
"""

from __future__ import annotations

import copy
import re
import threading
from collections.abc import Mapping
from typing import Any

import jsonschema_rs
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy import select
from sqlalchemy.orm import Session

from flow_engine import order_schema

from .db import on_commit
from .errors import ConflictError, NotFoundError, ValidationError
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


def _problem(err: Any) -> dict[str, Any]:
    path = "/" + "/".join(str(p) for p in err.instance_path)
    kind = err.kind.name
    info = err.kind.as_dict()
    if kind == "required":
        path = path.rstrip("/") + "/" + str(info.get("property"))
        message = _("This field is required.")
    elif kind == "type":
        message = _("Expected %(types)s.", types=" / ".join(info.get("types") or ()))
    elif kind == "enum":
        options = ", ".join(str(o) for o in info.get("options") or ())
        message = _("Must be one of: %(options)s.", options=options)
    elif kind in ("minLength", "maxLength", "minItems", "maxItems"):
        message = _("Length is out of range (%(rule)s).", rule=kind)
    elif kind in ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"):
        message = _("The number is out of range (%(rule)s %(limit)s).", rule=kind,
                    limit=info.get("limit"))  # fmt: skip
    elif kind == "format":
        message = _("Not a valid %(format)s.", format=info.get("format"))
    elif kind == "pattern":
        message = _("Does not match the expected pattern.")
    else:
        message = err.message
    return {"path": path, "message": str(message), "rule": kind}


def validate(db: Session, doc: Any) -> None:
    """Raise ValidationError listing every problem of ``doc`` with its JSON path."""
    if not isinstance(doc, Mapping):
        raise ValidationError(
            _l("An order is a JSON object."),
            code="invalid_order",
            details=[{"path": "/", "message": str(_l("An order is a JSON object.")),
                      "rule": "type"}],
        )  # fmt: skip
    validator = _compiled(db)[1]
    if validator.is_valid(doc):
        return
    problems = []
    for err in validator.iter_errors(doc):
        problems.append(_problem(err))
        if len(problems) >= MAX_PROBLEMS:
            break
    problems.sort(key=lambda p: p["path"])
    raise ValidationError(
        _l("The order has %(n)d problems.", n=len(problems)),
        code="invalid_order",
        details=problems,
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
