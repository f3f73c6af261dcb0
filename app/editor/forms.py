"""Node configuration forms, generated from each node type's ``config_schema``.

The schema is turned into a tree of widgets that ``editor/_node_form.html`` renders. Every
input carries ``data-path`` (dot path into the config, list items by index) and
``data-type``; the editor script reads the form back into the config with them.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _

from flow_engine import NODE_HANDLERS
from flow_engine._durations import DurationError, normalise_duration

from ..errors import ValidationError
from ..i18n import localized
from ..jsonbody import parse_json
from .catalog import expression_kind, help_texts

MAX_NODE_JSON = 200_000
OBJECT_KINDS = ("group", "choice", "localized", "map", "assignee")


def _assignee_kinds(node_type: str) -> list[tuple[str, str]]:
    """The kinds of assignee the picker offers; the order's contact only receives notices."""
    kinds = [
        ("user", _("Person")),
        ("role", _("Business role")),
        ("department", _("Department")),
        ("head", _("Head of department")),
        ("manager_of", _("Manager of")),
        ("expression", _("Expression")),
    ]
    return kinds + ([("contact", _("Order contact"))] if node_type == "notify" else [])


def _assignee_kind(value: Mapping[str, Any]) -> str:
    if "department" in value:
        return "head" if value.get("head") else "department"
    return next(
        (k for k in ("user", "role", "manager_of", "expression", "contact") if k in value), "role"
    )


def parse_node(raw: str) -> dict[str, Any]:
    if len(raw) > MAX_NODE_JSON:
        raise ValidationError(_("The node is too large."), code="invalid_request")
    node = parse_json(raw)
    if not isinstance(node, dict) or node.get("type") not in NODE_HANDLERS:
        raise ValidationError(_("Unknown node type."), code="invalid_request")
    if not isinstance(node.get("config"), dict):
        node["config"] = {}
    return node


def _label(schema: Mapping[str, Any], name: str, lang: str) -> str:
    if lang == "zh" and schema.get("x-title-zh"):
        return str(schema["x-title-zh"])
    return str(schema.get("title") or name)


def _kind_of(schema: Mapping[str, Any]) -> str | None:
    types = schema.get("type")
    if isinstance(types, list):
        types = next((t for t in types if t != "null"), None)
    return types


def _is_localized(schema: Mapping[str, Any]) -> bool:
    return _kind_of(schema) == "object" and set(schema.get("properties") or {}) == {"en", "zh"}


def _options(
    schema: Mapping[str, Any], lang: str, names: Mapping[str, str] | None = None
) -> list[tuple[str, str]]:
    names = schema.get("x-enum-zh") or names or {}
    return [(str(v), str(names.get(v, v)) if lang == "zh" else str(v)) for v in schema["enum"]]


def _duration_text(value: Any) -> tuple[Any, bool]:
    """The canonical form when ``value`` reads as a duration, and whether it changed."""
    try:
        canonical = normalise_duration(value)
    except DurationError:
        return value, False
    return canonical, canonical != value


def _help(schema: Mapping[str, Any], lang: str) -> str:
    return localized(help_texts(schema), lang)


def _duration_help(schema: Mapping[str, Any], lang: str) -> str:
    said = _help(schema, lang)
    gap = "" if lang == "zh" else " "  # Chinese sentences run on without a space
    return (said + gap if said else "") + _(
        "Write e.g. 4h, 2d 4h, 30 min, 2 hours or 1.5h; it is stored as 4h, 2d4h, 30m."
    )


