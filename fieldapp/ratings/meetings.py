"""The village review meeting (评议会, domain §2.5, W3 RV-1..RV-5, SD-2): schedule, committee, attendance,
recusals, agenda, back-to-back voting on members' own phones (背靠背) or a paper tally, and the close.

Every rule about numbers (quorum, composition, tallies, vetoes, bands) is asked of rules.py; this module keeps the
meeting's state and decides who may take which step. Functions flush, never commit.

Secrecy (背靠背): nothing here returns another member's ballot or any tally while the meeting is open. Progress
is counts of ballots per member only; `results()` refuses before the close.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..accounts.models import RoleGrant, User
from ..core import audit
from ..core.clock import utcnow_naive
from ..extensions import db
from ..households.models import CreditFile, Household
from . import rules, services
from .models import (MEETING_MODES, Ballot, CommitteeMember, Rating, Recusal, ReviewItem, ReviewMeeting,
                     ScoringModel)
from .services import Refused

# RV-4: the seed-001 sequence. "vote" is recorded when the chair opens voting, "announce" when they close.
AGENDA_STEPS = ("publicise", "explain_method", "adopt_method", "applicants_speak", "vote", "count", "announce")
AGENDA_LABELS = {
    "publicise": _l("Explain the credit policy"),            # 宣传政策
    "explain_method": _l("Explain the review method"),       # 解释评议办法
    "adopt_method": _l("Adopt the review method"),           # 通过评议办法
    "applicants_speak": _l("Applicants speak"),              # 申请户发言
    "vote": _l("Vote"),                                      # 投票
    "count": _l("Monitor and count the votes"),              # 监票、计票
    "announce": _l("Announce the counts on the spot"),       # 当场公布票数
}
MANUAL_BEFORE_VOTING = AGENDA_STEPS[:4]  # recorded by hand while scheduled; all four are needed to open voting
MEMBER_ROLE_LABELS = {
    "committee": _l("Village committees (两委)"),
    "party_centre": _l("Party member household centre (党员中心户)"),
    "representative": _l("Villager representative (村民代表)"),
    "elder": _l("Senior party member or elder (老党员·长者)"),
    "stationed": _l("Stationed cadre (驻村干部)"),
}
RELATIONS = ("spouse", "parent", "child", "sibling", "in_law", "same_register", "other")
RELATION_LABELS = {
    "spouse": _l("Spouse"), "parent": _l("Parent"), "child": _l("Child"), "sibling": _l("Sibling"),
    "in_law": _l("In-law"), "same_register": _l("Same household register"), "other": _l("Other (see the note)"),
}
MODE_LABELS = {"phones": _l("Votes on members' own phones"), "paper": _l("Paper sheets, tally entered by the chair")}
STATUS_LABELS = {"scheduled": _l("Scheduled"), "voting": _l("Voting"), "closed": _l("Closed"),
                 "cancelled": _l("Cancelled")}
VOTER_ROLES = ("panel_member", "village_secretary")  # users who may vote on their own phone


# ---------------------------------------------------------------- look-ups

def village_users(village_id: int, roles: tuple[str, ...]) -> list[User]:
    """Active users holding one of `roles` scoped to this village, by name."""
    stmt = (sa.select(User).join(RoleGrant, RoleGrant.user_id == User.id)
            .where(RoleGrant.role.in_(roles), RoleGrant.scope_type == "village", RoleGrant.scope_id == village_id,
                   User.active.is_(True))
            .distinct().order_by(User.name, User.id))
    return list(db.session.scalars(stmt))


def chair_choices(village_id: int) -> list[User]:
    return village_users(village_id, ("village_secretary",))


def voter_choices(village_id: int) -> list[User]:
    return village_users(village_id, VOTER_ROLES)


def meetings_of(village_id: int) -> list[ReviewMeeting]:
    return list(db.session.scalars(sa.select(ReviewMeeting).where(ReviewMeeting.village_id == village_id)
                                   .order_by(ReviewMeeting.held_on.desc(), ReviewMeeting.id.desc())))


def member_of(meeting: ReviewMeeting, member_id: int) -> CommitteeMember | None:
    return next((m for m in meeting.members if m.id == member_id), None)


def item_of(meeting: ReviewMeeting, item_id: int) -> ReviewItem | None:
    return next((i for i in meeting.items if i.id == item_id), None)


def membership(meeting: ReviewMeeting, user_id: int) -> CommitteeMember | None:
    """The committee seat of `user_id` on this meeting (they vote on their own phone), if any."""
    return next((m for m in meeting.members if m.user_id == user_id), None)


def recusals(meeting: ReviewMeeting) -> list[Recusal]:
    return list(db.session.scalars(sa.select(Recusal).where(Recusal.meeting_id == meeting.id).order_by(Recusal.id)))


def recused_pairs(meeting: ReviewMeeting) -> set[tuple[int, int]]:
    """{(member_id, household_id)} of every recusal on the meeting."""
    return {(r.member_id, r.household_id) for r in recusals(meeting)}


def is_recused(meeting: ReviewMeeting, member: CommitteeMember, item: ReviewItem) -> bool:
    return db.session.scalar(sa.select(Recusal.id).where(
        Recusal.meeting_id == meeting.id, Recusal.member_id == member.id,
        Recusal.household_id == item.household_id)) is not None


def steps_done(meeting: ReviewMeeting) -> list[str]:
    return [entry.get("step") for entry in (meeting.agenda or [])]


def next_step(meeting: ReviewMeeting) -> str | None:
    done = steps_done(meeting)
    return AGENDA_STEPS[len(done)] if len(done) < len(AGENDA_STEPS) else None


def has_step(meeting: ReviewMeeting, step: str) -> bool:
    return step in steps_done(meeting)


def households_of(meeting: ReviewMeeting) -> dict[int, Household]:
    ids = [i.household_id for i in meeting.items]
    if not ids:
        return {}
    return {h.id: h for h in db.session.scalars(sa.select(Household).where(Household.id.in_(ids)))}


# ---------------------------------------------------------------- the review sheet (R6: no IDs, no balances)

@dataclass
class SheetRow:
    item: ReviewItem
    head_name: str
    group_name: str
    size: int
    industry: str
    income_band: str
    debt_band: str
    grade: str
    line_fen: int
    committee_flags: tuple[str, ...]


def sheet_rows(meeting: ReviewMeeting) -> list[SheetRow]:
    """What the committee sees of each household: bands from rules.py, never ID numbers or exact amounts."""
    from ..org.models import VillageGroup
    households = households_of(meeting)
    groups = {g.id: g.name for g in db.session.scalars(
        sa.select(VillageGroup).where(VillageGroup.village_id == meeting.village_id))}
    rows = []
    for item in meeting.items:
        h = households.get(item.household_id)
        rating = db.session.get(Rating, item.rating_id) if item.rating_id else None
        facts = None
        if rating is not None:
            version = db.session.get(CreditFile, rating.credit_file_id)
            params = db.session.get(ScoringModel, rating.model_id).params
            facts = services.facts_for(h, version, params)
        rows.append(SheetRow(
            item=item, head_name=h.head_name if h else "", group_name=groups.get(h.group_id, "") if h else "",
            size=facts.members if facts else (len(h.members) if h else 0),
            industry=(h.main_industry or "") if h else "",
            income_band=rules.income_band(facts.net_income_fen if facts else 0),
            debt_band=rules.debt_band(facts.debt_fen if facts else 0),
            grade=rating.grade if rating else "", line_fen=rating.suggested_line_fen if rating else 0,
            committee_flags=tuple(facts.committee_flags) if facts else ()))
    return rows


# ---------------------------------------------------------------- schedule, items, cancel

def _open_meeting_household_ids(village_id: int, exclude_meeting_id: int | None = None) -> set[int]:
    stmt = (sa.select(ReviewItem.household_id).join(ReviewMeeting, ReviewMeeting.id == ReviewItem.meeting_id)
            .where(ReviewMeeting.village_id == village_id, ReviewMeeting.status.in_(("scheduled", "voting"))))
    if exclude_meeting_id is not None:
        stmt = stmt.where(ReviewMeeting.id != exclude_meeting_id)
    return set(db.session.scalars(stmt))


def refresh_items(meeting: ReviewMeeting) -> int:
    """Add the village's proposed ratings (RV-5: only accepted files are proposed) not yet on an open meeting."""
    _require(meeting, "scheduled")
    taken = _open_meeting_household_ids(meeting.village_id)
    stmt = (sa.select(Rating).join(Household, Household.id == Rating.household_id)
            .where(Rating.village_id == meeting.village_id, Rating.status == "proposed",
                   Rating.live_household_id.is_not(None), Household.status == "active")
            .order_by(Household.group_id, Household.code, Rating.id))
    position = max((i.position for i in meeting.items), default=0)
    added = 0
    for rating in db.session.scalars(stmt):
        if rating.household_id in taken:
            continue
        position += 1
        meeting.items.append(ReviewItem(household_id=rating.household_id, rating_id=rating.id, position=position))
        taken.add(rating.household_id)
        added += 1
    db.session.flush()
    return added


