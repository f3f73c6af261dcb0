"""Intake rules: orders of some channels prepared before they are stored.

A rule (installed by a template bundle's ``intake`` section) cleans shipping addresses with
the Chinese address parser (the optional extra ``address``; without it such orders are
refused with ``config_error``/``address_parser_missing``, never stored uncleaned) and names
the order paths that identify one buyer order across channels. Every order coming in through the API, a channel webhook or a batch passes through
:func:`prepare`. Rules are read once every few seconds per process and database, not once per
order, so another process sees a new rule within :data:`CACHE_SECONDS`.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from templates_lib import AddressParserMissingError, dedup_key, prepare_order

from ..errors import ConfigError
from ..i18n import in_reader_language
from ..models import IntakeRule, utcnow

CACHE_SECONDS = 5.0
log = logging.getLogger(__name__)


class _Rules:
    """Active rules per database engine, read again after :data:`CACHE_SECONDS`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_engine: weakref.WeakKeyDictionary[Any, tuple[float, list[dict[str, Any]]]] = (
            weakref.WeakKeyDictionary()
        )

    def get(self, db: Session) -> list[dict[str, Any]]:
        engine = db.get_bind()
        entry = self._by_engine.get(engine)
        if entry is not None and time.monotonic() < entry[0]:
            return entry[1]
        rows = db.scalars(
            select(IntakeRule).where(IntakeRule.active.is_(True)).order_by(IntakeRule.id)
        )
        rules = [
            {"channels": list(r.channels or ()), "clean_address": r.clean_address,
             "dedup": list(r.dedup or ()), "bundle": r.source.removeprefix("template:")}
            for r in rows
        ]  # fmt: skip
        with self._lock:
            self._by_engine[engine] = (time.monotonic() + CACHE_SECONDS, rules)
        return rules

    def forget(self, db: Session) -> None:
        with self._lock:
            self._by_engine.pop(db.get_bind(), None)


_cache = _Rules()


def prepare(db: Session, doc: Any) -> tuple[Any, str | None]:
    """``(doc as the rules for its channel prepare it, its cross-channel dedup key or None)``."""
    if not isinstance(doc, Mapping):
        return doc, None
    key = None
    for rule in _cache.get(db):
        if rule["channels"] and doc.get("channel") not in rule["channels"]:
            continue
        try:
            doc = prepare_order(rule, doc)
        except AddressParserMissingError as err:  # refused, never stored uncleaned
            (problem,) = err.problems
            raise ConfigError(
                in_reader_language(problem.message, problem.message_zh),
                code="address_parser_missing",
            ) from err
        except Exception:  # an address the parser chokes on is stored as received
            log.warning("intake rule: address of order %s left as received", doc.get("external_id"),
                        exc_info=True)  # fmt: skip
        key = key or dedup_key(rule, doc)
    return doc, key


def _values(intake: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "channels": sorted({str(c) for c in intake.get("channels") or ()}),
        "clean_address": bool(intake.get("clean_address")),
        "dedup": [str(p) for p in intake.get("dedup") or ()],
    }


def same(db: Session, source: str, intake: Mapping[str, Any]) -> bool | None:
    """Whether the rule of ``source`` already is ``intake`` (None: there is none)."""
    rule = db.scalars(select(IntakeRule).where(IntakeRule.source == source)).one_or_none()
    if rule is None:
        return None
    return rule.active and all(getattr(rule, k) == v for k, v in _values(intake).items())


def install(db: Session, source: str, intake: Mapping[str, Any]) -> IntakeRule:
    """Create or replace the rule of ``source`` from an ``intake`` section. No commit."""
    values = _values(intake)
    rule = db.scalars(select(IntakeRule).where(IntakeRule.source == source)).one_or_none()
    now = utcnow()
    if rule is None:
        rule = IntakeRule(source=source, created_at=now, **values)
        db.add(rule)
    else:
        for name, value in values.items():
            setattr(rule, name, value)
    rule.active, rule.updated_at = True, now
    db.flush()
    _cache.forget(db)
    return rule
