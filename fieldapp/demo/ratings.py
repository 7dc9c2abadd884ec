"""Demo layer 3: review meetings and ratings for most villages of the demo county.

Accepted demo files get their frozen snapshot (the households layer writes files in bulk without one), then each
rated village gets a review meeting of seven with a recusal, per-household tallies, and ratings scored by the real
rules under the model in force:
- the first village (石桥村, where panel1..panel7 and secretary1 log in) is mid-review: voting is open, five members
  have voted on their phones, panel1 has not yet (so the demo login can vote), panel7 is absent;
- the second village's meeting is closed and its ratings wait for the branch manager (one with an override asked);
- the others are closed and approved by their branch manager, a few left for approval;
- the last villages of the county are not rated yet (the batch button has work to do).
Rows are written in bulk like the households layer (no audit events for demo data). Idempotent: a village that
already has a meeting is skipped.
"""
from __future__ import annotations

import random
from collections import defaultdict
from datetime import timedelta

import sqlalchemy as sa

from ..accounts.models import User
from ..core import clock
from ..extensions import db
from ..households import rules as hrules
from ..households import services as hservices
from ..households.models import CreditFile, Household
from ..households.workflow import freeze
from ..org.models import Village
from ..ratings import rules
from ..ratings.meetings import AGENDA_STEPS
from ..ratings.models import (Ballot, CommitteeMember, Rating, Recusal, ReviewItem, ReviewMeeting)
from ..ratings.services import current_model
from . import org
from .households import _demo_villages, _insert, _staff_maps

SEED = org.SEED + 5
UNRATED_TAIL = 6          # the county's last villages wait for their batch
CHUNK = 400
SEATS = (("committee", True), ("committee", False), ("party_centre", True), ("party_centre", True),
         ("representative", False), ("elder", True), ("stationed", True))
TELLERS = ("赵监票", "钱计票")
RELATIONS = ("sibling", "in_law", "child", "parent")
# every bulk-inserted rating row carries the same keys
OPTIONAL = dict.fromkeys(("approved_grade", "approved_line_fen", "approved_by", "approved_role", "approved_at",
                          "valid_from", "valid_to", "override_grade", "override_line_fen", "override_reason",
                          "override_by", "override_at", "approval_comment", "superseded_by_id"))


def _backfill_snapshots(village_ids: list[int]) -> int:
    """Freeze accepted demo files that have no snapshot yet, in chunks, with one query per section."""
    files = list(db.session.execute(
        sa.select(CreditFile.id, CreditFile.household_id).join(Household, Household.id == CreditFile.household_id)
        .where(Household.village_id.in_(village_ids), CreditFile.status == "accepted",
               sa.or_(CreditFile.snapshot.is_(None), sa.cast(CreditFile.snapshot, sa.Text) == "null"))
        .order_by(CreditFile.id)))
    for start in range(0, len(files), CHUNK):
        chunk = files[start:start + CHUNK]
        ids = [h for _, h in chunk]
        households = {h.id: h for h in db.session.scalars(sa.select(Household).where(Household.id.in_(ids)))}
        rows: dict[int, dict[str, list]] = defaultdict(lambda: defaultdict(list))
        for name in hrules.SECTION_ORDER:
            model = hservices.SECTION_MODELS[name]
            for row in db.session.scalars(sa.select(model).where(model.household_id.in_(ids)).order_by(model.id)):
                rows[row.household_id][name].append(row)
        updates = []
        for file_id, household_id in chunk:
            h = households[household_id]
            declared = set(h.declared_none or [])
            states = {s: hrules.section_state(len(rows[household_id][s]), s in declared)
                      for s in hrules.SECTION_ORDER}
            updates.append({"b_id": file_id, "b_snapshot": freeze(h, rows[household_id], [], [], states)})
        db.session.execute(sa.update(CreditFile.__table__).where(CreditFile.__table__.c.id == sa.bindparam("b_id"))
                           .values(snapshot=sa.bindparam("b_snapshot")), updates)
        db.session.expire_all()
    return len(files)


def _panel_users(village: Village) -> list[User]:
    from ..accounts.models import RoleGrant
    return list(db.session.scalars(
        sa.select(User).join(RoleGrant, RoleGrant.user_id == User.id)
        .where(RoleGrant.role == "panel_member", RoleGrant.scope_type == "village", RoleGrant.scope_id == village.id)
        .order_by(User.id)))


def _secretary(village: Village) -> int | None:
    from ..accounts.models import RoleGrant
    return db.session.scalar(sa.select(RoleGrant.user_id).where(
        RoleGrant.role == "village_secretary", RoleGrant.scope_type == "village",
        RoleGrant.scope_id == village.id).order_by(RoleGrant.user_id).limit(1))