def schedule(village, *, held_on: date, location: str, mode: str, chair_user_id: int, user_id: int) -> ReviewMeeting:
    if mode not in MEETING_MODES:
        raise Refused(_("Choose how the committee votes."), code="mode")
    if chair_user_id not in {u.id for u in chair_choices(village.id)}:
        raise Refused(_("The chair must be a village secretary of this village."), code="chair")
    meeting = ReviewMeeting(county_id=village.county_id, village_id=village.id, held_on=held_on,
                            location=(location or "").strip(), mode=mode, status="scheduled",
                            chair_user_id=chair_user_id, officer_user_id=user_id, created_by=user_id, agenda=[])
    db.session.add(meeting)
    db.session.flush()
    refresh_items(meeting)
    return meeting


def cancel(meeting: ReviewMeeting) -> None:
    _require(meeting, "scheduled")
    meeting.status = "cancelled"
    db.session.flush()


def _require(meeting: ReviewMeeting, *statuses: str) -> None:
    if meeting.status not in statuses:
        if meeting.status in ("closed", "cancelled"):
            raise Refused(_("This meeting is over: nothing can be changed any more."), code="read_only")
        if meeting.status == "voting":
            raise Refused(_("Voting has started: this can no longer be changed."), code="voting")
        raise Refused(_("Voting has not started yet."), code="not_voting")


