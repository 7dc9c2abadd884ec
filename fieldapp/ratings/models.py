"""Ratings (信用评级): the versioned scoring model, village review meetings (评议会) and the ratings themselves."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.clock import utcnow_naive
from ..extensions import db

Money = sa.BigInteger  # integer fen
Score = sa.Numeric(5, 1)

MEETING_STATUSES = ("scheduled", "voting", "closed", "cancelled")
MEETING_MODES = ("phones", "paper")
MEMBER_ROLES = ("committee", "party_centre", "representative", "elder", "stationed")
BONUS_KINDS = ("party_helper", "award", "red_credit_demo")
# A household has at most one live rating; these statuses end one (the row is kept as history).
ENDED_STATUSES = ("expired", "superseded", "withdrawn")


class ScoringModel(db.Model):
    """One published version of the scoring model: every weight, band, cap and price is data here."""

    __tablename__ = "scoring_models"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    version_no: Mapped[int] = mapped_column(unique=True)
    name: Mapped[str] = mapped_column(sa.String(100), default="")
    params: Mapped[dict] = mapped_column(sa.JSON)
    note: Mapped[str | None] = mapped_column(sa.String(300))
    published_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    published_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class ReviewMeeting(db.Model):
    """A village review meeting (评议会): committee, attendance, agenda, tellers and the households reviewed."""

    __tablename__ = "review_meetings"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    held_on: Mapped[date]
    location: Mapped[str] = mapped_column(sa.String(100), default="")
    mode: Mapped[str] = mapped_column(sa.String(10), default="phones")  # phones | paper
    status: Mapped[str] = mapped_column(sa.String(12), default="scheduled", index=True)
    chair_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    officer_user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))  # attends without a vote
    monitor_name: Mapped[str | None] = mapped_column(sa.String(50))   # 监票人
    counter_name: Mapped[str | None] = mapped_column(sa.String(50))   # 计票人
    agenda: Mapped[list] = mapped_column(sa.JSON, default=list)       # [{"step", "at", "by", "note"}]
    minutes: Mapped[str | None] = mapped_column(sa.Text)
    quorum_needed: Mapped[int | None]
    present_count: Mapped[int | None]
    opened_at: Mapped[datetime | None]
    closed_at: Mapped[datetime | None]
    flagged: Mapped[bool] = mapped_column(default=False)
    flag_reason: Mapped[str | None] = mapped_column(sa.String(300))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    version: Mapped[int] = mapped_column(default=1)

    members: Mapped[list[CommitteeMember]] = relationship(
        back_populates="meeting", order_by="CommitteeMember.position", cascade="all, delete-orphan")
    items: Mapped[list[ReviewItem]] = relationship(
        back_populates="meeting", order_by="ReviewItem.position", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}


class CommitteeMember(db.Model):
    """A committee member of one meeting; `user_id` is set when they vote on their own phone."""

    __tablename__ = "committee_members"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("meeting_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("review_meetings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(sa.String(50))
    role: Mapped[str] = mapped_column(sa.String(20))  # MEMBER_ROLES
    party_member: Mapped[bool] = mapped_column(default=False)
    present: Mapped[bool] = mapped_column(default=False)

    meeting: Mapped[ReviewMeeting] = relationship(back_populates="members")


class Recusal(db.Model):
    """SD-2: a member related to a household does not vote on it and leaves that item's denominator."""

    __tablename__ = "recusals"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("member_id", "household_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("review_meetings.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("committee_members.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    relation: Mapped[str] = mapped_column(sa.String(20))
    note: Mapped[str | None] = mapped_column(sa.String(200))
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)


class ReviewItem(db.Model):
    """One household on a meeting's agenda; its tally is written only when the chair closes the meeting."""

    __tablename__ = "review_items"
    __audited__ = True
    __sensitive__ = {"paper_tally": "drop"}  # counts entered before the close stay out of the audit log (背靠背)
    __table_args__ = (sa.UniqueConstraint("meeting_id", "household_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(sa.ForeignKey("review_meetings.id", ondelete="CASCADE"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    rating_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ratings.id", ondelete="SET NULL"))
    position: Mapped[int] = mapped_column(default=0)
    paper_tally: Mapped[dict | None] = mapped_column(sa.JSON)  # entered by the secretary in paper mode
    tally: Mapped[dict | None] = mapped_column(sa.JSON)        # {"yes": {item: n}, "voters": n, "veto_votes": {code: n}, "vetoes": [...]}
    comment: Mapped[str | None] = mapped_column(sa.String(300))

    meeting: Mapped[ReviewMeeting] = relationship(back_populates="items")


class Ballot(db.Model):
    """One member's votes on one household, cast on their own phone (背靠背).

    The audit log records that a ballot was cast but never its content: the answers are dropped from the log, so
    not even the audit page can show a vote before the chair closes the meeting.
    """

    __tablename__ = "ballots"
    __audited__ = True
    __sensitive__ = {"answers": "drop", "vetoes": "drop"}
    __table_args__ = (sa.UniqueConstraint("item_id", "member_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    item_id: Mapped[int] = mapped_column(sa.ForeignKey("review_items.id", ondelete="CASCADE"), index=True)
    member_id: Mapped[int] = mapped_column(sa.ForeignKey("committee_members.id", ondelete="CASCADE"), index=True)
    answers: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # checklist item -> yes | no | abstain
    vetoes: Mapped[list] = mapped_column(sa.JSON, default=list)   # committee veto codes flagged
    cast_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class BonusRecommendation(db.Model):
    """RT-3 bonuses that need a recommender: party member helping the poor, awards, red-credit demonstration."""

    __tablename__ = "bonus_recommendations"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("village_groups.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # BONUS_KINDS
    detail: Mapped[str | None] = mapped_column(sa.String(100))  # e.g. the award's name
    recommender: Mapped[str] = mapped_column(sa.String(100))    # who recommended: person and body (村党支部, 乡镇党委)
    recorded_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    withdrawn_at: Mapped[datetime | None]
    withdrawn_reason: Mapped[str | None] = mapped_column(sa.String(200))


class Rating(db.Model):
    """A household's rating on one accepted file version under one model version; never rescored by a new model."""

    __tablename__ = "ratings"
    __audited__ = True
    __table_args__ = (sa.Index("ix_ratings_village_status", "village_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("village_groups.id"), index=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    # set while the rating is live, NULL once it ended: the database keeps one live rating per household
    live_household_id: Mapped[int | None] = mapped_column(unique=True)
    credit_file_id: Mapped[int] = mapped_column(sa.ForeignKey("credit_files.id"))
    file_version_no: Mapped[int]
    model_id: Mapped[int] = mapped_column(sa.ForeignKey("scoring_models.id"))
    model_version: Mapped[int]
    meeting_id: Mapped[int | None] = mapped_column(sa.ForeignKey("review_meetings.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(12), default="proposed", index=True)
    base_score: Mapped[Decimal] = mapped_column(Score)
    bonus: Mapped[Decimal] = mapped_column(Score, default=0)
    deduction: Mapped[Decimal] = mapped_column(Score, default=0)
    final_score: Mapped[Decimal] = mapped_column(Score)
    grade: Mapped[str] = mapped_column(sa.String(12))  # excellent | good | fair | not_rated
    vetoes: Mapped[list] = mapped_column(sa.JSON, default=list)
    breakdown: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # per-indicator points and the facts behind them
    suggested_line_fen: Mapped[int] = mapped_column(Money, default=0)
    approved_line_fen: Mapped[int | None] = mapped_column(Money)
    approved_grade: Mapped[str | None] = mapped_column(sa.String(12))
    rate_tier: Mapped[str] = mapped_column(sa.String(12), default="standard")
    proposed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    reviewed_at: Mapped[datetime | None]
    override_grade: Mapped[str | None] = mapped_column(sa.String(12))
    override_line_fen: Mapped[int | None] = mapped_column(Money)
    override_reason: Mapped[str | None] = mapped_column(sa.String(500))
    override_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    override_at: Mapped[datetime | None]
    approved_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    approved_role: Mapped[str | None] = mapped_column(sa.String(20))
    approved_at: Mapped[datetime | None]
    approval_comment: Mapped[str | None] = mapped_column(sa.String(500))
    valid_from: Mapped[date | None]
    valid_to: Mapped[date | None]
    superseded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ratings.id"))
    # a re-rating after an upheld objection: the on-notice rating it will replace once a second person approves it
    replaces_id: Mapped[int | None] = mapped_column(sa.ForeignKey("ratings.id"))
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    @property
    def effective_grade(self) -> str:
        return self.approved_grade or self.grade

    @property
    def effective_line_fen(self) -> int:
        return self.approved_line_fen if self.approved_line_fen is not None else self.suggested_line_fen