def _agenda(upto: int, when, user_id) -> list[dict]:
    return [{"step": step, "at": (when + timedelta(minutes=10 * i)).isoformat(), "by": user_id, "note": None}
            for i, step in enumerate(AGENDA_STEPS[:upto])]


def _answers(rng: random.Random, good: float) -> dict[str, str]:
    return {item: ("yes" if rng.random() < good else rng.choice(("no", "abstain"))) for item in rules.CHECKLIST}


def _rate_village(index: int, village: Village, households: list[tuple[Household, CreditFile]], model,
                  officer_id, manager_id, today, rng: random.Random) -> dict[str, int]:
    """One village's meeting, items and ratings; returns counts."""
    counts = defaultdict(int)
    now = clock.utcnow_naive()
    mid_review = index == 0
    awaiting = index == 1
    held = today - timedelta(days=0 if mid_review else 20 + index % 30)
    panel = _panel_users(village)
    chair = _secretary(village)
    start = now - timedelta(days=(today - held).days, hours=2)
    meeting = ReviewMeeting(county_id=village.county_id, village_id=village.id, held_on=held,
                            location=f"{village.name}村委会议室", mode="phones" if panel else "paper",
                            status="voting" if mid_review else "closed", chair_user_id=chair,
                            officer_user_id=officer_id, monitor_name=TELLERS[0], counter_name=TELLERS[1],
                            created_by=officer_id, created_at=start - timedelta(days=3),
                            agenda=_agenda(5 if mid_review else len(AGENDA_STEPS), start, chair),
                            quorum_needed=rules.quorum_needed(len(SEATS)), present_count=len(SEATS) - 1,
                            opened_at=start + timedelta(minutes=40),
                            closed_at=None if mid_review else start + timedelta(hours=2))
    db.session.add(meeting)
    db.session.flush()
    members = []
    for seat, (role, party) in enumerate(SEATS):
        user = panel[seat] if seat < len(panel) else None
        members.append(CommitteeMember(meeting_id=meeting.id, user_id=user.id if user else None, position=seat,
                                       name=user.name if user else f"{village.name[:1]}{'委员'}{seat + 1}",
                                       role=role, party_member=party, present=seat != len(SEATS) - 1))
    db.session.add_all(members)
    db.session.flush()
    voters_all = [m for m in members if m.present]

    rating_rows, plans = [], []
    for position, (h, version) in enumerate(households):
        recused = voters_all[2] if position % 9 == 4 else None
        voters = [m for m in voters_all if m is not recused]
        good = 0.97 if rng.random() < 0.85 else 0.55
        ballots = {m.id: _answers(rng, good) for m in voters}
        veto_votes = {}
        if rng.random() < 0.02:
            veto_votes = {rng.choice(rules.COMMITTEE_VETOES): len(voters) - 1}
        facts = rules.facts_from_snapshot(version.snapshot or {}, on=today, tags=tuple(h.tags or ()), model=model.params)
        if mid_review:
            result = rules.score(facts, model.params)
            status = "proposed"
        else:
            tally = rules.tally_ballots(ballots.values())
            vetoes = rules.committee_vetoes(veto_votes, len(voters))
            result = rules.score(facts, model.params, character=tally, committee_vetoes=vetoes)
            status = "not_rated" if result.vetoes else "reviewed"
        row = {"county_id": h.county_id, "village_id": h.village_id, "group_id": h.group_id, "household_id": h.id,
               "live_household_id": h.id, "credit_file_id": version.id, "file_version_no": version.version_no,
               "model_id": model.id, "model_version": model.version_no, "meeting_id": meeting.id, "status": status,
               "base_score": result.base, "bonus": result.bonus, "deduction": result.deduction,
               "final_score": result.final_score, "grade": result.grade, "vetoes": list(result.vetoes),
               "breakdown": result.as_dict(), "suggested_line_fen": result.suggested_line_fen,
               "rate_tier": result.rate_tier, "proposed_by": version.submitted_by or officer_id,
               "proposed_at": start - timedelta(days=2), "reviewed_at": None if mid_review else meeting.closed_at,
               "status_changed_at": now, "version": 1, **OPTIONAL}
        if status == "reviewed" and not awaiting and manager_id and position % 17 != 3:
            grade = "not_rated" if result.grade == "not_rated" else result.grade
            row.update(status="not_rated" if grade == "not_rated" else "approved", approved_grade=grade,
                       approved_line_fen=result.suggested_line_fen if grade != "not_rated" else 0,
                       approved_by=manager_id, approved_role="branch_manager",
                       approved_at=meeting.closed_at + timedelta(days=1), valid_from=today - timedelta(days=1),
                       valid_to=rules.valid_to(today - timedelta(days=1), model.params))
        if awaiting and status == "reviewed" and position == 0:
            row.update(override_line_fen=max(0, result.suggested_line_fen - 2_000_000),
                       override_reason="家庭有大额医疗支出,建议下调额度", override_by=officer_id,
                       override_at=meeting.closed_at + timedelta(hours=1))
        rating_rows.append(row)
        plans.append((h, recused, voters, ballots, veto_votes, result))
        counts[row["status"]] += 1
    ids = _insert(Rating, rating_rows, returning=True)
    item_rows = []
    for position, ((h, recused, voters, ballots, veto_votes, result), rating_id) in enumerate(zip(plans, ids)):
        item = {"meeting_id": meeting.id, "household_id": h.id, "rating_id": rating_id, "position": position,
                "paper_tally": None, "tally": None, "comment": None}
        if not mid_review:
            tally = rules.tally_ballots(ballots.values())
            item["tally"] = {"yes": dict(tally.yes), "voters": tally.voters, "veto_votes": veto_votes,
                             "vetoes": list(rules.committee_vetoes(veto_votes, len(voters)))}
            if meeting.mode == "paper":
                item["paper_tally"] = {"voters": tally.voters, "yes": dict(tally.yes), "veto_votes": veto_votes}
        item_rows.append(item)
    item_ids = _insert(ReviewItem, item_rows, returning=True)
    recusals, ballot_rows = [], []
    for (h, recused, voters, ballots, veto_votes, _result), item_id in zip(plans, item_ids):
        if recused is not None:
            recusals.append({"meeting_id": meeting.id, "member_id": recused.id, "household_id": h.id,
                             "relation": RELATIONS[h.id % len(RELATIONS)], "note": None, "created_by": chair,
                             "created_at": start + timedelta(minutes=30)})
        if meeting.mode == "phones":
            for member in voters:
                if mid_review and member.position == 0:
                    continue  # panel1 has not voted yet: the demo login can
                ballot = {"item_id": item_id, "member_id": member.id, "answers": ballots[member.id],
                          "vetoes": [c for c in veto_votes if rng.random() < 0.9], "cast_at": start + timedelta(hours=1),
                          "version": 1}
                ballot_rows.append(ballot)
    _insert(Recusal, recusals)
    _insert(Ballot, ballot_rows)
    counts["recusals"] += len(recusals)
    counts["ballots"] += len(ballot_rows)
    counts["meetings"] += 1
    return counts


