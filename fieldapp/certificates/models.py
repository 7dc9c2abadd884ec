"""Credit lines (授信) and the QR-coded certificates (授信证) a household holds (domain W5, §2.7)."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..core.clock import utcnow_naive
from ..extensions import db

Money = sa.BigInteger  # integer fen

LINE_STATUSES = ("pending", "active", "suspended", "expired", "revoked")
CERT_STATUSES = ("issued", "active", "suspended", "expired", "revoked", "superseded")
SUSPENSION_CATEGORIES = ("village_risk", "overdue", "under_review", "rating_expired", "manual")


class CreditLine(db.Model):
    """The household's revolving line granted from a final rating: valid 3 years, the rating re-confirmed yearly."""

    __tablename__ = "credit_lines"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("village_groups.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id"), index=True)
    program: Mapped[str] = mapped_column(sa.String(20), default="standard")
    limit_fen: Mapped[int] = mapped_column(Money)
    revolving: Mapped[bool] = mapped_column(default=True)
    valid_from: Mapped[date]
    valid_to: Mapped[date]
    reconfirm_by: Mapped[date]  # the rating's validity: re-confirmed yearly, else the line is suspended (评级过期)
    status: Mapped[str] = mapped_column(sa.String(12), default="pending", index=True)
    suspension_category: Mapped[str | None] = mapped_column(sa.String(16))
    status_reason: Mapped[str | None] = mapped_column(sa.String(300))
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class Certificate(db.Model):
    """The printed card: number, check code and an opaque QR token (stored only as its HMAC and sealed for reprints)."""

    __tablename__ = "certificates"
    __audited__ = True
    __sensitive__ = {"token_sealed": "drop", "token_hash": "drop"}

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("village_groups.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    credit_line_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_lines.id"), index=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id"))
    branch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("branches.id"))
    cert_no: Mapped[str] = mapped_column(sa.String(32), unique=True)  # county-branch-year-serial
    check_code: Mapped[str] = mapped_column(sa.String(6))
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)  # HMAC-SHA256 of the QR token
    token_sealed: Mapped[bytes] = mapped_column(sa.LargeBinary)         # the token, encrypted, for reprints
    kind: Mapped[str] = mapped_column(sa.String(20), default="credit")
    holder_display: Mapped[str] = mapped_column(sa.String(60))  # masked holder name (§4.3)
    grade: Mapped[str] = mapped_column(sa.String(12))
    line_fen: Mapped[int] = mapped_column(Money)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    issued_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    valid_to: Mapped[date]
    status: Mapped[str] = mapped_column(sa.String(12), default="issued", index=True)
    suspension_category: Mapped[str | None] = mapped_column(sa.String(16))
    status_reason: Mapped[str | None] = mapped_column(sa.String(300))
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    revoke_requested_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    revoke_requested_at: Mapped[datetime | None]
    revoke_reason: Mapped[str | None] = mapped_column(sa.String(300))
    revoked_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    superseded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("certificates.id"))
    print_count: Mapped[int] = mapped_column(default=0)
    last_printed_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
