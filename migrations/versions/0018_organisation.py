"""The organisation: departments, business roles and their holders, each person's
department and manager; approval tasks remember the scope, department and why.

Existing flows keep working: every role key their approval, escalation and notify nodes
name (and every role of an open task) becomes a business role, held by the users who hold
the access role of that name today. ``orderflow org check`` reports what is left unheld.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from app.models.base import UTCDateTime

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

_NAMES = {
    "admin": ("管理员", "Admin"),
    "supervisor": ("主管", "Supervisor"),
    "approver": ("审批人", "Approver"),
    "viewer": ("查看者", "Viewer"),
}


def upgrade() -> None:
    op.create_table(
        "departments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("head_id", sa.Integer(), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["departments.id"], name=op.f("fk_departments_parent_id_departments"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_departments")),
        sa.UniqueConstraint("key", name=op.f("uq_departments_key")),
    )  # fmt: skip
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_departments_parent_id"), ["parent_id"], unique=False)
    op.create_table(
        "business_roles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name_zh", sa.String(length=128), nullable=False),
        sa.Column("name_en", sa.String(length=128), nullable=False),
        sa.Column("scope_table", sa.String(length=64), nullable=True),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_business_roles")),
        sa.UniqueConstraint("key", name=op.f("uq_business_roles_key")),
    )
    op.create_table(
        "role_holders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("role_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["role_id"], ["business_roles.id"], name=op.f("fk_role_holders_role_id_business_roles"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_role_holders_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_holders")),
        sa.UniqueConstraint("role_id", "user_id", "scope", name="uq_role_holders_role_user_scope"),
    )  # fmt: skip
    with op.batch_alter_table("role_holders", schema=None) as batch_op:
        batch_op.create_index("ix_role_holders_user", ["user_id"], unique=False)
    op.create_table(
        "org_revision",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("stamp", sa.String(length=32), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_org_revision")),
    )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("department_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("manager_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_users_department_id"), ["department_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_users_department_id_departments"),
            "departments", ["department_id"], ["id"], ondelete="SET NULL",
        )  # fmt: skip
        batch_op.create_foreign_key(
            batch_op.f("fk_users_manager_id_users"),
            "users", ["manager_id"], ["id"], ondelete="SET NULL",
        )  # fmt: skip
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_departments_head_id_users", "users", ["head_id"], ["id"], ondelete="SET NULL"
        )
    with op.batch_alter_table("approval_tasks", schema=None) as batch_op:
        batch_op.alter_column(
            "role", existing_type=sa.String(length=32), type_=sa.String(length=64)
        )
        batch_op.add_column(sa.Column("scope", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("department", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("why", JSON, nullable=True))
        batch_op.create_index(
            batch_op.f("ix_approval_tasks_department"), ["department"], unique=False
        )
    _roles_from_existing_flows()


def _people_roles(value: Any) -> Iterator[str]:
    """Every ``{"role": key}`` assignee anywhere in a flow document."""
    if isinstance(value, dict):
        role = value.get("role")
        if isinstance(role, str) and role and len(value) <= 2:
            yield role
        for item in value.values():
            yield from _people_roles(item)
    elif isinstance(value, list):
        for item in value:
            yield from _people_roles(item)


def _roles_from_existing_flows() -> None:
    conn = op.get_bind()
    keys: set[str] = set()
    docs = [*conn.execute(sa.text("SELECT draft FROM flows WHERE draft IS NOT NULL"))]
    docs += [*conn.execute(sa.text("SELECT doc FROM flow_versions"))]
    for (doc,) in docs:
        keys.update(_people_roles(json.loads(doc) if isinstance(doc, str) else doc))
    keys.update(
        role
        for (role,) in conn.execute(
            sa.text("SELECT DISTINCT role FROM approval_tasks WHERE role IS NOT NULL")
        )
    )
    now = sa.func.now() if conn.dialect.name == "postgresql" else sa.text("CURRENT_TIMESTAMP")
    roles = sa.table(
        "business_roles",
        sa.column("id", sa.Integer),
        sa.column("key", sa.String),
        sa.column("name_zh", sa.String),
        sa.column("name_en", sa.String),
        sa.column("created_at", sa.DateTime),
    )
    for key in sorted(k for k in keys if len(k) <= 64):
        zh, en = _NAMES.get(key, (key, key))
        conn.execute(roles.insert().values(key=key, name_zh=zh, name_en=en, created_at=now))
        conn.execute(
            sa.text(
                "INSERT INTO role_holders (role_id, user_id, scope, created_at) "
                "SELECT br.id, ur.user_id, '', br.created_at FROM business_roles br "
                "JOIN roles r ON r.name = br.key JOIN user_roles ur ON ur.role_id = r.id "
                "WHERE br.key = :key"
            ),
            {"key": key},
        )
    conn.execute(
        sa.text("INSERT INTO org_revision (id, stamp) VALUES (1, :stamp)"),
        {"stamp": uuid.uuid4().hex},
    )


def downgrade() -> None:
    with op.batch_alter_table("approval_tasks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_approval_tasks_department"))
        batch_op.drop_column("why")
        batch_op.drop_column("department")
        batch_op.drop_column("scope")
        batch_op.alter_column(
            "role", existing_type=sa.String(length=64), type_=sa.String(length=32)
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_users_manager_id_users"), type_="foreignkey")
        batch_op.drop_constraint(
            batch_op.f("fk_users_department_id_departments"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_users_department_id"))
        batch_op.drop_column("manager_id")
        batch_op.drop_column("department_id")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_constraint("fk_departments_head_id_users", type_="foreignkey")
    op.drop_table("org_revision")
    with op.batch_alter_table("role_holders", schema=None) as batch_op:
        batch_op.drop_index("ix_role_holders_user")
    op.drop_table("role_holders")
    op.drop_table("business_roles")
    with op.batch_alter_table("departments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_departments_parent_id"))
    op.drop_table("departments")
