"""Public notices (公示) of ratings: notice batches and their frozen items, objections, private notices."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.clock import utcnow_naive
from ..extensions import db

Money = sa.BigInteger  # integer fen

NOTICE_STATUSES = ("draft", "scheduled", "open", "closed", "finalised", "cancelled")
ITEM_STATUSES = ("listed", "objected", "changed", "withdrawn", "final")
OBJECTION_STATUSES = ("received", "investigating", "decided", "replied", "withdrawn")


class Notice(db.Model):
    """One notice batch of a village (or a supplementary re-notice of some of its items)."""

    __tablename__ = "notices"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20), default="rating")
    round: Mapped[int] = mapped_column(default=1)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notices.id"))  # set on supplementary notices
    supplement: Mapped[bool] = mapped_column(default=False)
    title: Mapped[str] = mapped_column(sa.String(100))
    starts_on: Mapped[date | None]
    ends_on: Mapped[date | None]
    duration_days: Mapped[int] = mapped_column(default=7)
    posting_place: Mapped[str] = mapped_column(sa.String(100), default="")
    hotline: Mapped[str] = mapped_column(sa.String(20), default="")
    status: Mapped[str] = mapped_column(sa.String(12), default="draft", index=True)
    public_token: Mapped[str] = mapped_column(sa.String(32), unique=True)
    snapshot: Mapped[dict | None] = mapped_column(sa.JSON)    # frozen at opening: what was posted
    content_hash: Mapped[str | None] = mapped_column(sa.String(64))
    posting_photo_sha: Mapped[str | None] = mapped_column(sa.String(64))
    posting_thumb_sha: Mapped[str | None] = mapped_column(sa.String(64))
    posting_lat: Mapped[float | None] = mapped_column(sa.Float)
    posting_lng: Mapped[float | None] = mapped_column(sa.Float)
    posting_accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    posting_distance_m: Mapped[float | None] = mapped_column(sa.Float)
    posted_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    finalised_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(sa.String(200))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    version: Mapped[int] = mapped_column(default=1)

    items: Mapped[list[NoticeItem]] = relationship(
        back_populates="notice", order_by="NoticeItem.position", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}


class NoticeItem(db.Model):
    """One household on a notice: only masked, public fields (§4.3, N-4)."""

    __tablename__ = "notice_items"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("notice_id", "household_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("village_groups.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    display_name: Mapped[str] = mapped_column(sa.String(60))  # masked
    group_name: Mapped[str] = mapped_column(sa.String(40), default="")
    grade: Mapped[str] = mapped_column(sa.String(12))
    line_fen: Mapped[int] = mapped_column(Money)
    program: Mapped[str] = mapped_column(sa.String(20), default="standard")
    status: Mapped[str] = mapped_column(sa.String(12), default="listed", index=True)
    amended: Mapped[bool] = mapped_column(default=False)  # on a supplementary notice: the corrected item
    amendment_note: Mapped[str | None] = mapped_column(sa.String(200))
    final_at: Mapped[datetime | None]

    notice: Mapped[Notice] = relationship(back_populates="items")


class Objection(db.Model):
    """An objection (异议) to a notice item, or a complaint when it came after the window (N-7)."""

    __tablename__ = "objections"
    __audited__ = True
    __sensitive__ = {"objector_phone": "mask", "phone_hash": "drop", "objector_name": "mask_name"}

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("village_groups.id"), index=True)
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notices.id"), index=True)
    item_id: Mapped[int | None] = mapped_column(sa.ForeignKey("notice_items.id"), index=True)
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"), index=True)
    receipt_no: Mapped[str] = mapped_column(sa.String(16), unique=True)
    objector_name: Mapped[str | None] = mapped_column(sa.String(50))   # None: anonymous
    objector_phone: Mapped[str | None] = mapped_column(sa.String(11))
    phone_hash: Mapped[str | None] = mapped_column(sa.String(64))      # keyed hash for the status lookup
    relation: Mapped[str] = mapped_column(sa.String(12), default="other")  # self | neighbour | relative | other
    grounds: Mapped[str] = mapped_column(sa.String(20))
    text: Mapped[str] = mapped_column(sa.String(1000), default="")
    received_via: Mapped[str] = mapped_column(sa.String(12), default="web")  # web | paper | oral | phone | officer
    received_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    recorded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    within_window: Mapped[bool] = mapped_column(default=True)
    status: Mapped[str] = mapped_column(sa.String(14), default="received", index=True)
    assigned_to: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id", ondelete="SET NULL"))
    investigation_notes: Mapped[str | None] = mapped_column(sa.Text)
    decision: Mapped[str | None] = mapped_column(sa.String(10))  # upheld | partly | rejected
    decision_reason: Mapped[str | None] = mapped_column(sa.String(1000))
    favouritism: Mapped[bool] = mapped_column(default=False)  # N-11: clan pressure or favouritism found
    decided_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    decided_at: Mapped[datetime | None]
    rerating_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ratings.id"))
    reply_printed_at: Mapped[datetime | None]
    replied_at: Mapped[datetime | None]
    reply_channel: Mapped[str | None] = mapped_column(sa.String(12))
    withdrawn_at: Mapped[datetime | None]
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class PrivateNotice(db.Model):
    """N-5: a household not listed (vetoed or below 60) gets a private letter with the reason and its right to object."""

    __tablename__ = "private_notices"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("notice_id", "household_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notice_id: Mapped[int] = mapped_column(sa.ForeignKey("notices.id", ondelete="CASCADE"), index=True)
    rating_id: Mapped[int] = mapped_column(sa.ForeignKey("ratings.id"))
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("village_groups.id"), index=True)
    reasons: Mapped[list] = mapped_column(sa.JSON, default=list)  # veto codes, or ["below_60"]
    printed_at: Mapped[datetime | None]
    delivered_at: Mapped[datetime | None]
    delivered_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    delivery_note: Mapped[str | None] = mapped_column(sa.String(200))
    reply_note: Mapped[str | None] = mapped_column(sa.String(500))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
