"""Helpers for the template tests: importing in one transaction, as views and commands do."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from app.db import get_db, in_transaction
from app.org.demo import load_demo_org


@pytest.fixture
def tx(app: Flask) -> Callable[[Callable[[Any], Any]], Any]:
    """Run ``work(db)`` in one committed transaction of the test app's database."""
    database = get_db(app)

    def run(work: Callable[[Any], Any]) -> Any:
        with app.app_context():
            return in_transaction(database, work)

    return run


@pytest.fixture(autouse=True)
def demo_org(app: Flask) -> None:
    """The shipped templates assign to the demo's business roles (finance, ops_supervisor...):
    they import onto the demo organisation without any mapping."""
    with app.app_context():
        in_transaction(get_db(app), load_demo_org)
