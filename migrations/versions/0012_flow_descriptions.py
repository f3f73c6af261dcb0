"""Flow descriptions become JSON in their text column: text or {"en", "zh"}, as the flow
schema allows. A description an earlier version stored as the Python text of an object
("{'en': ...}") is taken again from the flow's draft.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-06
"""

from __future__ import annotations

import json

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
FLOWS = sa.table("flows", sa.column("id"), sa.column("description", sa.Text), sa.column("draft", JSON))

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def _from_draft(text: str | None, draft: object) -> object:
    given = draft.get("description") if isinstance(draft, dict) else None
    if isinstance(given, dict):
        return {lang: given[lang] for lang in ("en", "zh") if isinstance(given.get(lang), str)}
    return given if isinstance(given, str) else (text or "")


def _plain(stored: str | None) -> str:
    value = json.loads(stored) if stored else ""
    if isinstance(value, dict):
        return str(value.get("zh") or value.get("en") or "")
    return str(value)


def _rewrite(convert) -> None:  # type: ignore[no-untyped-def]
    conn = op.get_bind()
    rows = conn.execute(sa.select(FLOWS.c.id, FLOWS.c.description, FLOWS.c.draft)).all()
    for flow_id, description, draft in rows:
        conn.execute(
            FLOWS.update().where(FLOWS.c.id == flow_id).values(description=convert(description, draft))
        )


def upgrade() -> None:
    _rewrite(lambda text, draft: json.dumps(_from_draft(text, draft), ensure_ascii=False))


def downgrade() -> None:
    _rewrite(lambda stored, draft: _plain(stored))
