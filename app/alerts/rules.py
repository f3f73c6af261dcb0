"""Alert rule definitions: the five kinds, their parameters, and checking them.

=========  ==================================================================================
kind       definition
=========  ==================================================================================
order      ``condition``: a rule-language condition on one order (its fields, ``history``,
           ``cost``, ``vars``); one alert per order that meets it.
aggregate  ``dataset``, ``measure`` (count / sum / avg / max / rate), ``field`` (sum, avg,
           max), ``filter`` and for rate ``numerator`` (conditions), ``group_by``, ``window``,
           ``op`` and ``threshold`` (rate in percent), ``min_rows``.
streak     an aggregate's parameters without ``window``, plus ``period`` (hour / day) and
           ``periods``: the threshold is crossed in that many consecutive periods.
stuck      ``subject`` (order_status with ``states`` / node with ``flow`` and ``node`` /
           approval), ``longer_than``, ``group_by``, ``min_count``.
backlog    approvals waiting (``flow``, ``node`` optional) compared with ``threshold``
           (``op``), optionally only those ``older_than`` a duration; ``group_by`` node.
=========  ==================================================================================
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from rule_dsl import DslError

from ..costs.services import check_order_condition
from ..errors import ValidationError
from ..notifications.kinds import channel_names
from . import sqlfilter
from .datasets import DATASETS

KINDS = ("order", "aggregate", "streak", "stuck", "backlog")
SEVERITIES = ("info", "warning", "critical")
MEASURES = ("count", "sum", "avg", "max", "rate")
OPS = (">", ">=", "<", "<=")
PERIODS = {"hour": timedelta(hours=1), "day": timedelta(days=1)}
SUBJECTS = ("order_status", "node", "approval")
KEY_RE = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
MAX_WINDOW = timedelta(days=31)


def parse_duration(text: Any) -> timedelta | None:
    """``"90s"``, ``"30m"``, ``"4h"``, ``"3d"``, ``"2w"`` as a timedelta; None if malformed."""
    match = DURATION_RE.match(str(text or ""))
    if not match:
        return None
    seconds = float(match.group(1)) * UNIT_SECONDS[match.group(2)]
    return timedelta(seconds=seconds) if seconds > 0 else None


def format_duration(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    for unit in ("w", "d", "h", "m"):
        size = UNIT_SECONDS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


class _Check:
    """Collects one message per field of a definition."""

    def __init__(self, raw: Mapping[str, Any]) -> None:
        self.raw = raw
        self.errors: dict[str, Any] = {}
        self.out: dict[str, Any] = {}

    def choice(self, name: str, options: tuple[str, ...], default: str | None = None) -> str:
        value = self.raw.get(name) or default
        if value not in options:
            self.errors[name] = _l("Choose one of: %(options)s.", options=", ".join(options))
            return options[0]
        self.out[name] = value
        return str(value)

    def duration(self, name: str, *, required: bool = True, limit: timedelta | None = None) -> None:
        raw = self.raw.get(name)
        if raw in (None, "") and not required:
            self.out[name] = None
            return
        delta = parse_duration(raw)
        if delta is None:
            self.errors[name] = _l("Give a duration such as 30m, 4h or 3d.")
        elif limit is not None and delta > limit:
            self.errors[name] = _l("At most %(limit)s.", limit=format_duration(limit))
        else:
            self.out[name] = format_duration(delta)

    def number(self, name: str, *, integer: bool = False, low: float = 0) -> None:
        raw = self.raw.get(name)
        try:
            value = Decimal(str(raw).strip())
        except (InvalidOperation, ValueError):
            self.errors[name] = _l("Give a number.")
            return
        if not value.is_finite() or value < Decimal(str(low)):
            self.errors[name] = _l("Give a number of at least %(low)s.", low=low)
        elif integer and value != value.to_integral_value():
            self.errors[name] = _l("Give a whole number.")
        else:
            self.out[name] = int(value) if integer else _plain(value)

    def count(self, name: str, default: int) -> None:
        if self.raw.get(name) in (None, ""):
            self.out[name] = default
        else:
            self.number(name, integer=True, low=1)

    def text(self, name: str, limit: int = 64) -> str | None:
        value = str(self.raw.get(name) or "").strip()[:limit]
        self.out[name] = value or None
        return value or None

    def condition(self, name: str, check: Any, *, required: bool = False) -> None:
        source = str(self.raw.get(name) or "").strip()
        if not source:
            if required:
                self.errors[name] = _l("Write a condition.")
            self.out[name] = None
            return
        try:
            check(source)
        except DslError as err:
            self.errors[name] = dsl_message(err)
        self.out[name] = source


def _plain(value: Decimal) -> int | Decimal:
    return int(value) if value == value.to_integral_value() else value


def dsl_message(err: DslError) -> dict[str, Any]:
    """A rule-language error as a field error: message (both languages), line, caret."""
    return err.to_dict()


def check_definition(db: Session, kind: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned definition of a rule of ``kind``; ValidationError lists each problem."""
    if kind not in KINDS:
        raise ValidationError(_l("Unknown rule kind %(kind)s.", kind=kind), fields={"kind": kind})
    c = _Check(raw)
    if kind == "order":
        c.condition("condition", lambda s: check_order_condition(db, s), required=True)
    elif kind in ("aggregate", "streak"):
        _aggregate(c, kind)
    elif kind == "stuck":
        _stuck(c)
    else:
        c.text("flow")
        c.text("node")
        c.choice("group_by", ("none", "node"), "none")
        c.choice("op", OPS, ">")
        c.number("threshold", integer=True)
        c.duration("older_than", required=False, limit=timedelta(days=90))
    if c.errors:
        raise ValidationError(_l("The rule has problems; see the marked fields."), fields=c.errors)
    return c.out


