"""Household use cases: worklist and search queries, the household page, members, moves, splits and a household
found on a visit.

Every read goes through `access` (households are village-bound); sub-records are reached only through a
household that was loaded in scope. Functions here never commit, and the member and split changes leave the
flush to the view, which first lets workflow.note_change move the file state (one version bump per change).
Masking happens here, never in templates.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date, datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.exc import IntegrityError

from ..core import access, clock
from ..core.idnumber import IdInfo
from ..core.masking import mask_id_number, mask_name, mask_phone
from ..extensions import db
from ..org import services as org_services
from ..org.models import Village, VillageGroup
from . import rules
from .models import (
    Debt, ExpenseItem, Household, HouseholdEvent, IncomeItem, Insurance, LandHolding, Livestock, Member,
    NegativeRecord, OtherAsset,
)

PER_PAGE = 30
SEARCH_LIMIT = 30
COLLAPSE_AFTER = 20  # members after the 20th are folded behind <details>
DONE = "done"  # the visit outcome 完成

SECTION_MODELS = {
    "members": Member, "land": LandHolding, "livestock": Livestock, "assets": OtherAsset, "income": IncomeItem,
    "expenses": ExpenseItem, "debts": Debt, "insurance": Insurance, "negative": NegativeRecord,
}
MEMBER_FIELDS = ("relation", "ethnicity", "education", "labour_capacity", "health", "occupation", "party_member",
                 "migrant_location")


class HouseholdError(Exception):
    """A change the rules refuse; `code` picks the message, `params` fill it, `field` names the form field."""

    def __init__(self, code: str, field: str | None = None, **params) -> None:
        super().__init__(code)
        self.code = code
        self.field = field
        self.params = params


# ---------------------------------------------------------------- identifiers

def id_hash(number: str) -> str:
    """Keyed hash (HMAC-SHA256 with the app secret) of a normalised ID number: the bank-wide uniqueness key."""
    key = current_app.config["SECRET_KEY"].encode()
    return hmac.new(key, b"member-id:" + number.strip().upper().encode(), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Duplicate:
    village: str
    head: str  # masked


def find_duplicate(number: str, exclude_member_id: int | None = None) -> Duplicate | None:
    """Where this ID number is already registered, masked. Deliberately bank-wide (not scoped): one member per ID
    per bank, and the answer names only a village and a masked head name."""
    stmt = (sa.select(Village.name, Household.head_name)
            .select_from(Member).join(Household, Household.id == Member.household_id)
            .join(Village, Village.id == Household.village_id)
            .where(Member.id_hash == id_hash(number)))
    if exclude_member_id is not None:
        stmt = stmt.where(Member.id != exclude_member_id)
    row = db.session.execute(stmt.limit(1)).first()
    return None if row is None else Duplicate(village=row[0], head=mask_name(row[1] or ""))


# ---------------------------------------------------------------- search

_LETTERS = re.compile(r"[a-z]+")
_LAST4 = re.compile(r"[0-9]{3}[0-9X]")
_PINYIN_DROP = str.maketrans({" ": None, "'": None, "’": None, "-": None, "·": None, "ü": "v"})


@dataclass(frozen=True)
class Query:
    kind: str  # "name" | "pinyin" | "last4" | "none"
    text: str


def parse_query(raw: str | None) -> Query:
    """What a search box entry means: part of a Chinese name, a pinyin or initials prefix, or the last 4 characters
    of an ID or mobile number."""
    text = unicodedata.normalize("NFKC", raw or "").strip()[:50]
    if not text:
        return Query("none", "")
    letters = text.lower().translate(_PINYIN_DROP)
    if _LETTERS.fullmatch(letters):
        return Query("pinyin", letters)
    if _LAST4.fullmatch(text.upper()):
        return Query("last4", text.upper())
    if any(not ch.isascii() for ch in text):
        return Query("name", text)
    return Query("none", text)


def _prefix(column, prefix: str):
    """An index-friendly prefix match on a lowercase-ASCII column: a range (uses the b-tree) and a LIKE (exact)."""
    clauses = [column >= prefix, column.startswith(prefix, autoescape=True)]
    stem = prefix.rstrip("z")
    if stem:
        clauses.append(column < stem[:-1] + chr(ord(stem[-1]) + 1))
    return sa.and_(*clauses)


@dataclass(frozen=True)
class SearchHit:
    id: int
    head_name: str
    matched_name: str
    village: str
    group: str
    file_status: str
    status: str


def search_households(raw: str | None, area: access.Area) -> tuple[Query, list[SearchHit]]:
    """Households in the area with a member matching the query: ONE statement (members -> households -> village)."""
    query = parse_query(raw)
    if query.kind == "none":
        return query, []
    if query.kind == "pinyin":
        cond = sa.or_(_prefix(Member.name_pinyin, query.text), _prefix(Member.name_initials, query.text))
    elif query.kind == "last4":
        cond = sa.or_(Member.id_last4 == query.text, Member.mobile_last4 == query.text)
    else:
        cond = Member.name.contains(query.text, autoescape=True)
    stmt = (sa.select(Household.id, Household.head_name, sa.func.min(Member.name), Village.name, VillageGroup.name,
                      Household.file_status, Household.status)
            .select_from(Member)
            .join(Household, Household.id == Member.household_id)
            .join(Village, Village.id == Household.village_id)
            .outerjoin(VillageGroup, VillageGroup.id == Household.group_id)
            .where(cond, access.bound_clause(Household, area))
            .group_by(Household.id, Household.head_name, Village.id, Village.name, VillageGroup.id,
                      VillageGroup.name, Household.file_status, Household.status)
            .order_by(Household.status, Village.name, Household.head_name, Household.id)
            .limit(SEARCH_LIMIT))
    hits = [SearchHit(id=r[0], head_name=r[1], matched_name=r[2], village=r[3], group=r[4] or "",
                      file_status=r[5], status=r[6]) for r in db.session.execute(stmt)]
    return query, hits


# ---------------------------------------------------------------- worklist

@dataclass
class Coverage:
    total: int = 0
    visited: int = 0
    returned: int = 0
    due: int = 0

    @property
    def percent(self) -> int:
        return self.visited * 100 // self.total if self.total else 0


def _visited_clause():
    from ..visits.models import Visit
    return sa.exists().where(Visit.household_id == Household.id, Visit.outcome == DONE)


def coverage_by_village(area: access.Area, village_id: int | None = None) -> dict[int, Coverage]:
    """Per village in the area (or just one): active households I see, those with a completed visit, returned
    files, due visits."""
    today = clock.today()
    one = sa.literal(1)
    stmt = (sa.select(Household.village_id, sa.func.count(Household.id),
                      sa.func.count(sa.case((_visited_clause(), one))),
                      sa.func.count(sa.case((Household.file_status == "returned", one))),
                      sa.func.count(sa.case((Household.next_visit_on <= today, one))))
            .where(access.bound_clause(Household, area), Household.status == "active")
            .group_by(Household.village_id))
    if village_id is not None:
        stmt = stmt.where(Household.village_id == village_id)
    return {vid: Coverage(total, visited, returned, due)
            for vid, total, visited, returned, due in db.session.execute(stmt)}


def returned_households(area: access.Area, limit: int = 30) -> list[Household]:
    """Files a branch manager sent back: first on the officer's worklist."""
    stmt = (sa.select(Household).where(access.bound_clause(Household, area), Household.status == "active",
                                       Household.file_status == "returned")
            .order_by(Household.updated_at.desc()).limit(limit))
    return list(db.session.scalars(stmt))


