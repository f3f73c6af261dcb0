"""``orderflow dsl``: evaluate an expression and check rule-language sources from the shell."""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import click

from rule_dsl import (
    DecisionTable,
    DslError,
    compile_expression,
    validate_expression,
    validate_ruleset,
)

_LANGS = click.Choice(["en", "zh"])


def _read_text(path: str, what: str) -> str:
    try:
        return Path(path).read_text(encoding="utf-8")
    except (OSError, ValueError) as exc:  # UnicodeDecodeError is a ValueError
        raise click.ClickException(f"cannot read {what} {path}: {exc}") from None


def _read_json(path: str, what: str, text: str | None = None) -> Any:
    text = _read_text(path, what) if text is None else text
    try:
        # parse_float keeps money exact: 12.30 stays Decimal("12.30")
        return json.loads(text, parse_float=Decimal)
    except ValueError as exc:
        raise click.ClickException(f"cannot read {what} {path}: {exc}") from None


def _duration(value: timedelta) -> str:
    """ISO 8601 duration text: 48h -> "P2D", 90m -> "PT1H30M"."""
    sign = "-" if value < timedelta(0) else ""
    micros = abs(value) // timedelta(microseconds=1)
    days, micros = divmod(micros, 86_400_000_000)
    hours, micros = divmod(micros, 3_600_000_000)
    minutes, micros = divmod(micros, 60_000_000)
    clock = "".join(f"{v}{unit}" for v, unit in ((hours, "H"), (minutes, "M")) if v)
    if micros:
        clock += f"{(Decimal(micros) / 1_000_000).normalize():f}S"
    text = "P" + (f"{days}D" if days else "") + (f"T{clock}" if clock else "")
    return sign + text if text != "P" else "PT0S"


def to_json(value: Any) -> str:
    """JSON text of a rule value; decimals are written exactly, durations as ISO 8601."""
    if value is None or isinstance(value, (bool, str)):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Decimal):
        return str(value) if value.is_finite() else json.dumps(str(value))
    if isinstance(value, (date, datetime)):
        return json.dumps(value.isoformat())
    if isinstance(value, timedelta):
        return json.dumps(_duration(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(to_json(v) for v in value) + "]"
    if isinstance(value, dict):
        items = (
            f"{json.dumps(str(k), ensure_ascii=False)}: {to_json(v)}" for k, v in value.items()
        )
        return "{" + ", ".join(items) + "}"
    return json.dumps(str(value), ensure_ascii=False)


def _format_error(err: DslError, lang: str, filename: str | None = None) -> str:
    where = f"{err.line}:{err.column}" if err.line else "-"
    prefix = f"{filename}:{where}" if filename else where
    message = err.message_zh if lang == "zh" else err.message
    lines = [f"{prefix}: {err.kind} error [{err.code}]: {message}"]
    if err.excerpt:
        lines.extend(f"    {line}" for line in err.excerpt.splitlines())
    hint = err.hint_zh if lang == "zh" else err.hint
    if hint:
        lines.append(f"    {'提示' if lang == 'zh' else 'hint'}: {hint}")
    return "\n".join(lines)


@click.group("dsl")
def dsl() -> None:
    """Evaluate and check rule-language expressions, rule sets and decision tables."""


@dsl.command("eval")
@click.argument("expression")
@click.option("--context", "context_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON file with the evaluation context, e.g. {\"order\": {...}}.")  # fmt: skip
@click.option("--schema", "schema_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON Schema of the context; names and types are checked against it.")  # fmt: skip
@click.option("--now", "now_text", help="ISO datetime used by now()/today() (default: the clock).")
@click.option("--lang", type=_LANGS, default="en", show_default=True, help="Message language.")
def eval_command(
    expression: str,
    context_file: str | None,
    schema_file: str | None,
    now_text: str | None,
    lang: str,
) -> None:
    """Evaluate EXPRESSION against a context and print the value as JSON."""
    context = _read_json(context_file, "context") if context_file else {}
    schema = _read_json(schema_file, "schema") if schema_file else None
    now = None
    if now_text:
        try:
            now = datetime.fromisoformat(now_text)
        except ValueError:
            raise click.BadParameter(
                f"not an ISO datetime: {now_text}", param_hint="--now"
            ) from None
    try:
        value = compile_expression(expression, schema)(context, now=now)
    except DslError as err:
        click.echo(_format_error(err, lang), err=True)
        raise SystemExit(1) from None
    click.echo(to_json(value))


def _kind_of(path: Path, text: str) -> str:
    if path.suffix == ".json":
        return "table"
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))
    first = code.lstrip().split(None, 1)[0] if code.strip() else ""
    return "ruleset" if first in ("rule", "mode") else "expression"


@dsl.command("check")
@click.argument("source_file", type=click.Path(exists=True, dir_okay=False))
@click.option("--schema", "schema_file", type=click.Path(exists=True, dir_okay=False),
              help="JSON Schema of the evaluation context.")  # fmt: skip
@click.option("--kind", type=click.Choice(["auto", "expression", "ruleset", "table"]),
              default="auto", show_default=True,
              help="What the file holds; auto: .json is a table, `rule`/`mode` a rule set.")  # fmt: skip
@click.option("--expect", help="Type the expression must have, e.g. boolean for a condition.")
@click.option("--lang", type=_LANGS, default="en", show_default=True, help="Message language.")
def check_command(
    source_file: str, schema_file: str | None, kind: str, expect: str | None, lang: str
) -> None:
    """Check an expression, rule set or decision table; print every error with its caret."""
    path = Path(source_file)
    schema = _read_json(schema_file, "schema") if schema_file else None
    text = _read_text(source_file, "source")
    kind = _kind_of(path, text) if kind == "auto" else kind
    if kind == "table":
        errors = DecisionTable.validate(_read_json(source_file, "table", text), schema)
    elif kind == "ruleset":
        errors = validate_ruleset(text, schema)
    else:
        try:
            # the text is checked as written, so line numbers match the file
            errors = validate_expression(text, schema, expect=expect)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--expect") from None
    for err in errors:
        click.echo(_format_error(err, lang, source_file), err=True)
    if errors:
        noun = "error" if len(errors) == 1 else "errors"
        click.echo(f"{source_file}: {len(errors)} {noun}" if lang == "en" else
                   f"{source_file}：{len(errors)} 个错误", err=True)  # fmt: skip
        raise SystemExit(1)
    click.echo(
        f"{source_file}: ok ({kind})" if lang == "en" else f"{source_file}：无错误（{kind}）"
    )


def register(cli: click.Group) -> None:
    cli.add_command(dsl)