def _require_chair(meeting: ReviewMeeting, user) -> None:
    if meeting.chair_user_id != user.id:
        raise Refused(_("Only the chair of this meeting can do this."), code="not_chair")


# ---------------------------------------------------------------- committee, attendance, recusals, tellers, agenda

def add_member(meeting: ReviewMeeting, *, name: str, role: str, party_member: bool,
               user_id: int | None) -> CommitteeMember:
    _require(meeting, "scheduled")
    if role not in rules.MEMBER_ROLES:
        raise Refused(_("Choose the member's role on the committee."), code="role")
    name = (name or "").strip()
    if user_id is not None:
        user = next((u for u in voter_choices(meeting.village_id) if u.id == user_id), None)
        if user is None:
            raise Refused(_("Only a panel member or village secretary of this village can vote on a phone."),
                          code="user")
        if membership(meeting, user_id) is not None:
            raise Refused(_("This person is already on the committee."), code="duplicate")
        name = name or user.name
    if not name:
        raise Refused(_("Enter the member's name."), code="name")
    if any(m.name == name for m in meeting.members):
        raise Refused(_("This person is already on the committee."), code="duplicate")
    position = max((m.position for m in meeting.members), default=0) + 1
    member = CommitteeMember(name=name[:50], role=role, party_member=bool(party_member), user_id=user_id,
                             position=position, present=False)
    meeting.members.append(member)
    db.session.flush()
    return member