@dataclass
class VillageFilters:
    state: str = ""
    group: int | None = None
    due: bool = False

    def as_args(self) -> dict:
        args = {}
        if self.state:
            args["state"] = self.state
        if self.group:
            args["group"] = self.group
        if self.due:
            args["due"] = "1"
        return args


def village_households(village: Village, filters: VillageFilters, page: int):
    """A village's households I see: returned files first, then due next visits (oldest first), then the rest."""
    today = clock.today()
    due = sa.and_(Household.next_visit_on.is_not(None), Household.next_visit_on <= today)
    stmt = access.scoped(sa.select(Household).where(Household.village_id == village.id,
                                                    Household.status == "active"), Household)
    if filters.state:
        stmt = stmt.where(Household.file_status == filters.state)
    if filters.group:
        stmt = stmt.where(Household.group_id == filters.group)
    if filters.due:
        stmt = stmt.where(due)
    rank = sa.case((Household.file_status == "returned", 0), (due, 1), else_=2)
    stmt = stmt.order_by(rank, sa.case((due, Household.next_visit_on), else_=None), Household.code, Household.id)
    return db.paginate(stmt, page=page, per_page=PER_PAGE, error_out=False)


def is_due(household: Household) -> bool:
    return household.next_visit_on is not None and household.next_visit_on <= clock.today()


