"""JSON Schema errors as people read them: the field's label, what is accepted, an example.

jsonschema says ``'4小时' does not match '^([0-9]+[wdhms])+$'`` or ``[] should be non-empty``;
a supervisor needs ``「审批人」至少需要 1 项``. Each error kind (required, minItems, enum,
pattern, type, ...) has an English and a Chinese sentence naming the field by its ``title`` /
``x-title-zh`` (or ``x-label-en`` / ``x-label-zh``), with an example of an accepted value.
Values and examples are `backquoted`: the editor shows them as code.

One describer for every schema in OrderFlow: the flow and node schemas and the template
bundles (checked with jsonschema) and orders at intake (checked with jsonschema-rs, whose
errors are located in their schema by :meth:`Failure.located`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

# Examples for the identifier patterns of the flow and node schemas.
PATTERN_EXAMPLES = {
    "^[a-z][a-z0-9_]{0,63}$": "manual_review",
    "^[a-z_][a-z0-9_]{0,63}$": "risk_score",
    "^[a-z][a-z0-9_.]{0,63}$": "credit.over_limit",
    "^[a-z][a-z0-9_.-]{0,79}$": "large-order-review",
    "^[a-z0-9][a-z0-9_.-]{0,63}$": "shop-1",
    "^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$": "approved",
    "^(order|customer|vars)(\\.[A-Za-z_][A-Za-z0-9_]*)+$": "order.review_level",
    "^[a-z][a-z_]*(\\.[a-z][a-z_]*)+$": "order.created",
    "^[A-Z]{3}$": "CNY",
}
TYPES = {
    "string": ("text", "文本", '"VIP"'),
    "integer": ("a whole number", "整数", "3"),
    "number": ("a number", "数字", "12.5"),
    "boolean": ("true or false", "是或否", "true"),
    "array": ("a list", "列表", '["a", "b"]'),
    "object": ("a group of settings", "一组设置", "{}"),
    "null": ("empty", "空值", "null"),
}


def _titles(schema: Mapping[str, Any], name: str) -> tuple[str, str]:
    en = schema.get("title") or schema.get("x-label-en") or name
    zh = schema.get("x-title-zh") or schema.get("x-label-zh") or en
    return str(en), str(zh)


def _at(root: Mapping[str, Any], path: list[Any]) -> tuple[Mapping[str, Any], str, str]:
    """The schema of the value at ``path`` and its label in English and Chinese."""
    schema, name = root, ""
    en, zh = _titles(root, "")
    for step in path:
        props = schema.get("properties") or {}
        if isinstance(step, int) and isinstance(schema.get("items"), Mapping):
            schema = schema["items"]
            en, zh = (f"{en} #{step + 1}", f"{zh}第 {step + 1} 项") if en else (en, zh)
            continue
        if step in props:
            schema, name = props[step], str(step)
        elif isinstance(schema.get("additionalProperties"), Mapping):
            schema, name = schema["additionalProperties"], str(step)
        else:
            return {}, str(step), str(step)
        en, zh = _titles(schema, name)
    return schema, en, zh


def _example(schema: Mapping[str, Any]) -> str | None:
    """An accepted value, `backquoted` (pages show it as code)."""
    for key in ("x-example", "examples", "default", "enum"):
        value = schema.get(key)
        if isinstance(value, list) and value:
            value = value[0]
        if value not in (None, "", [], {}):
            return f"`{value if isinstance(value, str) else repr(value)}`"
    pattern = PATTERN_EXAMPLES.get(schema.get("pattern", ""))
    return f"`{pattern}`" if pattern else None


def _choices(schema: Mapping[str, Any]) -> tuple[str, str]:
    names, names_en = schema.get("x-enum-zh") or {}, schema.get("x-enum-en") or {}
    values = [v for v in schema.get("enum") or () if v is not None]
    en = ", ".join(f"{names_en[v]} (`{v}`)" if v in names_en else f"`{v}`" for v in values)
    zh = "、".join(f"{names[v]}（`{v}`）" if v in names else f"`{v}`" for v in values)
    return en, zh


def _shown(value: Any) -> str:
    """The value a person gave, shortened and `backquoted`."""
    text = (value if isinstance(value, str) else repr(value)).replace("`", "'")
    return f"`{text}`" if len(text) <= 40 else f"`{text[:39]}…`"


Message = tuple[str, str]


class SchemaError(Protocol):
    """What the describer reads of a failed check (jsonschema's ``SchemaError`` has it)."""

    @property
    def validator(self) -> Any: ...  # the keyword that failed: "required", "minimum", ...
    @property
    def validator_value(self) -> Any: ...  # that keyword's value in the schema
    @property
    def instance(self) -> Any: ...  # the value checked
    @property
    def schema(self) -> Any: ...  # the (sub)schema holding the keyword
    @property
    def absolute_path(self) -> Sequence[Any]: ...  # where the value is in the document
    @property
    def message(self) -> str: ...  # the library's own sentence, the last resort


class Failure(NamedTuple):
    """A failed check given by where it is, for validators that do not hand over the
    subschema (jsonschema-rs): see :meth:`located`."""

    validator: str
    validator_value: Any
    instance: Any
    schema: Any
    absolute_path: Sequence[Any]
    message: str

    @classmethod
    def located(
        cls,
        root: Mapping[str, Any],
        schema_path: Sequence[Any],
        instance_path: Sequence[Any],
        instance: Any,
        message: str,
    ) -> Failure:
        """The failure of the keyword at ``schema_path`` in ``root`` (a schema without
        ``$ref``) on the value ``instance`` at ``instance_path``."""
        holder: Any = root
        for step in schema_path[:-1]:
            try:
                holder = holder[step]
            except (KeyError, IndexError, TypeError):
                holder = {}
                break
        keyword = str(schema_path[-1]) if schema_path else ""
        value = holder.get(keyword) if isinstance(holder, Mapping) else None
        return cls(keyword, value, instance, holder, list(instance_path), message)


def _schema_of(err: SchemaError) -> Mapping[str, Any]:
    """The subschema whose keyword failed (a boolean schema has no titles or choices)."""
    return err.schema if isinstance(err.schema, Mapping) else {}


def _listed(err: SchemaError) -> list[Any]:
    """The failed keyword's value when it is a list (``required``, ``oneOf``)."""
    return err.validator_value if isinstance(err.validator_value, list) else []


def missing_property(err: SchemaError) -> str | None:
    """The field a ``required`` failure is about. Validators report each missing field as a
    failure of its own, with the whole ``required`` list: the one meant is the missing field
    the message starts with (``'sku' is a required property``, or ``"sku" …`` from
    jsonschema-rs), else the first missing one."""
    instance = err.instance if isinstance(err.instance, Mapping) else {}
    missing = [p for p in _listed(err) if p not in instance]
    message = str(err.message)
    for name in missing:
        if message.startswith((repr(name), json.dumps(name, ensure_ascii=False))):
            return str(name)
    return str(missing[0]) if missing else None


def _required(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    missing = missing_property(err) or ""
    sub = (_schema_of(err).get("properties") or {}).get(missing, {})
    field_en, field_zh = _titles(sub, str(missing))
    example = _example(sub)
    if example is None:
        return f"“{field_en}” is required.", f"「{field_zh}」必填。"
    return (
        f"“{field_en}” is required, e.g. {example}.",
        f"「{field_zh}」必填，例如 {example}。",
    )


def _min_items(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    n = err.validator_value
    return (
        f"“{en}” needs at least {n} {'entry' if n == 1 else 'entries'}.",
        f"「{zh}」至少需要 {n} 项。",
    )


def _max_items(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    n = err.validator_value
    return f"“{en}” takes at most {n} entries.", f"「{zh}」最多 {n} 项。"


def _enum(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    choices_en, choices_zh = _choices(_schema_of(err))
    value = _shown(err.instance)
    return (
        f"“{en}” cannot be {value}; choose one of: {choices_en}.",
        f"「{zh}」不能是 {value}，请从以下选择：{choices_zh}。",
    )


def _pattern(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    example = _example(_schema_of(err)) or "`abc_1`"
    value = _shown(err.instance)
    return (
        f"“{en}” {value} is not in the accepted form; write it like {example}.",
        f"「{zh}」的 {value} 格式不对：请写成类似 {example} 的形式。",
    )


def _type(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    wanted = err.validator_value
    wanted = (
        next((t for t in wanted if t != "null"), "string") if isinstance(wanted, list) else wanted
    )
    type_en, type_zh, example = TYPES.get(str(wanted), (str(wanted), str(wanted), "…"))
    example = f"`{example}`"
    return (
        f"“{en}” must be {type_en}, e.g. {example}.",
        f"「{zh}」应为{type_zh}，例如 {example}。",
    )


def _min_length(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    if err.validator_value == 1:
        return f"“{en}” cannot be empty.", f"「{zh}」不能为空。"
    n = err.validator_value
    return f"“{en}” needs at least {n} characters.", f"「{zh}」至少需要 {n} 个字符。"


def _max_length(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    n = err.validator_value
    return f"“{en}” is longer than {n} characters.", f"「{zh}」不能超过 {n} 个字符。"


def _minimum(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    n = err.validator_value
    return f"“{en}” must be at least {n}.", f"「{zh}」不能小于 {n}。"


def _maximum(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    n = err.validator_value
    return f"“{en}” must be at most {n}.", f"「{zh}」不能大于 {n}。"


def _extra(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    props = _schema_of(err).get("properties") or {}
    instance = err.instance if isinstance(err.instance, Mapping) else {}
    unknown = ", ".join(sorted(f"`{k}`" for k in instance if k not in props))
    known_en = ", ".join(_titles(p, k)[0] for k, p in props.items())
    known_zh = "、".join(_titles(p, k)[1] for k, p in props.items())
    return (
        f"“{en}” has no setting {unknown}; it takes: {known_en}.",
        f"「{zh}」没有 {unknown} 这一项；可以填写：{known_zh}。",
    )


def _one_of_fields(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    props = _schema_of(err).get("properties") or {}
    names = []
    for option in _listed(err):
        names += [p for p in option.get("required") or () if p not in names]
    if not names:  # not a choice between fields: list what each option would have needed
        return f"“{en}” is not filled in as any accepted form.", f"「{zh}」的填写方式都不符合要求。"
    opts_en = " or ".join(f"“{_titles(props.get(n, {}), n)[0]}”" for n in names)
    opts_zh = "或".join(f"「{_titles(props.get(n, {}), n)[1]}」" for n in names)
    return f"“{en}” needs exactly one of {opts_en}.", f"「{zh}」需要且只能填写{opts_zh}其中一项。"


def _one_property(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    props = _schema_of(err).get("properties") or {}
    opts_en = ", ".join(_titles(p, k)[0] for k, p in props.items())
    opts_zh = "、".join(_titles(p, k)[1] for k, p in props.items())
    return (
        f"“{en}” takes exactly one of: {opts_en}.",
        f"「{zh}」需要且只能选择其中一项：{opts_zh}。",
    )


def _unique(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    return f"“{en}” lists the same entry twice.", f"「{zh}」中有重复的项。"


def _const(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    value = err.validator_value
    return f"“{en}” must be `{value!r}`.", f"「{zh}」只能是 `{value!r}`。"


FORMATS = {
    "date-time": ("a date and time", "日期时间", "2026-12-07T09:30:00+08:00"),
    "date": ("a date", "日期", "2026-12-07"),
    "time": ("a time", "时间", "09:30:00+08:00"),
    "email": ("an email address", "邮箱地址", "ops@example.com"),
    "uri": ("a web address", "网址", "https://erp.example.com/hooks"),
}


def _format(err: SchemaError, schema: Mapping[str, Any], en: str, zh: str) -> Message:
    name = str(err.validator_value)
    kind_en, kind_zh, example = FORMATS.get(name, (name, name, ""))
    example = _example(schema) or (f"`{example}`" if example else "")
    value = _shown(err.instance)
    tail_en, tail_zh = (f", e.g. {example}", f"，例如 {example}") if example else ("", "")
    return (
        f"“{en}” {value} is not {kind_en}{tail_en}.",
        f"「{zh}」的 {value} 不是有效的{kind_zh}{tail_zh}。",
    )


MESSAGES: dict[str, Callable[[SchemaError, Mapping[str, Any], str, str], Message]] = {
    "required": _required,
    "minItems": _min_items,
    "maxItems": _max_items,
    "enum": _enum,
    "pattern": _pattern,
    "type": _type,
    "minLength": _min_length,
    "maxLength": _max_length,
    "minimum": _minimum,
    "maximum": _maximum,
    "additionalProperties": _extra,
    "oneOf": _one_of_fields,
    "anyOf": _one_of_fields,
    "minProperties": _one_property,
    "maxProperties": _one_property,
    "uniqueItems": _unique,
    "const": _const,
    "format": _format,
}


def describe(
    err: SchemaError,
    root: Mapping[str, Any] | bool,
    top: tuple[str, str],
    label: tuple[str, str] | None = None,
) -> Message:
    """``(English, Chinese)`` for one failed check against ``root``; ``top`` names the
    document itself (the node's config, the flow), ``label`` the value when the caller names
    it better than its schema title does (a breadcrumb such as 订单行第 2 项 › 数量)."""
    path = list(err.absolute_path)
    schema, en, zh = _at(root if isinstance(root, Mapping) else {}, path)
    if not path:
        en, zh = top
    if label is not None:
        en, zh = label
    render = MESSAGES.get(str(err.validator))
    if render is None:
        return f"“{en}”: {err.message}", f"「{zh}」的值无效（`{err.message}`）"
    return render(err, schema, en, zh)
