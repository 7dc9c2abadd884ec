"""Build accepted credit files for rating tests through the real file workflow (submit, then accept).

`accept_file(household, ...)` writes the given section rows, freezes a version with households.workflow and accepts
it, exactly as the review page does; call it inside an app context. Amounts are in yuan.
"""
from __future__ import annotations

from datetime import date
from decimal import Decimal

import sqlalchemy as sa

from fieldapp.core.idnumber import parse_id_number
from fieldapp.extensions import db
from fieldapp.households import workflow
from fieldapp.households.models import (CreditFile, Debt, Household, IncomeItem, Insurance, Livestock, Member,
                                        NegativeRecord, OtherAsset)


def fen(yuan) -> int:
    return int(Decimal(str(yuan)) * 100)


def accept_file(household: Household, *, labour: str = "full", income: list[tuple] = ((60000, "document"),),
                assets: list[tuple] = (("house", 150000),), livestock: list[tuple] = (),
                debts: list[dict] = (), insurance: list[str] = (), negative: list[str] = (),
                year: int | None = None) -> CreditFile:
    """Give every member `labour` capacity, add the rows, submit and accept. Returns the accepted version.

    income: (net yuan, source) rows; assets: (type, value yuan); livestock: (species, heads);
    debts: dicts of Debt columns with `balance` in yuan (kind defaults to "bank"); insurance: types; negative: categories.
    """
    household = db.session.get(Household, household.id)
    year = year or date.today().year - 1
    for member in db.session.scalars(sa.select(Member).where(Member.household_id == household.id)):
        member.labour_capacity = labour
        if member.birth_date is None and member.id_number:
            member.birth_date = parse_id_number(member.id_number, date.today()).birth_date
    rows = []
    for net, source in income:
        rows.append(IncomeItem(household_id=household.id, year=year, income_source="crops", gross_fen=fen(net),
                               cost_fen=0, source=source))
    for asset_type, value in assets:
        rows.append(OtherAsset(household_id=household.id, asset_type=asset_type, value_fen=fen(value)))
    for species, heads in livestock:
        rows.append(Livestock(household_id=household.id, species=species, head_count=heads))
    for spec in debts:
        spec = dict(spec)
        balance = fen(spec.pop("balance"))
        spec.setdefault("kind", "bank")
        rows.append(Debt(household_id=household.id, principal_written_fen=balance, balance_fen=balance, **spec))
    for kind in insurance:
        rows.append(Insurance(household_id=household.id, insurance_type=kind))
    for category in negative:
        rows.append(NegativeRecord(household_id=household.id, category=category, evidence="村委会核实"))
    db.session.add_all(rows)
    if household.file_status in ("new", "accepted"):
        household.file_status = "draft"
    db.session.flush()
    version = workflow.submit_version(household)
    workflow.decide(household, version, "accept", {})
    db.session.commit()
    return version


# ---------------------------------------------------------------- review meetings (评议会)

_SEQ = [0]


def _next_seq() -> int:
    _SEQ[0] += 1
    return _SEQ[0]


def proposed_household(village, *, head: str | None = None, **file_kwargs) -> Household:
    """A new household of `village` (first group) with an accepted file and a proposed rating (RV-5)."""
    from fieldapp.ratings import services
    from tests.support.world import add_household, make_id
    n = _next_seq()
    group = sorted(village.groups, key=lambda g: g.id)[0]
    h = add_household(village, group, f"H-M{village.id}-{n:04d}",
                      [(head or f"评议户{n}", "head", make_id("532931", "19810202", 100 + n % 900))])
    accept_file(h, **file_kwargs)
    services.propose(db.session.get(Household, h.id), user_id=None)
    db.session.commit()
    return h


def village_user(village, role: str = "panel_member", name: str | None = None):
    """A new user with `role` scoped to `village` (password tests.support.world.PASSWORD)."""
    from fieldapp.accounts import services as accounts
    from tests.support.world import PASSWORD
    n = _next_seq()
    user = accounts.create_user(username=f"{role[:5]}{village.id}x{n}", name=name or f"委员{n}", password=PASSWORD,
                                roles=[(role, "village", village.id)])
    db.session.commit()
    return user


MEETING_SEATS = (  # (role, party_member) of a committee that satisfies RV-2
    ("committee", True), ("representative", False), ("party_centre", False), ("elder", False),
    ("representative", False),
)


def make_meeting(w, *, village=None, households: int = 2, phone_users: list | None = None, seats: int = 5,
                 present: int = 4, mode: str = "phones", agenda: bool = True, tellers: bool = True,
                 open_voting: bool = True, chair=None):
    """A meeting of `village` (default v1) chaired by w.secretary, scheduled by w.officer, through meetings.py.

    Seats follow MEETING_SEATS; the first seats are linked to `phone_users` (default: w.secretary, w.panel and new
    panel members up to 4 phones); the first `present` seats are present. Households get accepted files and
    proposed ratings first. Returns the meeting (committed).
    """
    from fieldapp.ratings import meetings
    village = village or w.v1
    chair = chair or w.secretary
    for _ in range(households):
        proposed_household(village)
    if phone_users is None:
        phone_users = [chair, w.panel] if village.id == w.v1.id else []
        while len(phone_users) < min(4, seats):
            phone_users.append(village_user(village))
    meeting = meetings.schedule(village, held_on=date.today(), location="村委会议室", mode=mode,
                                chair_user_id=chair.id, user_id=w.officer.id)
    for i in range(seats):
        role, party = MEETING_SEATS[i % len(MEETING_SEATS)]
        user = phone_users[i] if i < len(phone_users) else None
        meetings.add_member(meeting, name=f"{user.name if user else '纸质委员'}{i + 1}", role=role,
                            party_member=party, user_id=user.id if user else None)
    meetings.set_attendance(meeting, {m.id for m in meeting.members[:present]})
    if agenda:
        for step in meetings.MANUAL_BEFORE_VOTING:
            meetings.record_step(meeting, step, user_id=w.officer.id)
    if tellers:
        meetings.set_tellers(meeting, monitor="监票人甲", counter="计票人乙")
    if open_voting:
        meetings.open_voting(meeting, chair)
    db.session.commit()
    return meeting


def ballot(answers: str = "yes", **overrides) -> dict:
    """A full checklist answer dict: every item `answers`, some overridden by name."""
    from fieldapp.ratings import rules
    return {code: overrides.get(code, answers) for code in rules.CHECKLIST}


def ballot_form(answers: dict, vetoes=(), version: int = 0) -> dict:
    """The POST body of the ballot form."""
    data = {f"q_{code}": value for code, value in answers.items()}
    data.update({f"veto_{code}": "y" for code in vetoes})
    data["version"] = str(version)
    return data


def sweep_meeting(w) -> tuple[int, int]:
    """For the browser sweep: a voting phones meeting of 金星村 (v1) with one household, chaired by w.secretary, who
    sits on it with w.panel (both present). Commits; returns (meeting id, its first item id)."""
    meeting = make_meeting(w, households=1)
    return meeting.id, meeting.items[0].id
