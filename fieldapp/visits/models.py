"""Visits (走访), consents and photos."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..core.clock import utcnow_naive
from ..extensions import db

PURPOSES = ("first", "follow_up", "update", "pre_loan", "post_loan", "reminder", "collection", "outreach", "dispute")
OUTCOMES = ("done", "not_home", "refused", "unreachable")
CONSENT_KINDS = ("collect", "credit_query", "notice", "contact")
PHOTO_KINDS = ("house", "livestock", "land", "id_card", "group", "signature", "other")


class Visit(db.Model):
    __tablename__ = "visits"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("village_groups.id"), index=True)
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    companions: Mapped[str | None] = mapped_column(sa.String(200))
    purpose: Mapped[str] = mapped_column(sa.String(20))
    outcome: Mapped[str] = mapped_column(sa.String(20))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    device_started_at: Mapped[datetime | None]
    device_ended_at: Mapped[datetime | None]
    clock_skew_flag: Mapped[bool] = mapped_column(default=False)
    gps_lat: Mapped[float | None] = mapped_column(sa.Float)
    gps_lng: Mapped[float | None] = mapped_column(sa.Float)
    gps_accuracy_m: Mapped[float | None] = mapped_column(sa.Float)
    distance_m: Mapped[float | None] = mapped_column(sa.Float)
    off_site: Mapped[bool] = mapped_column(default=False)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    next_visit_on: Mapped[date | None]
    offline_created: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)


class Consent(db.Model):
    __tablename__ = "consents"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id", ondelete="SET NULL"))
    kind: Mapped[str] = mapped_column(sa.String(20))
    method: Mapped[str] = mapped_column(sa.String(20))  # signature | paper | refused
    photo_id: Mapped[int | None] = mapped_column(sa.ForeignKey("photos.id", ondelete="SET NULL"))
    refusal_note: Mapped[str | None] = mapped_column(sa.String(300))
    signed_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    revoked_at: Mapped[datetime | None]
    recorded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class Photo(db.Model):
    __tablename__ = "photos"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    visit_id: Mapped[int | None] = mapped_column(sa.ForeignKey("visits.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))
    sha256: Mapped[str] = mapped_column(sa.String(64), index=True)
    thumb_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    mime: Mapped[str] = mapped_column(sa.String(30), default="image/jpeg")
    width: Mapped[int] = mapped_column(default=0)
    height: Mapped[int] = mapped_column(default=0)
    size_bytes: Mapped[int] = mapped_column(default=0)
    encrypted: Mapped[bool] = mapped_column(default=False)
    gps_lat: Mapped[float | None] = mapped_column(sa.Float)
    gps_lng: Mapped[float | None] = mapped_column(sa.Float)
    taken_at: Mapped[datetime | None]
    uploaded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    deleted_at: Mapped[datetime | None]