def _aggregate(c: _Check, kind: str) -> None:

    ds_key = c.choice("dataset", tuple(DATASETS), "orders")
    ds = DATASETS[ds_key]
    measure = c.choice("measure", MEASURES, "count")
    if measure in ("sum", "avg", "max"):
        name = str(c.raw.get("field") or "")
        if name not in ds.fields or not ds.fields[name].summable:
            numeric = [n for n, f in ds.fields.items() if f.summable]
            c.errors["field"] = _l("Choose a number field: %(fields)s.", fields=", ".join(numeric))
        c.out["field"] = name or None
    else:
        c.out["field"] = None
    c.condition("filter", lambda s: sqlfilter.check(s, ds))
    c.condition("numerator", lambda s: sqlfilter.check(s, ds), required=measure == "rate")
    if measure != "rate":
        c.out["numerator"] = None
    group = str(c.raw.get("group_by") or "none")
    if group != "none" and (group not in ds.fields or not ds.fields[group].groupable):
        names = [n for n, f in ds.fields.items() if f.groupable]
        c.errors["group_by"] = _l("Group by one of: %(fields)s.", fields=", ".join(names))
    c.out["group_by"] = group
    c.choice("op", OPS, ">")
    c.number("threshold", low=-(10**12))
    c.count("min_rows", 10 if measure == "rate" else 1)
    if kind == "aggregate":
        c.duration("window", limit=MAX_WINDOW)
    else:
        c.choice("period", tuple(PERIODS), "day")
        c.number("periods", integer=True, low=2)
        if isinstance(c.out.get("periods"), int) and c.out["periods"] > 31:
            c.errors["periods"] = _l("At most %(limit)s.", limit=31)


def _stuck(c: _Check) -> None:
    subject = c.choice("subject", SUBJECTS, "order_status")
    c.duration("longer_than", limit=timedelta(days=90))
    c.count("min_count", 1)
    if subject == "order_status":
        states = c.raw.get("states") or []
        if isinstance(states, str):
            states = [s.strip() for s in states.split(",")]
        states = [str(s)[:32] for s in states if str(s).strip()]
        if not states:
            c.errors["states"] = _l("Name at least one order state.")
        c.out["states"] = states
        c.choice("group_by", ("none", "channel", "state"), "none")
    else:
        c.text("flow")
        c.text("node")
        if subject == "node" and not (c.out["flow"] and c.out["node"]):
            c.errors["node"] = _l("Name the flow and the node.")
        c.choice("group_by", ("none", "channel", "node"), "none")


def check_rule_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned rule columns besides the definition (key, names, severity, people...)."""
    errors: dict[str, Any] = {}
    key = str(raw.get("key") or "").strip().lower()
    if not KEY_RE.match(key):
        errors["key"] = _l("The key uses lowercase letters, digits, - _ . (up to 64).")
    name_zh = str(raw.get("name_zh") or "").strip()[:200]
    name_en = str(raw.get("name_en") or "").strip()[:200]
    if not (name_zh or name_en):
        errors["name_zh"] = _l("Give the rule a name.")
    severity = raw.get("severity") or "warning"
    if severity not in SEVERITIES:
        errors["severity"] = _l("Choose one of: %(options)s.", options=", ".join(SEVERITIES))
    recipients = []
    for item in raw.get("recipients") or []:
        if isinstance(item, Mapping):
            who = {k: str(v)[:64] for k, v in item.items() if k in ("user", "role") and v}
            if who:
                recipients.append(who)
    channels = [c for c in raw.get("channels") or [] if c in channel_names()] or ["inbox"]
    out = {
        "key": key,
        "name_zh": name_zh,
        "name_en": name_en,
        "description": str(raw.get("description") or "")[:2000],
        "severity": severity,
        "recipients": recipients,
        "channels": list(dict.fromkeys(channels)),
        "auto_resolve": bool(raw.get("auto_resolve", True)),
        "enabled": bool(raw.get("enabled", True)),
    }
    for name, default, low, high in (
        ("cooldown_seconds", 3600, 0, 30 * 86400),
        ("every_seconds", 60, 10, 86400),
    ):
        try:
            value = int(raw.get(name, default))
        except (TypeError, ValueError):
            value = -1
        if not low <= value <= high:
            errors[name] = _l("Give whole seconds from %(low)d to %(high)d.", low=low, high=high)
        out[name] = value
    if errors:
        raise ValidationError(_l("The rule has problems; see the marked fields."), fields=errors)
    return out
