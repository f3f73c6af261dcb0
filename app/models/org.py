"""The organisation approvals, notifications and flows resolve against: departments as a
tree, business roles (optionally scoped by a warehouse, region or channel) and who holds
them. People are the users; their department and direct manager live on the user row.

The four access roles (``app.models.user.Role``) say what a person may open and change;
business roles say whose work an approval is. Every change to these tables bumps
``OrgRevision``'s stamp so the cached directory that runs read is rebuilt once, not per order.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, utcnow


class Department(Base):
    __tablename__ = "departments"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128), default="")
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    # users.department_id points back here: the constraint is added after both tables.
    head_id: Mapped[int | None] = mapped_column(
        ForeignKey(
            "users.id", ondelete="SET NULL", use_alter=True, name="fk_departments_head_id_users"
        )
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<Department {self.key}>"


class BusinessRole(Base):
    """A responsibility such as finance (财务) or warehouse lead (仓库主管).

    ``scope_table`` names the reference table whose keys scope the role (``warehouses``,
    ``regions``, ``channels``): "warehouse lead of SH-01" is a holder with scope ``SH-01``.
    Unscoped roles have holders with the empty scope.
    """

    __tablename__ = "business_roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name_zh: Mapped[str] = mapped_column(String(128))
    name_en: Mapped[str] = mapped_column(String(128), default="")
    scope_table: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    def __repr__(self) -> str:
        return f"<BusinessRole {self.key}>"


class RoleHolder(Base):
    """One person holding one business role, for one scope value ("" when unscoped)."""

    __tablename__ = "role_holders"
    __table_args__ = (
        UniqueConstraint("role_id", "user_id", "scope", name="uq_role_holders_role_user_scope"),
        Index("ix_role_holders_user", "user_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    role_id: Mapped[int] = mapped_column(ForeignKey("business_roles.id", ondelete="CASCADE"))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    scope: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OrgRevision(Base):
    """A single row whose random stamp changes with every change to the organisation
    (departments, business roles, holders, people's department, manager and active state).
    Random rather than counted, so two databases (a restore, a test) never share one."""

    __tablename__ = "org_revision"

    id: Mapped[int] = mapped_column(primary_key=True)
    stamp: Mapped[str] = mapped_column(String(32))
