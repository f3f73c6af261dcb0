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


def test_role_keys_of_existing_flows_become_business_roles(database_url):
    """Upgrading keeps existing flows working: each role key their assignees name becomes a
    business role, held by the users who hold the access role of that name."""
    engine = make_engine(database_url)
    doc = {
        "key": "big",
        "nodes": [
            {"id": "a", "type": "approval", "config": {"assignees": [{"role": "approver"}]}},
            {"id": "n", "type": "notify", "config": {"to": [{"role": "finance"}, {"user": "li"}]}},
        ],
    }
    try:
        downgrade(database_url, "0017")
        now = datetime(2026, 12, 1, tzinfo=UTC)
        flows = table("flows", *(column(c) for c in ("key", "name_zh", "name_en", "description",
                      "draft_revision")), column("draft", JSONType), column("created_at", UTCDateTime()))  # fmt: skip
        users = table("users", *(column(c) for c in ("username", "display_name", "password_hash",
                      "is_active", "failed_logins", "session_version")), column("created_at", UTCDateTime()))  # fmt: skip
        with engine.begin() as conn:
            conn.execute(
                flows.insert(),
                [{"key": "big", "name_zh": "大额", "name_en": "Big", "description": "",
                  "draft_revision": 1, "draft": doc, "created_at": now}],
            )  # fmt: skip
            conn.execute(
                users.insert(),
                [{"username": u, "display_name": u, "password_hash": "x", "is_active": True,
                  "failed_logins": 0, "session_version": 1, "created_at": now}
                 for u in ("li", "wang")],
            )  # fmt: skip
            conn.execute(
                text(
                    "INSERT INTO user_roles (user_id, role_id) SELECT u.id, r.id FROM users u, "
                    "roles r WHERE u.username = 'li' AND r.name = 'approver'"
                )
            )
        upgrade(database_url)
        with engine.connect() as conn:
            roles = dict(conn.execute(text("SELECT key, name_zh FROM business_roles")).all())
            held = conn.execute(
                text(
                    "SELECT br.key, u.username, rh.scope FROM role_holders rh "
                    "JOIN business_roles br ON br.id = rh.role_id JOIN users u ON u.id = rh.user_id"
                )
            ).all()
            stamp = conn.execute(text("SELECT stamp FROM org_revision WHERE id = 1")).scalar()
        assert roles == {"approver": "审批人", "finance": "finance"}
        assert [tuple(r) for r in held] == [("approver", "li", "")]
        assert stamp and len(stamp) == 32
    finally:
        engine.dispose()
    assert _diff(database_url) == []