# ---------------------------------------------------------------- the household page

def section_states(household: Household) -> dict[str, str]:
    """Each section's state ("filled" / "none" / "empty"), counting rows in one statement."""
    names = [s for s in rules.SECTION_ORDER if s in SECTION_MODELS]
    counts = db.session.execute(sa.select(*[
        sa.select(sa.func.count()).select_from(SECTION_MODELS[s]).where(
            SECTION_MODELS[s].household_id == household.id).scalar_subquery() for s in names])).one()
    declared = set(household.declared_none or [])
    return {s: rules.section_state(int(n or 0), s in declared) for s, n in zip(names, counts)}


def completeness(states: dict[str, str]) -> int:
    return rules.completeness(states)


def recent_visits(household: Household, limit: int = 5) -> list:
    from ..visits.models import Visit
    return list(db.session.scalars(sa.select(Visit).where(Visit.household_id == household.id)
                                   .order_by(Visit.started_at.desc(), Visit.id.desc()).limit(limit)))


@dataclass(frozen=True)
class EventRow:
    kind: str
    at: datetime
    other_id: int | None  # only when the other household is in the user's area
    other_name: str
    detail: dict


def history(household: Household) -> list[EventRow]:
    """Moves and splits, newest first; the other household is named only when the user may see it."""
    events = list(db.session.scalars(sa.select(HouseholdEvent).where(HouseholdEvent.household_id == household.id)
                                     .order_by(HouseholdEvent.at.desc(), HouseholdEvent.id.desc())))
    other_ids = {e.other_household_id for e in events if e.other_household_id}
    visible = {}
    if other_ids:
        visible = {h.id: h.head_name for h in db.session.scalars(
            access.scoped(sa.select(Household).where(Household.id.in_(other_ids)), Household))}
    return [EventRow(kind=e.kind, at=e.at, other_id=e.other_household_id if e.other_household_id in visible else None,
                     other_name=visible.get(e.other_household_id, ""), detail=e.detail or {}) for e in events]


@dataclass(frozen=True)
class MemberRow:
    """A member as staff pages show it: ID number and mobile masked."""

    id: int
    name: str
    is_head: bool
    relation: str
    sex: str | None
    birth_date: date | None
    id_masked: str
    has_id: bool
    mobile_masked: str
    labour_capacity: str | None
    party_member: bool
    migrant_location: str | None


def member_rows(household: Household) -> list[MemberRow]:
    return [MemberRow(id=m.id, name=m.name, is_head=m.is_head, relation=m.relation, sex=m.sex,
                      birth_date=m.birth_date, id_masked=mask_id_number(m.id_number) if m.id_number else "",
                      has_id=bool(m.id_number), mobile_masked=mask_phone(m.mobile) if m.mobile else "",
                      labour_capacity=m.labour_capacity, party_member=m.party_member,
                      migrant_location=m.migrant_location)
            for m in household.members]


