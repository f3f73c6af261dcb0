"""Cost drivers and order types (dimensions): create, change, check, and the defaults.

Formulas and expressions are type-checked against the order schema (with its custom
fields) when saved; a change takes effect for orders rebuilt afterwards, and
:func:`recompute` rebuilds the orders of a period so the heatmap reflects it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from flask_babel import lazy_gettext as _l
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from rule_dsl import DslError

from ..errors import ConflictError, NotFoundError, ValidationError
from ..models import CostDimension, CostDriver, OrderFact, User, utcnow
from ..order_fields import effective_schema
from .compute import compiled
from .context import order_context_schema

KEY_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
MAX_RATE = Decimal("1000000")

# The cost drivers of a typical mid-size manufacturer or distributor; rates are examples an
# admin adjusts to their own figures (CNY).
DEFAULT_DRIVERS: tuple[dict[str, Any], ...] = (
    {"key": "return_logistics", "name_zh": "退货逆向物流", "name_en": "Return logistics",
     "formula": 'if history.returned then 1 else 0', "unit": "单", "unit_rate": "38"},
    {"key": "erp_retries", "name_zh": "ERP 接口失败重试", "name_en": "Failed ERP calls retried",
     "formula": "history.webhook_retries + 3 * history.webhook_failures", "unit": "次",
     "unit_rate": "1.5"},
    {"key": "manual_reentry", "name_zh": "人工补单工时", "name_en": "Manual re-entry minutes",
     "formula": "6 * history.manual_actions + 15 * history.retries", "unit": "分钟",
     "unit_rate": "1.2"},
    {"key": "exception_dwell", "name_zh": "异常状态滞留", "name_en": "Time stuck in an exception",
     "formula": "history.incident_hours", "unit": "小时", "unit_rate": "8"},
    {"key": "air_freight", "name_zh": "空运溢价", "name_en": "Air-freight surcharge",
     "formula": "if order.urgent and history.approvals == 0 then 1 else 0", "unit": "单",
     "unit_rate": "45"},
    {"key": "night_shift", "name_zh": "夜间仓配补贴", "name_en": "Night-shift surcharge",
     "formula": 'if hour(in_timezone(order.created_at, "Asia/Shanghai")) >= 22 or '
                'hour(in_timezone(order.created_at, "Asia/Shanghai")) < 6 then 1 else 0',
     "unit": "单", "unit_rate": "12"},
)  # fmt: skip
DEFAULT_DIMENSIONS: tuple[dict[str, Any], ...] = (
    {"key": "channel", "name_zh": "渠道", "name_en": "Channel", "expression": "order.channel"},
    {"key": "urgency", "name_zh": "紧急程度", "name_en": "Urgency",
     "expression": 'if order.urgent then "加急" else "普通"'},
    {"key": "sku_kind", "name_zh": "商品属性", "name_en": "SKU attribute",
     "expression": 'if any(l.attributes.non_standard == true for l in order.lines) '
                   'then "非标件" else "标准件"'},
    {"key": "route", "name_zh": "线路", "name_en": "Route",
     "expression": 'coalesce(order.shipping_address.province, "—")'},
)  # fmt: skip


def _actor(actor: User | None) -> str | None:
    return actor.username if actor is not None else None


def schema(db: Session, *, with_cost: bool = False) -> dict[str, Any]:
    """The evaluation context schema of orders (with ``cost`` for alert conditions)."""
    keys = None
    if with_cost:
        keys = list(db.scalars(select(CostDriver.key).order_by(CostDriver.position)))
    return order_context_schema(effective_schema(db), driver_keys=keys)


def check_formula(db: Session, source: str) -> None:
    compiled(source, schema(db), "number")


def check_expression(db: Session, source: str) -> None:
    compiled(source, schema(db), None)


def check_order_condition(db: Session, source: str) -> None:
    """Raise DslError unless ``source`` is a condition on an order (for alert rules)."""
    compiled(source, schema(db, with_cost=True), "boolean")


def list_drivers(db: Session) -> list[CostDriver]:
    return list(db.scalars(select(CostDriver).order_by(CostDriver.position, CostDriver.id)))


def list_dimensions(db: Session) -> list[CostDimension]:
    return list(
        db.scalars(select(CostDimension).order_by(CostDimension.position, CostDimension.id))
    )


def get_driver(db: Session, key: str) -> CostDriver:
    found = db.scalars(select(CostDriver).where(CostDriver.key == key)).one_or_none()
    if found is None:
        raise NotFoundError(_l("There is no cost driver %(key)s.", key=key))
    return found


def get_dimension(db: Session, key: str) -> CostDimension:
    found = db.scalars(select(CostDimension).where(CostDimension.key == key)).one_or_none()
    if found is None:
        raise NotFoundError(_l("There is no order type %(key)s.", key=key))
    return found


def _common(raw: Mapping[str, Any], errors: dict[str, Any]) -> dict[str, Any]:
    key = str(raw.get("key") or "").strip().lower()
    if not KEY_RE.match(key):
        errors["key"] = _l("The key starts with a letter: lowercase letters, digits, _ (up to 64).")
    name_zh = str(raw.get("name_zh") or "").strip()[:200]
    name_en = str(raw.get("name_en") or "").strip()[:200]
    if not (name_zh or name_en):
        errors["name_zh"] = _l("Give it a name.")
    return {"key": key, "name_zh": name_zh, "name_en": name_en,
            "active": bool(raw.get("active", True))}  # fmt: skip


def _dsl(errors: dict[str, Any], name: str, check: Any, source: str) -> None:
    if not source:
        errors[name] = _l("Write an expression.")
        return
    try:
        check(source)
    except DslError as err:
        errors[name] = err.to_dict()


def save_driver(
    db: Session, actor: User | None, raw: Mapping[str, Any], *, existing: CostDriver | None = None
) -> CostDriver:
    """Create a driver, or change ``existing``, from form or API values. No commit."""
    errors: dict[str, Any] = {}
    values = _common(raw, errors)
    formula = str(raw.get("formula") or "").strip()
    _dsl(errors, "formula", lambda s: check_formula(db, s), formula)
    try:
        rate = Decimal(str(raw.get("unit_rate", "")).strip())
        if not rate.is_finite() or rate < 0 or rate > MAX_RATE:
            raise InvalidOperation
    except (InvalidOperation, ValueError):
        errors["unit_rate"] = _l("Give a rate from 0 to 1,000,000.")
        rate = Decimal(0)
    if errors:
        raise ValidationError(_l("The cost driver has problems."), fields=errors)
    _unique(db, CostDriver, values["key"], existing)
    driver = existing or CostDriver(created_at=utcnow(), position=_next_position(db, CostDriver))
    driver.key, driver.name_zh, driver.name_en = values["key"], values["name_zh"], values["name_en"]
    driver.active = values["active"]
    driver.formula = formula
    driver.unit = str(raw.get("unit") or "")[:32]
    driver.unit_rate = rate.quantize(Decimal("0.0001"))
    driver.currency = str(raw.get("currency") or "CNY")[:3].upper()
    driver.description = str(raw.get("description") or "")[:2000]
    driver.updated_by = _actor(actor)
    driver.updated_at = utcnow()
    db.add(driver)
    db.flush()
    return driver


def save_dimension(
    db: Session,
    actor: User | None,
    raw: Mapping[str, Any],
    *,
    existing: CostDimension | None = None,
) -> CostDimension:
    """Create an order type dimension, or change ``existing``. No commit."""
    errors: dict[str, Any] = {}
    values = _common(raw, errors)
    expression = str(raw.get("expression") or "").strip()
    _dsl(errors, "expression", lambda s: check_expression(db, s), expression)
    if errors:
        raise ValidationError(_l("The order type has problems."), fields=errors)
    _unique(db, CostDimension, values["key"], existing)
    dim = existing or CostDimension(created_at=utcnow(), position=_next_position(db, CostDimension))
    dim.key, dim.name_zh, dim.name_en = values["key"], values["name_zh"], values["name_en"]
    dim.active = values["active"]
    dim.expression = expression
    dim.updated_by = _actor(actor)
    dim.updated_at = utcnow()
    db.add(dim)
    db.flush()
    return dim


def delete(db: Session, item: CostDriver | CostDimension) -> None:
    """Remove a driver or dimension with its per-order rows (rollups follow on rebuild)."""
    db.delete(item)
    db.flush()


def _unique(db: Session, model: Any, key: str, existing: Any) -> None:
    found = db.scalars(select(model).where(model.key == key)).one_or_none()
    if found is not None and found is not existing:
        raise ConflictError(_l("The key %(key)s is taken.", key=key), code="duplicate_key")


def _next_position(db: Session, model: Any) -> int:
    return int(db.scalar(select(func.coalesce(func.max(model.position), 0))) or 0) + 1


def ensure_defaults(db: Session, actor: User | None = None) -> int:
    """Add the default drivers and order types when there are none yet; returns how many."""
    added = 0
    if db.scalar(select(func.count()).select_from(CostDriver)) == 0:
        for spec in DEFAULT_DRIVERS:
            save_driver(db, actor, spec)
            added += 1
    if db.scalar(select(func.count()).select_from(CostDimension)) == 0:
        for spec in DEFAULT_DIMENSIONS:
            save_dimension(db, actor, spec)
            added += 1
    return added


def orders_since(db: Session, since: datetime) -> list[int]:
    """Ids of orders placed since ``since`` (to rebuild after a cost change)."""
    return list(db.scalars(select(OrderFact.order_id).where(OrderFact.created_at >= since)))
