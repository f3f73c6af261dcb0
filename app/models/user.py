"""Users, roles and their link."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, String, Table
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base, utcnow

user_roles = Table(
    "user_roles",
    Base.metadata,
    Column("user_id", ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    Column("role_id", ForeignKey("roles.id", ondelete="CASCADE"), primary_key=True),
)


class Role(Base):
    __tablename__ = "roles"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(32), unique=True)

    def __repr__(self) -> str:
        return f"<Role {self.name}>"


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    locale: Mapped[str | None] = mapped_column(String(8))
    is_active: Mapped[bool] = mapped_column(default=True)
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    # Every session cookie carries the value it was issued with; bumping it (logout,
    # password change, deactivation, an admin's "sign out everywhere") ends them all.
    session_version: Mapped[int] = mapped_column(default=1)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None]
    # Where notifications reach the user: a mobile number (SMS, robot @-mentions) and the
    # user ids of WeCom, DingTalk and Feishu.
    phone: Mapped[str | None] = mapped_column(String(32))
    wecom_id: Mapped[str | None] = mapped_column(String(64))
    dingtalk_id: Mapped[str | None] = mapped_column(String(64))
    feishu_id: Mapped[str | None] = mapped_column(String(64))
    # Out of office: between these moments the delegate acts for the user on approvals.
    away_from: Mapped[datetime | None]
    away_until: Mapped[datetime | None]
    away_delegate: Mapped[str | None] = mapped_column(String(64))
    # The organisation (``app.models.org``): the person's department and direct manager.
    department_id: Mapped[int | None] = mapped_column(
        ForeignKey("departments.id", ondelete="SET NULL"), index=True
    )
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    roles: Mapped[list[Role]] = relationship(secondary=user_roles, lazy="selectin")

    @property
    def role_names(self) -> frozenset[str]:
        return frozenset(role.name for role in self.roles)

    def __repr__(self) -> str:
        return f"<User {self.username}>"