def member_of(household: Household, member_id: int) -> Member | None:
    """A member reached through its (already scoped) household."""
    return next((m for m in household.members if m.id == member_id), None)


def place_names(household: Household) -> tuple[str, str]:
    village = db.session.get(Village, household.village_id)
    group = db.session.get(VillageGroup, household.group_id) if household.group_id else None
    return (village.name if village else ""), (group.name if group else "")


def geo_uri(household: Household) -> str | None:
    """A geo: link for the phone's map app (WGS-84 as stored), when the home location is known."""
    if household.home_lat is None or household.home_lng is None:
        return None
    return f"geo:{household.home_lat:.6f},{household.home_lng:.6f}"


# ---------------------------------------------------------------- members

@dataclass
class MemberInput:
    """What a member form gives once its shape is checked; id_info is None when no (new) ID was entered."""

    name: str
    relation: str
    id_info: IdInfo | None = None
    mobile: str | None = None
    ethnicity: str | None = None
    education: str | None = None
    labour_capacity: str | None = None
    health: str | None = None
    occupation: str | None = None
    party_member: bool = False
    migrant_location: str | None = None
    extra: dict = field(default_factory=dict)


def touch(household: Household) -> None:
    """Mark the household changed: bumps its version (the optimistic lock every member form carries)."""
    household.updated_at = clock.utcnow_naive()


def _head(household: Household) -> Member | None:
    return next((m for m in household.members if m.is_head), None)


def _cross_check(member: Member, data: MemberInput) -> None:
    """A sex or birth date recorded without an ID number (a roster import) must agree with the number entered."""
    info = data.id_info
    if info is None or member.id_number is not None:
        return
    if (member.birth_date is not None and member.birth_date != info.birth_date) or (
            member.sex is not None and member.sex != info.sex):
        raise HouseholdError("id_mismatch", "id_number")


def _apply(member: Member, data: MemberInput) -> None:
    """Write the checked input, with the search keys (pinyin, initials, last 4 digits) recomputed."""
    member.name = data.name
    member.name_pinyin, member.name_initials = rules.search_keys(data.name)
    if data.id_info is not None:
        info = data.id_info
        member.id_number = info.number
        member.id_hash = id_hash(info.number)
        member.id_last4 = info.number[-4:]
        member.sex = info.sex
        member.birth_date = info.birth_date
    member.mobile = data.mobile or None
    member.mobile_last4 = data.mobile[-4:] if data.mobile else None
    for name in MEMBER_FIELDS:
        if name != "relation":
            setattr(member, name, getattr(data, name))


def _check_unique(data: MemberInput, member_id: int | None) -> None:
    if data.id_info is None:
        return
    dup = find_duplicate(data.id_info.number, member_id)
    if dup is not None:
        raise HouseholdError("duplicate_id", "id_number", village=dup.village, head=dup.head)


def add_member(household: Household, data: MemberInput) -> Member:
    """Add a member; the first one must be the head, and there is only ever one head."""
    head = _head(household)
    if data.relation == "head" and head is not None:
        raise HouseholdError("second_head", "relation")
    if data.relation != "head" and head is None:
        raise HouseholdError("head_first", "relation")
    if data.relation == "head" and data.id_info is None:
        raise HouseholdError("head_needs_id", "id_number")
    _check_unique(data, None)
    member = Member(county_id=household.county_id, household_id=household.id, relation=data.relation,
                    is_head=data.relation == "head",
                    position=max((m.position for m in household.members), default=-1) + 1)
    _apply(member, data)
    household.members.append(member)
    if member.is_head:
        household.head_name = member.name
    touch(household)
    return member


