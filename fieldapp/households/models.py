"""The household credit file (信用档案): household, members, land, livestock, assets, income, debts and their versions."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.clock import utcnow_naive
from ..extensions import db

FILE_STATUSES = ("new", "draft", "submitted", "returned", "accepted", "pending_revisit")
SECTIONS = ("members", "land", "livestock", "assets", "income", "expenses", "debts", "insurance", "negative")
NONE_ALLOWED = ("land", "livestock", "assets", "income", "expenses", "debts", "insurance", "negative")
Money = sa.BigInteger  # integer fen
Rate = sa.Numeric(9, 6)  # annual rate as a decimal fraction


class Household(db.Model):
    __tablename__ = "households"
    __audited__ = True
    __sensitive__ = {"phone": "mask"}
    __table_args__ = (sa.Index("ix_households_village_status", "village_id", "file_status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("village_groups.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(24), unique=True)
    head_name: Mapped[str] = mapped_column(sa.String(50), default="")
    address: Mapped[str | None] = mapped_column(sa.String(200))
    phone: Mapped[str | None] = mapped_column(sa.String(11))
    home_lat: Mapped[float | None] = mapped_column(sa.Float)
    home_lng: Mapped[float | None] = mapped_column(sa.Float)
    kind: Mapped[str] = mapped_column(sa.String(10), default="farmer")  # farmer | herder
    main_industry: Mapped[str | None] = mapped_column(sa.String(20))
    tags: Mapped[list] = mapped_column(sa.JSON, default=list)
    declared_none: Mapped[list] = mapped_column(sa.JSON, default=list)  # sections explicitly marked "无"
    file_status: Mapped[str] = mapped_column(sa.String(20), default="new", index=True)
    status: Mapped[str] = mapped_column(sa.String(10), default="active")  # active | moved_out | split
    failed_attempts: Mapped[int] = mapped_column(default=0)
    last_visit_at: Mapped[datetime | None]
    last_visit_outcome: Mapped[str | None] = mapped_column(sa.String(20))
    next_visit_on: Mapped[date | None] = mapped_column(index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow_naive, onupdate=utcnow_naive)
    version: Mapped[int] = mapped_column(default=1)

    members: Mapped[list[Member]] = relationship(
        back_populates="household", order_by="Member.position", cascade="all, delete-orphan")

    __mapper_args__ = {"version_id_col": version}


class Member(db.Model):
    __tablename__ = "members"
    __audited__ = True
    __sensitive__ = {"id_number": "mask_id", "id_hash": "drop", "mobile": "mask", "health": "drop"}

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    position: Mapped[int] = mapped_column(default=0)
    is_head: Mapped[bool] = mapped_column(default=False)
    name: Mapped[str] = mapped_column(sa.String(50))
    name_pinyin: Mapped[str] = mapped_column(sa.String(200), index=True, default="")
    name_initials: Mapped[str] = mapped_column(sa.String(50), index=True, default="")
    id_number: Mapped[str | None] = mapped_column(sa.String(18))
    id_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True)  # keyed hash: one member per ID per bank
    id_last4: Mapped[str | None] = mapped_column(sa.String(4), index=True)
    sex: Mapped[str | None] = mapped_column(sa.String(1))
    birth_date: Mapped[date | None]
    relation: Mapped[str] = mapped_column(sa.String(20), default="head")
    ethnicity: Mapped[str | None] = mapped_column(sa.String(20))
    education: Mapped[str | None] = mapped_column(sa.String(20))
    labour_capacity: Mapped[str | None] = mapped_column(sa.String(10))  # full | partial | none
    health: Mapped[str | None] = mapped_column(sa.String(100))
    occupation: Mapped[str | None] = mapped_column(sa.String(50))
    party_member: Mapped[bool] = mapped_column(default=False)
    migrant_location: Mapped[str | None] = mapped_column(sa.String(100))
    mobile: Mapped[str | None] = mapped_column(sa.String(11))
    mobile_last4: Mapped[str | None] = mapped_column(sa.String(4), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)

    household: Mapped[Household] = relationship(back_populates="members")


class _HouseholdRow:
    """Columns every sub-record of the file shares."""

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(12), default="declared")  # declared | document | village
    note: Mapped[str | None] = mapped_column(sa.String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)


def _household_fk():
    return mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)


class LandHolding(_HouseholdRow, db.Model):
    __tablename__ = "land_holdings"
    __audited__ = True
    household_id: Mapped[int] = _household_fk()
    land_type: Mapped[str] = mapped_column(sa.String(12))
    area_mu: Mapped[Decimal] = mapped_column(sa.Numeric(12, 2))
    tenure: Mapped[str] = mapped_column(sa.String(12))
    certificate_no: Mapped[str | None] = mapped_column(sa.String(40))
    counterparty: Mapped[str | None] = mapped_column(sa.String(50))
    rent_per_mu_year_fen: Mapped[int | None] = mapped_column(Money)
    encumbered: Mapped[bool] = mapped_column(default=False)


class Livestock(_HouseholdRow, db.Model):
    __tablename__ = "livestock"
    __audited__ = True
    household_id: Mapped[int] = _household_fk()
    species: Mapped[str] = mapped_column(sa.String(12))
    head_count: Mapped[int]
    breeding_count: Mapped[int] = mapped_column(default=0)
    insured: Mapped[bool] = mapped_column(default=False)


class OtherAsset(_HouseholdRow, db.Model):
    __tablename__ = "other_assets"
    __audited__ = True
    household_id: Mapped[int] = _household_fk()
    asset_type: Mapped[str] = mapped_column(sa.String(12))
    description: Mapped[str | None] = mapped_column(sa.String(100))
    value_fen: Mapped[int] = mapped_column(Money)
    pledgeable: Mapped[bool] = mapped_column(default=False)


class IncomeItem(_HouseholdRow, db.Model):
    __tablename__ = "income_items"
    __audited__ = True
    household_id: Mapped[int] = _household_fk()
    year: Mapped[int]
    income_source: Mapped[str] = mapped_column(sa.String(12))
    gross_fen: Mapped[int] = mapped_column(Money)
    cost_fen: Mapped[int] = mapped_column(Money, default=0)


class ExpenseItem(_HouseholdRow, db.Model):
    __tablename__ = "expense_items"
    __audited__ = True
    household_id: Mapped[int] = _household_fk()
    year: Mapped[int]
    category: Mapped[str] = mapped_column(sa.String(12))
    amount_fen: Mapped[int] = mapped_column(Money)


class Insurance(_HouseholdRow, db.Model):
    __tablename__ = "insurances"
    __audited__ = True
    household_id: Mapped[int] = _household_fk()
    insurance_type: Mapped[str] = mapped_column(sa.String(20))
    insurer: Mapped[str | None] = mapped_column(sa.String(50))
    sum_insured_fen: Mapped[int | None] = mapped_column(Money)
    period_from: Mapped[date | None]
    period_to: Mapped[date | None]


class Debt(_HouseholdRow, db.Model):
    __tablename__ = "debts"
    __audited__ = True
    __sensitive__ = {"creditor_name": "mask_name"}
    household_id: Mapped[int] = _household_fk()
    kind: Mapped[str] = mapped_column(sa.String(12))  # bank | private | mutual | credit_sale | guarantee
    lender_type: Mapped[str | None] = mapped_column(sa.String(20))
    creditor_name: Mapped[str | None] = mapped_column(sa.String(60))
    principal_written_fen: Mapped[int] = mapped_column(Money)
    principal_received_fen: Mapped[int | None] = mapped_column(Money)
    balance_fen: Mapped[int | None] = mapped_column(Money)
    contract_date: Mapped[date | None]
    maturity: Mapped[date | None]
    rate_value: Mapped[Decimal | None] = mapped_column(sa.Numeric(12, 4))
    rate_unit: Mapped[str | None] = mapped_column(sa.String(16))
    annual_rate: Mapped[Decimal | None] = mapped_column(Rate)
    cap_rate: Mapped[Decimal | None] = mapped_column(Rate)
    written_contract: Mapped[bool] = mapped_column(default=False)
    collateral: Mapped[str | None] = mapped_column(sa.String(100))
    offset_land_id: Mapped[int | None] = mapped_column(sa.ForeignKey("land_holdings.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(sa.String(12), default="normal")
    flags: Mapped[list] = mapped_column(sa.JSON, default=list)  # over_cap | head_interest | below_market_offset | no_contract


class NegativeRecord(_HouseholdRow, db.Model):
    """RT-5 list: gambling/drugs/prostitution, unpaid loans or blacklist, idleness, dishonest judgment debtor."""

    __tablename__ = "negative_records"
    __audited__ = True
    household_id: Mapped[int] = _household_fk()
    member_id: Mapped[int | None] = mapped_column(sa.ForeignKey("members.id", ondelete="SET NULL"))
    category: Mapped[str] = mapped_column(sa.String(20))
    evidence: Mapped[str] = mapped_column(sa.String(300))


class CreditFile(db.Model):
    """A version of the household's file: its workflow state and, once submitted, a frozen snapshot."""

    __tablename__ = "credit_files"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("household_id", "version_no"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    version_no: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(20), default="draft")
    created_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    submitted_at: Mapped[datetime | None]
    submitted_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    reviewed_by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    review_comments: Mapped[dict] = mapped_column(sa.JSON, default=dict)  # section -> comment
    snapshot: Mapped[dict | None] = mapped_column(sa.JSON)
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}


class HouseholdEvent(db.Model):
    """History of moves (迁出) and splits (分户)."""

    __tablename__ = "household_events"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    household_id: Mapped[int] = mapped_column(sa.ForeignKey("households.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(20))  # moved_out | moved_group | split_into | split_from
    other_household_id: Mapped[int | None] = mapped_column(sa.ForeignKey("households.id"))
    detail: Mapped[dict] = mapped_column(sa.JSON, default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow_naive)
    by: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))


class LprRate(db.Model):
    """One-year (and five-year) loan prime rate, effective from a date: data an hq_admin edits, never code."""

    __tablename__ = "lpr_rates"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    effective_on: Mapped[date] = mapped_column(unique=True)
    one_year: Mapped[Decimal] = mapped_column(sa.Numeric(6, 4))  # percent, e.g. 3.6500
    five_year: Mapped[Decimal | None] = mapped_column(sa.Numeric(6, 4))
