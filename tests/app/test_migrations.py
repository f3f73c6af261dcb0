"""The models and the Alembic head agree, and migrations go both ways."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import column, inspect, table, text

from app.db import make_engine
from app.migrate import current_revision, downgrade, head_revision, upgrade
from app.models import Base
from app.models.base import JSONType, UTCDateTime


def _diff(url: str) -> list:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()


def test_models_match_migration_head(database_url):
    assert _diff(database_url) == []


def test_upgrade_downgrade_upgrade(database_url):
    engine = make_engine(database_url)
    try:
        head = head_revision(database_url)
        assert current_revision(engine) == head
        downgrade(database_url, "base")
        assert current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        upgrade(database_url)
        assert current_revision(engine) == head
        with engine.connect() as conn:
            roles = set(conn.execute(text("SELECT name FROM roles")).scalars())
        assert roles == {"admin", "supervisor", "approver", "viewer"}
    finally:
        engine.dispose()
    assert _diff(database_url) == []


def test_sqlite_runs_with_wal_and_foreign_keys(database_url):
    if not database_url.startswith("sqlite"):
        return
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1
    finally:
        engine.dispose()


def test_flow_descriptions_stored_as_python_text_are_repaired(database_url):
    described = {"en": "Large orders", "zh": "大额订单"}
    engine = make_engine(database_url)
    try:
        downgrade(database_url, "0011")
        flows = table("flows", *(column(c) for c in ("key", "name_zh", "name_en", "description",
                      "draft_revision")), column("draft", JSONType), column("created_at", UTCDateTime()))  # fmt: skip
        rows = [
            ("old-object", str(described), {"description": described}),
            ("old-text", "Plain words", {"description": "Plain words"}),
            ("no-draft", "Kept", None),
        ]
        with engine.begin() as conn:
            conn.execute(flows.insert(), [
                {"key": k, "name_zh": k, "name_en": k, "description": d, "draft": j,
                 "draft_revision": 1, "created_at": datetime(2026, 12, 1, tzinfo=UTC)}
                for k, d, j in rows])  # fmt: skip
        upgrade(database_url)
        with engine.begin() as conn:
            stored = dict(conn.execute(text("SELECT key, description FROM flows")).all())
            conn.execute(text("DELETE FROM flows"))  # PostgreSQL's database is shared
    finally:
        engine.dispose()
    assert {k: json.loads(v) for k, v in stored.items()} == {
        "old-object": described,
        "old-text": "Plain words",
        "no-draft": "Kept",
    }
