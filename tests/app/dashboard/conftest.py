"""Fixtures for the dashboard, alert and cost tests: the database and the fixed scenario."""

from __future__ import annotations

import pytest
from flask import Flask

from app.costs import services as costs
from app.db import Database, get_db, in_transaction

from .scenario import Scenario, build

DRIVERS = (
    # Every order costs 5 handling; each approval hour costs 10.
    {"key": "handling", "name_zh": "处理", "name_en": "Handling", "formula": "1", "unit": "单",
     "unit_rate": "5"},
    {"key": "approval_time", "name_zh": "审批时间", "name_en": "Approval time",
     "formula": "history.approval_hours", "unit": "小时", "unit_rate": "10"},
)  # fmt: skip
DIMENSIONS = (
    {"key": "channel", "name_zh": "渠道", "name_en": "Channel", "expression": "order.channel"},
    {"key": "urgency", "name_zh": "紧急", "name_en": "Urgency",
     "expression": 'if order.urgent then "urgent" else "standard"'},
)  # fmt: skip


@pytest.fixture
def database(app: Flask) -> Database:
    return get_db(app)


def add_costs(database: Database) -> None:
    def work(db):  # type: ignore[no-untyped-def]
        for spec in DRIVERS:
            costs.save_driver(db, None, spec)
        for spec in DIMENSIONS:
            costs.save_dimension(db, None, spec)

    in_transaction(database, work)


@pytest.fixture
def scenario(database: Database) -> Scenario:
    add_costs(database)
    return build(database)