def edit_member(household: Household, member: Member, data: MemberInput) -> None:
    """Change a member; the head stays the head and no one else becomes a second head."""
    if member.is_head and data.relation != "head":
        raise HouseholdError("head_stays", "relation")
    if not member.is_head and data.relation == "head":
        raise HouseholdError("second_head", "relation")
    if member.is_head and data.id_info is None and not member.id_number:
        raise HouseholdError("head_needs_id", "id_number")
    _cross_check(member, data)
    _check_unique(data, member.id)
    _apply(member, data)
    member.relation = data.relation
    if member.is_head:
        household.head_name = member.name
    touch(household)


def remove_member(household: Household, member: Member) -> None:
    """Remove a member (not the head: a household always has one)."""
    if member.is_head:
        raise HouseholdError("remove_head")
    household.members.remove(member)  # delete-orphan
    touch(household)


# ---------------------------------------------------------------- move (迁出) and split (分户)

@dataclass(frozen=True)
class GroupChoice:
    group_id: int
    village_id: int
    county_id: int
    label: str


def group_choices() -> list[GroupChoice]:
    """Village groups in the current user's area: where a household may move to or split into."""
    result = []
    for row in org_services.visible_villages():
        for grp in access.groups_visible_in(row.village):
            result.append(GroupChoice(grp.id, row.village.id, row.village.county_id,
                                      f"{row.village.name} · {grp.name}"))
    return result


def move_household(household: Household, target: GroupChoice | None, destination: str, user_id: int) -> None:
    """Move to another group in my area, or out of the area (status moved_out); the history keeps where from."""
    place = place_names(household)
    detail = {"from_village": place[0], "from_group": place[1], "from_village_id": household.village_id,
              "from_group_id": household.group_id, "note": destination}
    if target is None:
        household.status = "moved_out"
        kind = "moved_out"
    else:
        if target.group_id == household.group_id:
            raise HouseholdError("same_group", "target")
        household.county_id = target.county_id
        household.village_id = target.village_id
        household.group_id = target.group_id
        for m in household.members:
            m.county_id = target.county_id
        kind = "moved_group"
        detail.update(to_village_id=target.village_id, to_group_id=target.group_id, to=target.label)
    db.session.add(HouseholdEvent(household_id=household.id, kind=kind, detail=detail, by=user_id,
                                  at=clock.utcnow_naive()))
    touch(household)
    db.session.flush()


def _split_code(household: Household) -> str:
    base = household.code[:19]
    n = 1
    while True:
        code = f"{base}-F{n}"
        if not db.session.scalar(sa.select(sa.func.count()).select_from(Household).where(Household.code == code)):
            return code
        n += 1


def split_household(household: Household, member_ids: list[int], new_head_id: int | None,
                    target: GroupChoice | None, user_id: int) -> Household:
    """分户: the chosen members form a new household (one of them its head); both keep the history."""
    chosen = [m for m in household.members if m.id in set(member_ids)]
    if not chosen or len(chosen) != len(set(member_ids)):
        raise HouseholdError("split_pick", "members")
    if any(m.is_head for m in chosen):
        raise HouseholdError("split_head", "members")
    new_head = next((m for m in chosen if m.id == new_head_id), None) if new_head_id else chosen[0]
    if new_head is None:
        raise HouseholdError("split_new_head", "new_head")
    village_id = target.village_id if target else household.village_id
    group_id = target.group_id if target else household.group_id
    county_id = target.county_id if target else household.county_id
    new = Household(county_id=county_id, village_id=village_id, group_id=group_id, code=_split_code(household),
                    head_name=new_head.name, address=household.address, kind=household.kind,
                    main_industry=household.main_industry, tags=[], declared_none=[], file_status="new")
    db.session.add(new)
    db.session.flush()
    ordered = [new_head] + [m for m in chosen if m is not new_head]
    for pos, m in enumerate(ordered):
        new.members.append(m)  # re-parented, not orphaned
        m.county_id = county_id
        m.position = pos
        m.is_head = m is new_head
        if m is new_head:
            m.relation = "head"
    names = [m.name for m in ordered]
    now = clock.utcnow_naive()
    db.session.add_all([
        HouseholdEvent(household_id=household.id, kind="split_into", other_household_id=new.id,
                       detail={"members": names, "code": new.code}, by=user_id, at=now),
        HouseholdEvent(household_id=new.id, kind="split_from", other_household_id=household.id,
                       detail={"members": names, "code": household.code}, by=user_id, at=now),
    ])
    touch(household)
    return new