def remove_member(meeting: ReviewMeeting, member: CommitteeMember) -> None:
    _require(meeting, "scheduled")
    db.session.execute(sa.delete(Recusal).where(Recusal.member_id == member.id))
    meeting.members.remove(member)
    db.session.flush()


def set_attendance(meeting: ReviewMeeting, present_ids: set[int]) -> None:
    """Who is in the room (before voting opens; the quorum is checked when it does)."""
    _require(meeting, "scheduled")
    for member in meeting.members:
        member.present = member.id in present_ids
    meeting.present_count = sum(1 for m in meeting.members if m.present)
    db.session.flush()


def add_recusal(meeting: ReviewMeeting, *, member: CommitteeMember, household_id: int, relation: str,
                note: str | None, user_id: int) -> Recusal:
    """SD-2/RV-3: the member leaves this household's vote and its denominator."""
    _require(meeting, "scheduled", "voting")
    if relation not in RELATIONS:
        raise Refused(_("Choose how the member is related to the household."), code="relation")
    note = (note or "").strip() or None
    if relation == "other" and not note:
        raise Refused(_("Say how the member is related to the household."), code="note")
    item = next((i for i in meeting.items if i.household_id == household_id), None)
    if item is None:
        raise Refused(_("This household is not on the meeting's list."), code="household")
    if is_recused(meeting, member, item):
        raise Refused(_("This member has already stepped aside for this household."), code="duplicate")
    if db.session.scalar(sa.select(Ballot.id).where(Ballot.item_id == item.id, Ballot.member_id == member.id)):
        raise Refused(_("This member has already voted on this household; a recusal must come before the vote."),
                      code="voted")
    recusal = Recusal(meeting_id=meeting.id, member_id=member.id, household_id=household_id, relation=relation,
                      note=note, created_by=user_id)
    db.session.add(recusal)
    db.session.flush()
    return recusal


def set_tellers(meeting: ReviewMeeting, *, monitor: str, counter: str) -> None:
    _require(meeting, "scheduled", "voting")
    monitor, counter = (monitor or "").strip(), (counter or "").strip()
    if not monitor or not counter:
        raise Refused(_("Name both the vote monitor and the vote counter."), code="tellers")
    if monitor == counter:
        raise Refused(_("The vote monitor and the vote counter must be two different people."), code="same_teller")
    meeting.monitor_name, meeting.counter_name = monitor[:50], counter[:50]
    db.session.flush()


def _append_step(meeting: ReviewMeeting, step: str, user_id: int, note: str | None = None) -> None:
    entry = {"step": step, "at": utcnow_naive().isoformat(timespec="seconds"), "by": user_id}
    if note:
        entry["note"] = note[:200]
    meeting.agenda = [*(meeting.agenda or []), entry]


def record_step(meeting: ReviewMeeting, step: str, *, user_id: int, note: str | None = None) -> None:
    """RV-4: the next agenda step, in the seed-001 order (投票 opens voting, 当场公布票数 closes the meeting)."""
    expected = next_step(meeting)
    if step != expected:
        raise Refused(_("Record the agenda steps in order: the next one is \"%(step)s\".",
                        step=AGENDA_LABELS[expected]) if expected else _("Every agenda step is recorded."),
                      code="order")
    if step in MANUAL_BEFORE_VOTING:
        _require(meeting, "scheduled")
    elif step == "count":
        _require(meeting, "voting")
    else:
        raise Refused(_("This step is recorded when the chair opens voting or closes the meeting."), code="auto")
    _append_step(meeting, step, user_id, (note or "").strip() or None)
    db.session.flush()