def widget(
    schema: Mapping[str, Any],
    value: Any,
    path: str,
    name: str,
    node_type: str,
    lang: str,
    required: bool = False,
) -> dict[str, Any]:
    """The widget for one schema node and its current value."""
    base = {
        "path": path,
        "label": _label(schema, name, lang),
        "help": _help(schema, lang),
        "required": required,
        "value": value,
        "id": "cfg-" + path.replace(".", "-"),
    }
    kind = _kind_of(schema)
    if schema.get("x-editor") == "table":
        return {**base, "kind": "table", "json": json.dumps(value or {}, ensure_ascii=False)}
    if schema.get("x-editor") == "assignee":
        current = value if isinstance(value, Mapping) else {}
        return {
            **base,
            "kind": "assignee",
            "json": json.dumps(current, ensure_ascii=False),
            "chosen": _assignee_kind(current),
            "kinds": _assignee_kinds(node_type),
        }
    if schema.get("x-editor") == "dsl":
        return {**base, "kind": "dsl", "expr": expression_kind(node_type, path)}
    if schema.get("x-editor") == "duration":
        text, changed = _duration_text(value)
        return {
            **base,
            "kind": "duration",
            "value": text,
            "normalised": changed,
            "help": _duration_help(schema, lang),
        }
    if "enum" in schema:
        return {
            **base,
            "kind": "select",
            "options": _options(schema, lang),
            "default": schema.get("default"),
        }
    if kind == "boolean":
        return {**base, "kind": "boolean", "default": schema.get("default", False)}
    if kind in ("number", "integer"):
        return {**base, "kind": kind}
    if kind == "string" or kind is None and "properties" not in schema:
        return {**base, "kind": "text", "pattern": schema.get("pattern")}
    if kind == "array":
        items = schema.get("items") or {}
        if "enum" in items:
            options = _options(items, lang, schema.get("x-enum-zh"))
            return {**base, "kind": "multi", "options": options, "value": value or []}
        if items.get("x-editor") == "duration":
            texts = [_duration_text(v) for v in value or []]
            return {
                **base,
                "kind": "lines",
                "value": "\n".join(str(t) for t, _changed in texts),
                "normalised": any(changed for _t, changed in texts),
                "duration": True,
                "help": _duration_help(schema, lang),
            }
        if _kind_of(items) == "string" and items.get("x-editor") != "dsl":
            return {**base, "kind": "lines", "value": "\n".join(str(v) for v in value or [])}
        values = value if isinstance(value, list) else []
        children = [
            widget(items, v, f"{path}.{i}", f"{i + 1}", node_type, lang)
            for i, v in enumerate(values)
        ]
        probe = widget(items, None, f"{path}.0", "1", node_type, lang)["kind"]
        blank = not children and required and probe == "assignee"
        if blank:  # a required, empty list of assignees opens with the picker ready
            children = [widget(items, None, f"{path}.0", "1", node_type, lang)]
        return {
            **base,
            "kind": "list",
            "entries": children,
            "blank": blank,
            "item_label": _label(items, "", lang) if items.get("title") else base["label"],
            "item_kind": "object" if probe in OBJECT_KINDS else "value",
        }
    if kind == "object":
        value = value if isinstance(value, Mapping) else {}
        if _is_localized(schema):
            return {**base, "kind": "localized", "value": value}
        props = schema.get("properties") or {}
        if schema.get("minProperties") == 1 and schema.get("maxProperties") == 1 and props:
            chosen = next(iter(value), next(iter(props)))
            sub = props.get(chosen, {})
            return {
                **base,
                "kind": "choice",
                "options": [(k, _label(p, k, lang)) for k, p in props.items()],
                "chosen": chosen,
                "inner": widget(
                    sub, value.get(chosen), f"{path}.{chosen}", chosen, node_type, lang
                ),
            }
        if not props and isinstance(schema.get("additionalProperties"), Mapping):
            extra = schema["additionalProperties"]
            rows = [
                {"key": k, "value": v, "dsl": extra.get("x-editor") == "dsl"}
                for k, v in value.items()
            ]
            return {**base, "kind": "map", "rows": rows, "dsl": extra.get("x-editor") == "dsl"}
        need = set(schema.get("required") or ())
        children = [
            widget(p, value.get(k), f"{path}.{k}" if path else k, k, node_type, lang, k in need)
            for k, p in props.items()
        ]
        return {**base, "kind": "group", "children": children}
    return {**base, "kind": "text"}


def form_context(node: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """Everything ``editor/_node_form.html`` needs for ``node``."""
    handler = NODE_HANDLERS[node["type"]]
    schema = handler.config_schema
    root = widget(schema, node.get("config") or {}, "", "", node["type"], lang)
    name = node.get("name") or {}
    if isinstance(name, str):
        name = {"zh": name, "en": name}
    return {
        "node": node,
        "node_name": name,
        "title": handler.title.get(lang) or handler.title.get("en"),
        "description": _help(schema, lang),
        "fields": root.get("children", []),
        "node_json": json.dumps(node, ensure_ascii=False),
    }
