"""Alert tests use the dashboard's fixed scenario and a helper to make and evaluate rules."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from app.alerts import services
from app.db import Database, in_transaction
from app.models import AlertRule

from ..dashboard.conftest import database, scenario  # noqa: F401  (shared fixtures)


@pytest.fixture
def make_rule(database: Database) -> Callable[..., str]:  # noqa: F811
    """Factory: ``make_rule(kind, definition, key=..., **columns)`` -> the rule's key."""
    count = [0]

    def make(kind: str, definition: dict[str, Any], **columns: Any) -> str:
        count[0] += 1
        values = {"key": f"rule-{count[0]}", "name_zh": f"规则{count[0]}", "name_en": f"Rule {count[0]}",
                  "kind": kind, "definition": definition, "recipients": [{"role": "supervisor"}],
                  "channels": ["inbox"], **columns}  # fmt: skip
        return in_transaction(database, lambda db: services.save_rule(db, None, values).key)

    return make


@pytest.fixture
def evaluate(database: Database) -> Callable[..., Any]:  # noqa: F811
    """``evaluate(key, now)`` -> the lifecycle changes of one evaluation at ``now``."""

    def run(key: str, now: datetime) -> Any:
        def work(db):  # type: ignore[no-untyped-def]
            rule = db.query(AlertRule).filter_by(key=key).one()
            return services.evaluate_rule(db, rule, now=now)

        return in_transaction(database, work)

    return run