# ---------------------------------------------------------------- open voting

def open_problems(meeting: ReviewMeeting) -> list[str]:
    """Why voting cannot open yet (translated messages); empty when it can."""
    problems = []
    members = list(meeting.members)
    for code in rules.composition_problems([(m.role, m.party_member) for m in members]):
        problems.append(_(rules.COMPOSITION_MESSAGES[code], minimum=rules.MIN_COMMITTEE))
    present = sum(1 for m in members if m.present)
    needed = rules.quorum_needed(len(members))
    if members and not rules.quorum_met(len(members), present):
        problems.append(_("Not enough members are present: %(needed)d of %(total)d must attend, %(present)d are "
                          "here.", needed=needed, total=len(members), present=present))
    missing = [s for s in MANUAL_BEFORE_VOTING if not has_step(meeting, s)]
    if missing:
        problems.append(_("Record the agenda first, up to \"%(step)s\".", step=AGENDA_LABELS[MANUAL_BEFORE_VOTING[-1]]))
    if not meeting.items:
        problems.append(_("No household is on the list: refresh the list once ratings are proposed."))
    if meeting.mode == "phones" and not any(m.present and m.user_id for m in members):
        problems.append(_("Nobody present can vote on a phone: link members to their accounts, or use paper."))
    return problems


def open_voting(meeting: ReviewMeeting, user) -> None:
    _require(meeting, "scheduled")
    _require_chair(meeting, user)
    problems = open_problems(meeting)
    if problems:
        raise Refused(" ".join(problems), code="cannot_open")
    meeting.quorum_needed = rules.quorum_needed(len(meeting.members))
    meeting.present_count = sum(1 for m in meeting.members if m.present)
    meeting.opened_at = utcnow_naive()
    meeting.status = "voting"
    _append_step(meeting, "vote", user.id)
    db.session.flush()


# ---------------------------------------------------------------- voting on phones (背靠背)

def voter_seat(meeting: ReviewMeeting, user) -> CommitteeMember:
    """The current user's seat, if they may vote now (present member of a meeting voting on phones)."""
    member = membership(meeting, user.id)
    if member is None:
        raise Refused(_("You are not on this meeting's committee."), code="not_member")
    if not member.present:
        raise Refused(_("You are not recorded as present, so you cannot vote. Ask the chair."), code="absent")
    return member


def own_ballots(meeting: ReviewMeeting, member: CommitteeMember) -> dict[int, Ballot]:
    """The member's OWN ballots by item id (never anyone else's)."""
    item_ids = [i.id for i in meeting.items]
    if not item_ids:
        return {}
    return {b.item_id: b for b in db.session.scalars(
        sa.select(Ballot).where(Ballot.member_id == member.id, Ballot.item_id.in_(item_ids)))}


def cast_ballot(meeting: ReviewMeeting, item: ReviewItem, member: CommitteeMember, *, answers: dict,
                vetoes: list[str], version: int) -> Ballot:
    """Store (or replace, before the close) the member's own ballot; `version` 0 means a first ballot.

    Raises Refused(code="stale") when the member's ballot changed since their form was rendered (another tab).
    """
    # lock the meeting row so a close cannot interleave with a vote (PostgreSQL; SQLite writers queue anyway)
    db.session.execute(sa.select(ReviewMeeting.id).where(ReviewMeeting.id == meeting.id).with_for_update())
    db.session.refresh(meeting, attribute_names=["status"])
    _require(meeting, "voting")
    if meeting.mode != "phones":
        raise Refused(_("This meeting votes on paper; the chair enters the tally."), code="paper")
    if is_recused(meeting, member, item):
        raise Refused(_("You stepped aside for this household (related to it), so you do not vote on it."),
                      code="recused")
    clean = {}
    for code in rules.CHECKLIST:
        value = answers.get(code)
        if value not in rules.BALLOT_VALUES:
            raise Refused(_("Answer every question: yes, no or abstain."), code="incomplete")
        clean[code] = value
    flagged = [code for code in rules.COMMITTEE_VETOES if code in set(vetoes)]
    ballot = db.session.scalar(sa.select(Ballot).where(Ballot.item_id == item.id, Ballot.member_id == member.id))
    if ballot is None:
        if version != 0:
            raise Refused(_("Your vote on this household changed meanwhile (another screen?)."), code="stale")
        ballot = Ballot(item_id=item.id, member_id=member.id, answers=clean, vetoes=flagged, cast_at=utcnow_naive())
        db.session.add(ballot)
    else:
        if version != ballot.version:
            raise Refused(_("Your vote on this household changed meanwhile (another screen?)."), code="stale")
        ballot.answers, ballot.vetoes, ballot.cast_at = clean, flagged, utcnow_naive()
    db.session.flush()
    return ballot