def load_ratings(options=None) -> str:
    villages = [v for v in _demo_villages()]
    if not villages:
        return "ratings: no demo county (load the org layer first)"
    rated = villages[:-UNRATED_TAIL] if len(villages) > UNRATED_TAIL else villages[:1]
    done = set(db.session.scalars(sa.select(ReviewMeeting.village_id).where(
        ReviewMeeting.village_id.in_([v.id for v in villages]))))
    todo = [(i, v) for i, v in enumerate(rated) if v.id not in done]
    if not todo:
        return "ratings: nothing to add"
    snapshots = _backfill_snapshots([v.id for _, v in todo])
    model = current_model()
    db.session.flush()
    today = clock.today()
    _, officer_by_village, manager_by_village = _staff_maps([v.id for v in villages], today)
    totals: dict[str, int] = defaultdict(int)
    for index, village in todo:
        latest = (sa.select(CreditFile.household_id, sa.func.max(CreditFile.id).label("file_id"))
                  .where(CreditFile.status == "accepted").group_by(CreditFile.household_id).subquery())
        pairs = list(db.session.execute(
            sa.select(Household, CreditFile).join(latest, latest.c.household_id == Household.id)
            .join(CreditFile, CreditFile.id == latest.c.file_id)
            .outerjoin(Rating, Rating.live_household_id == Household.id)
            .where(Household.village_id == village.id, Household.status == "active", Rating.id.is_(None))
            .order_by(Household.code)))
        if not pairs:
            continue
        rng = random.Random(f"{SEED}:{village.stat_code}")
        counts = _rate_village(index, village, pairs, model, officer_by_village.get(village.id),
                               manager_by_village.get(village.id), today, rng)
        for key, n in counts.items():
            totals[key] += n
        db.session.flush()
    order = ("meetings", "proposed", "reviewed", "approved", "not_rated", "recusals", "ballots")
    return (f"ratings: {snapshots} snapshots, "
            + ", ".join(f"{totals[k]} {k}" for k in order if totals[k]))