# ---------------------------------------------------------------- a household found on a visit (走访新发现)

CODE_ATTEMPTS = 5


def last_household_seq(stat_code: str) -> int:
    """The highest sequence number of the village's `<stat_code>-<seq>` household codes (0 if none)."""
    prefix = f"{stat_code}-"
    codes = db.session.scalars(sa.select(Household.code).where(Household.code.startswith(prefix, autoescape=True)))
    return max((int(c[len(prefix):]) for c in codes if c[len(prefix):].isdigit()), default=0)


def next_household_code(village: Village) -> str:
    """The next `<village stat_code>-<4-digit seq>` code, numbered as the roster import numbers its households."""
    return f"{village.stat_code}-{last_household_seq(village.stat_code) + 1:04d}"


@dataclass
class NewHousehold:
    """A household not on the roster, as the form gives it once its shape is checked."""

    head_name: str
    id_info: IdInfo | None = None
    mobile: str | None = None
    group: VillageGroup | None = None
    address: str | None = None


def create_household(village: Village, data: NewHousehold) -> Household:
    """A fresh file (状态 new) for a household met on a visit, with its head as the first member.

    The ID number, when given, must not belong to anyone else in the bank. The code is the village's next roster
    number: creates in one village take turns on the village's row (PostgreSQL row lock, held to commit; SQLite
    serialises writers anyway), and one that still meets a taken code (an import committing meanwhile) takes the
    next. Audited by the session listener; flushed, never committed.
    """
    if data.id_info is not None:
        _check_unique(MemberInput(name=data.head_name, relation="head", id_info=data.id_info), None)
    db.session.execute(sa.select(Village.id).where(Village.id == village.id).with_for_update())
    group = data.group
    household = None
    for _attempt in range(CODE_ATTEMPTS):
        household = Household(county_id=village.county_id, village_id=village.id, group_id=group.id if group else None,
                              code=next_household_code(village), head_name=data.head_name,
                              address=data.address or village.name + (group.name if group else ""),
                              phone=data.mobile or None, file_status="new", status="active", tags=[],
                              declared_none=[])
        try:
            with db.session.begin_nested():
                db.session.add(household)
        except IntegrityError:
            household = None
            continue  # someone took this code meanwhile: the next one
        break
    if household is None:
        raise HouseholdError("no_code")
    head = Member(county_id=household.county_id, relation="head", is_head=True, position=0)
    _apply(head, MemberInput(name=data.head_name, relation="head", id_info=data.id_info, mobile=data.mobile))
    household.members.append(head)
    db.session.flush()
    return household


# ---------------------------------------------------------------- the village roles' summary (§4.3)

@dataclass(frozen=True)
class SummaryRow:
    """What village roles see of a household: no ID numbers, debts, incomes or photos; the phone masked."""

    head_name: str
    group: str
    file_status: str
    last_visit_outcome: str | None
    phone_masked: str


def village_summary(village: Village, page: int):
    stmt = access.scoped(sa.select(Household).where(Household.village_id == village.id,
                                                    Household.status == "active"), Household)
    stmt = stmt.order_by(Household.group_id, Household.code, Household.id)
    return db.paginate(stmt, page=page, per_page=PER_PAGE, error_out=False)


def summary_row(household: Household, group_names: dict[int, str]) -> SummaryRow:
    return SummaryRow(head_name=household.head_name, group=group_names.get(household.group_id, ""),
                      file_status=household.file_status, last_visit_outcome=household.last_visit_outcome,
                      phone_masked=mask_phone(household.phone) if household.phone else "")
