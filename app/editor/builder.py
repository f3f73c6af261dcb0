"""The no-code condition builder and the rule DSL: one converts into the other.

A builder condition is a tree of groups and comparisons::

    {"op": "and", "items": [
        {"field": "order.amount", "cmp": ">=", "value": "20000"},
        {"op": "or", "items": [{"field": "customer.tier", "cmp": "in", "value": ["gold", "vip"]}]}]}

``to_dsl`` writes the DSL; ``from_dsl`` reads a DSL condition back into the tree when it only
uses what the builder can show (fields compared with constants, in-lists, null tests, text
tests, and/or groups) and says why not otherwise, so the editor keeps that text as it is.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l

from rule_dsl import DslError
from rule_dsl import ast as A
from rule_dsl.parser import parse_expression

from ..errors import ValidationError
from .catalog import field_aliases, order_fields

COMPARISONS = ("==", "!=", ">", ">=", "<", "<=")
TEXT_TESTS = ("contains", "starts_with", "ends_with")
UNARY = ("is_null", "is_not_null")
LISTS = ("in", "not_in")
OPERATORS = COMPARISONS + LISTS + UNARY + TEXT_TESTS
MAX_DEPTH = 8


class NotRepresentableError(Exception):
    """The DSL uses something the builder cannot show."""


def _field_types() -> dict[str, dict[str, Any]]:
    return {f["path"]: f for f in order_fields()}


def _literal(value: Any, kind: str, field: str) -> str:
    if kind == "boolean":
        if isinstance(value, bool):
            return "true" if value else "false"
        text = str(value).strip().lower()
        if text not in ("true", "false"):
            raise ValidationError(
                _l("%(field)s takes true or false.", field=field), code="builder_value"
            )
        return text
    if kind in ("number", "integer"):
        try:
            number = Decimal(str(value).strip().replace(",", ""))
        except InvalidOperation:
            raise ValidationError(
                _l("%(field)s takes a number, not %(value)s.", field=field, value=value),
                code="builder_value",
            ) from None
        if not number.is_finite():
            raise ValidationError(_l("Numbers must be finite."), code="builder_value")
        return format(number, "f")
    if kind in ("datetime", "date"):
        func = "datetime" if kind == "datetime" else "date"
        return f"{func}({json.dumps(str(value).strip(), ensure_ascii=False)})"
    return json.dumps(str(value), ensure_ascii=False)


def _rule_to_dsl(rule: Mapping[str, Any], types: Mapping[str, dict[str, Any]]) -> str:
    field, cmp = rule.get("field"), rule.get("cmp")
    if not isinstance(field, str) or not field:
        raise ValidationError(_l("Choose a field for every condition."), code="builder_field")
    if cmp not in OPERATORS:
        raise ValidationError(_l("Choose an operator for every condition."), code="builder_op")
    kind = types.get(field, {}).get("type", "string")
    value = rule.get("value")
    if cmp == "is_null":
        return f"{field} is null"
    if cmp == "is_not_null":
        return f"{field} is not null"
    if cmp in LISTS:
        items = value if isinstance(value, list) else [v for v in str(value or "").split(",")]
        items = [v for v in items if str(v).strip() != ""]
        if not items:
            raise ValidationError(_l("Give at least one value for “in”."), code="builder_value")
        shown = ", ".join(_literal(str(v).strip(), kind, field) for v in items)
        return f"{field} {'not in' if cmp == 'not_in' else 'in'} [{shown}]"
    if cmp in TEXT_TESTS:
        return f"{cmp}({field}, {_literal(value or '', 'string', field)})"
    if value is None or str(value).strip() == "":
        raise ValidationError(_l("Give a value for %(field)s.", field=field), code="builder_value")
    return f"{field} {cmp} {_literal(value, kind, field)}"


def to_dsl(tree: Mapping[str, Any], *, _depth: int = 0) -> str:
    """Write a builder tree as a DSL condition."""
    if _depth > MAX_DEPTH:
        raise ValidationError(_l("Groups are nested too deeply."), code="builder_depth")
    types = _field_types()
    if "items" not in tree:
        return _rule_to_dsl(tree, types)
    op = tree.get("op", "and")
    if op not in ("and", "or"):
        raise ValidationError(_l("A group joins its conditions with and or or."), code="builder_op")
    parts = []
    for item in tree.get("items") or ():
        text = to_dsl(item, _depth=_depth + 1)
        if "items" in item and len(item.get("items") or ()) > 1:
            text = f"({text})"
        parts.append(text)
    if not parts:
        raise ValidationError(_l("Add at least one condition."), code="builder_empty")
    return f" {op} ".join(parts)


def _path(node: A.Node) -> str:
    names = []
    while isinstance(node, A.Attr):
        names.append(node.name)
        node = node.obj
    if not isinstance(node, A.Name):
        raise NotRepresentableError("not a field")
    names.append(node.name)
    written = ".".join(reversed(names))
    path = field_aliases().get(written, written)
    if path.startswith("order.customer."):
        path = path[len("order.") :]
    if path not in _field_types():
        raise NotRepresentableError(f"{written} is not a field the builder offers")
    return path


def _value(node: A.Node) -> Any:
    if isinstance(node, A.Literal) and node.kind in ("string", "number", "boolean"):
        if node.kind == "boolean":
            return bool(node.value)
        return str(node.value)
    if (
        isinstance(node, A.Call)
        and node.name in ("date", "datetime")
        and len(node.args) == 1
        and isinstance(node.args[0], A.Literal)
        and node.args[0].kind == "string"
    ):
        return str(node.args[0].value)
    raise NotRepresentableError("not a constant")


def _from_node(node: A.Node, depth: int) -> dict[str, Any]:
    if depth > MAX_DEPTH:
        raise NotRepresentableError("too deep")
    if isinstance(node, A.BoolOp):
        return {"op": node.op, "items": [_from_node(o, depth + 1) for o in node.operands]}
    if isinstance(node, A.Compare):
        return {"field": _path(node.left), "cmp": node.op, "value": _value(node.right)}
    if isinstance(node, A.In) and isinstance(node.right, A.ListLit):
        values = [_value(i) for i in node.right.items]
        return {
            "field": _path(node.left),
            "cmp": "not_in" if node.negated else "in",
            "value": values,
        }
    if isinstance(node, A.IsNull):
        return {"field": _path(node.operand), "cmp": "is_not_null" if node.negated else "is_null"}
    if isinstance(node, A.Call) and node.name in TEXT_TESTS and len(node.args) == 2:
        return {"field": _path(node.args[0]), "cmp": node.name, "value": _value(node.args[1])}
    raise NotRepresentableError(type(node).__name__)


def from_dsl(source: str) -> dict[str, Any]:
    """Read a DSL condition into a builder tree.

    Returns ``{"tree": ...}`` (always a group at the top) or ``{"tree": None, "reason": ...}``
    when the text uses something the builder cannot show; a syntax error raises ``DslError``.
    """
    if not source.strip():
        return {"tree": {"op": "and", "items": []}}
    node = parse_expression(source)
    try:
        tree = _from_node(node, 0)
    except NotRepresentableError as why:
        return {"tree": None, "reason": str(why)}
    if "items" not in tree:
        tree = {"op": "and", "items": [tree]}
    return {"tree": tree}


def round_trip(source: str) -> str | None:
    """The DSL the builder would write for ``source`` (None when it cannot show it)."""
    try:
        tree = from_dsl(source)["tree"]
    except DslError:
        return None
    return None if tree is None else to_dsl(tree)