@dataclass
class SeatProgress:
    member: CommitteeMember
    cast: int
    due: int  # items the member votes on (all minus their recusals)


def progress(meeting: ReviewMeeting) -> list[SeatProgress]:
    """Per member: present or not, and how many of their ballots are in. Counts only, never content."""
    pairs = recused_pairs(meeting)
    counts = dict(db.session.execute(
        sa.select(Ballot.member_id, sa.func.count(Ballot.id)).join(ReviewItem, ReviewItem.id == Ballot.item_id)
        .where(ReviewItem.meeting_id == meeting.id).group_by(Ballot.member_id)).all())
    rows = []
    for m in meeting.members:
        due = sum(1 for i in meeting.items if (m.id, i.household_id) not in pairs)
        rows.append(SeatProgress(member=m, cast=counts.get(m.id, 0), due=due))
    return rows


def eligible_members(meeting: ReviewMeeting, item: ReviewItem, pairs: set | None = None) -> list[CommitteeMember]:
    """RV-1/RV-3: present members not recused for this item's household."""
    pairs = recused_pairs(meeting) if pairs is None else pairs
    return [m for m in meeting.members if m.present and (m.id, item.household_id) not in pairs]


# ---------------------------------------------------------------- paper tally

def paper_refusal(meeting: ReviewMeeting) -> Refused | None:
    """Why no paper tally can be entered now (None when it can)."""
    try:
        _require(meeting, "voting")
    except Refused as exc:
        return exc
    if meeting.mode != "paper":
        return Refused(_("This meeting votes on phones; there is no paper tally to enter."), code="phones")
    return None


def enter_paper_tally(meeting: ReviewMeeting, item: ReviewItem, user, *, voters: int, yes: dict[str, int],
                      veto_votes: dict[str, int]) -> None:
    refusal = paper_refusal(meeting)
    if refusal is not None:
        raise refusal
    _require_chair(meeting, user)
    eligible = len(eligible_members(meeting, item))
    if not 1 <= voters <= eligible:
        raise Refused(_("Voters must be between 1 and %(n)d (present members who did not step aside).", n=eligible),
                      code="voters")
    counts = {code: int(yes.get(code, 0)) for code in rules.CHECKLIST}
    vetoes = {code: int(veto_votes.get(code, 0)) for code in rules.COMMITTEE_VETOES}
    if any(not 0 <= n <= voters for n in [*counts.values(), *vetoes.values()]):
        raise Refused(_("Every count must be between 0 and the number of voters (%(n)d).", n=voters), code="count")
    item.paper_tally = {"voters": voters, "yes": counts, "veto_votes": vetoes}
    db.session.flush()


# ---------------------------------------------------------------- close and results

