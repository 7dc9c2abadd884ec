"""Users, their roles (each with an org scope) and the login throttle."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.clock import utcnow_naive
from ..extensions import db

# Role codes follow domain.md §1.1; the scope each role is granted on.
ROLES = {
    "sysadmin": None,             # R16: users and org only, no household data
    "hq_admin": "county",         # R1
    "branch_manager": "branch",   # R2
    "grid_officer": "grid",       # R3 (actual grids come from assignments)
    "village_secretary": "village",  # R4/R5: 村支书, 两委, 驻村第一书记
    "panel_member": "village",    # R6
    "mediator": "county",         # R12: sees assigned cases only
    "auditor": "county",          # R15: read-only
}
POSITIONS = ("村支书", "村两委", "驻村第一书记", "金融助理")


class User(db.Model):
    __tablename__ = "users"
    __audited__ = True
    __sensitive__ = {"mobile": "mask", "password_hash": "drop"}

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(sa.String(40), unique=True)
    mobile: Mapped[str | None] = mapped_column(sa.String(11), unique=True)
    name: Mapped[str] = mapped_column(sa.String(50))
    employee_no: Mapped[str | None] = mapped_column(sa.String(20))
    position: Mapped[str | None] = mapped_column(sa.String(20))
    password_hash: Mapped[str] = mapped_column(sa.String(200))
    active: Mapped[bool] = mapped_column(default=True)
    must_change_password: Mapped[bool] = mapped_column(default=False)
    session_epoch: Mapped[int] = mapped_column(default=1)
    locale: Mapped[str | None] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    last_login_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    roles: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", cascade="all, delete-orphan", order_by="RoleGrant.id", lazy="selectin")

    __mapper_args__ = {"version_id_col": version}

    # Flask-Login protocol; the id carries the session epoch so "sign out everywhere" invalidates old cookies.
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    def has_role(self, *codes: str) -> bool:
        return any(g.role in codes for g in self.roles)

    @property
    def role_codes(self) -> list[str]:
        return sorted({g.role for g in self.roles})


class RoleGrant(db.Model):
    """One role held by a user on one org unit (county, branch, grid, village or township)."""

    __tablename__ = "role_grants"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("user_id", "role", "scope_type", "scope_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(sa.String(30))
    scope_type: Mapped[str | None] = mapped_column(sa.String(20))
    scope_id: Mapped[int | None]

    user: Mapped[User] = relationship(back_populates="roles")


class LoginThrottle(db.Model):
    """Failed logins per (account, client IP): progressive delay after the threshold."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    updated_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