def close_problems(meeting: ReviewMeeting) -> list[str]:
    problems = []
    if not (meeting.monitor_name and meeting.counter_name):
        problems.append(_("Name the vote monitor and the vote counter before closing."))
    if not has_step(meeting, "count"):
        problems.append(_("Record the agenda step \"%(step)s\" before closing.", step=AGENDA_LABELS["count"]))
    households = households_of(meeting)
    if meeting.mode == "paper":
        missing = [i for i in meeting.items if not i.paper_tally]
    else:
        pairs = recused_pairs(meeting)
        missing = [i for i in meeting.items if not _eligible_ballots(meeting, i, pairs)]
    if missing:
        names = "、".join(households[i.household_id].head_name for i in missing if i.household_id in households)
        problems.append(_("These households have no votes yet: %(names)s.", names=names))
    return problems


def _eligible_ballots(meeting: ReviewMeeting, item: ReviewItem, pairs: set) -> list[Ballot]:
    eligible = {m.id for m in eligible_members(meeting, item, pairs)}
    return [b for b in db.session.scalars(sa.select(Ballot).where(Ballot.item_id == item.id).order_by(Ballot.id))
            if b.member_id in eligible]


def item_tally(meeting: ReviewMeeting, item: ReviewItem, pairs: set) -> dict:
    """The item's result: checklist yes counts over the eligible ballots (or the paper tally) and the vetoes."""
    eligible = len(eligible_members(meeting, item, pairs))
    if meeting.mode == "paper":
        paper = item.paper_tally or {}
        character = rules.CharacterTally(yes=paper.get("yes", {}), voters=int(paper.get("voters", 0)))
        veto_votes = {code: int(n) for code, n in (paper.get("veto_votes") or {}).items()}
    else:
        ballots = _eligible_ballots(meeting, item, pairs)
        character = rules.tally_ballots(b.answers for b in ballots)
        veto_votes = {code: sum(1 for b in ballots if code in (b.vetoes or [])) for code in rules.COMMITTEE_VETOES}
    # RV-1: a veto stands when more than half of the members eligible to vote on the household confirm it
    vetoes = rules.committee_vetoes(veto_votes, max(eligible, character.voters))
    return {"yes": dict(character.yes), "voters": character.voters, "eligible": eligible,
            "veto_votes": veto_votes, "vetoes": list(vetoes)}


def close(meeting: ReviewMeeting, user) -> None:
    """Count, store each item's tally, rescore its rating (services.record_review) and announce (RV-4)."""
    _require(meeting, "voting")
    _require_chair(meeting, user)
    problems = close_problems(meeting)
    if problems:
        raise Refused(" ".join(problems), code="cannot_close")
    pairs = recused_pairs(meeting)
    for item in meeting.items:
        tally = item_tally(meeting, item, pairs)
        item.tally = tally
        rating = services.live_rating(item.household_id)
        if rating is None or rating.status != "proposed":
            item.comment = "rating_changed"
            continue
        character = rules.CharacterTally(yes=tally["yes"], voters=tally["voters"])
        services.record_review(rating, meeting_id=meeting.id, character=character,
                               committee_vetoes=tuple(tally["vetoes"]))
        item.rating_id = rating.id
    _append_step(meeting, "announce", user.id)
    meeting.status = "closed"
    meeting.closed_at = utcnow_naive()
    audit.record("meeting.closed", "ReviewMeeting", meeting.id,
                 changes={"items": len(meeting.items), "present": meeting.present_count})
    db.session.flush()


@dataclass
class ResultRow:
    sheet: SheetRow
    tally: dict
    rating: Rating | None


def results(meeting: ReviewMeeting) -> list[ResultRow]:
    """Announced results (closed meetings only): per item yes counts, voters, vetoes, resulting score and grade."""
    if meeting.status != "closed":
        raise Refused(_("The results are announced when the chair closes the meeting."), code="not_closed")
    rows = []
    for sheet in sheet_rows(meeting):
        item = sheet.item
        rating = db.session.get(Rating, item.rating_id) if item.rating_id else None
        rows.append(ResultRow(sheet=sheet, tally=item.tally or {}, rating=rating))
    return rows

