"""Access-matrix rows for the rating pages, maker-checker, the approvals queue and bonus recommendations
(fieldapp/ratings/views.py), plus `reviewed_rating()`: a household rated and reviewed through the real services.

Each role's in-scope object is a rating (or recommendation) of its own household (hq_admin and auditor h5, branch
manager h3, grid officer and everyone else h1), made the first time it is asked for; out of scope it is one of h4
(another branch's group) or hb (county B). Ratings are proposed by the grid officer, so a branch manager or head
office may approve them; their version is set to 1 so the static forms below are never stale.
"""
from __future__ import annotations

from datetime import date

import sqlalchemy as sa

from fieldapp.core import clock
from fieldapp.extensions import db
from fieldapp.households.models import Household, Member
from fieldapp.ratings import rules, services
from fieldapp.ratings.models import BonusRecommendation, Rating, ReviewMeeting
from tests.support.matrix import Route
from tests.support.ratings import accept_file

READ = {"hq_admin", "branch_manager", "grid_officer", "auditor"}
OVERRIDE = {"grid_officer", "branch_manager"}
APPROVE = {"branch_manager", "hq_admin"}
BONUS_WRITE = {"hq_admin", "branch_manager", "grid_officer"}


def set_birth_dates(household: Household) -> None:
    """Members' birth dates from their ID numbers (the family indicator counts members aged 18-60)."""
    for member in db.session.scalars(sa.select(Member).where(Member.household_id == household.id)):
        if member.id_number and member.birth_date is None:
            digits = member.id_number[6:14]
            member.birth_date = date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    db.session.flush()


def closed_meeting(household: Household) -> ReviewMeeting:
    meeting = ReviewMeeting(county_id=household.county_id, village_id=household.village_id, held_on=clock.today(),
                            status="closed", mode="paper", closed_at=clock.utcnow_naive())
    db.session.add(meeting)
    db.session.flush()
    return meeting


def reviewed_rating(household: Household, proposer, *, yes: int = 5, voters: int = 5, **file) -> Rating:
    """Accept a file for `household` (accept_file's keyword arguments), propose it as `proposer` and close a meeting
    on it with `yes` of `voters` answering yes on every checklist item. Committed; returns the reviewed rating."""
    household = db.session.get(Household, household.id)
    set_birth_dates(household)
    accept_file(household, **file)
    rating = services.propose(household, user_id=proposer.id)
    tally = rules.CharacterTally(yes={item: yes for item in rules.CHECKLIST}, voters=voters)
    services.record_review(rating, meeting_id=closed_meeting(household).id, character=tally, committee_vetoes=())
    db.session.commit()
    return rating


def _household_for(w, role: str, inside: bool) -> Household:
    if inside:
        return {"hq_admin": w.h5, "auditor": w.h5, "branch_manager": w.h3, "grid_officer": w.h1}.get(role, w.h1)
    return {"hq_admin": w.hb, "auditor": w.hb}.get(role, w.h4)


def _rating_of(w, household: Household) -> int:
    cache = w.__dict__.setdefault("_matrix_ratings", {})
    if household.id not in cache:
        rating = reviewed_rating(household, w.officer)
        db.session.execute(sa.update(Rating).where(Rating.id == rating.id).values(version=1))
        db.session.commit()
        cache[household.id] = rating.id
    return cache[household.id]


def rating_ids(w, role):
    return _rating_of(w, _household_for(w, role, True)), _rating_of(w, _household_for(w, role, False))


def household_ids(w, role):
    return _household_for(w, role, True).id, _household_for(w, role, False).id


def _recommendation(household: Household) -> int:
    rec = BonusRecommendation(county_id=household.county_id, village_id=household.village_id,
                              group_id=household.group_id, household_id=household.id, kind="party_helper",
                              recommender="王支书（村党支部）")
    db.session.add(rec)
    db.session.commit()
    return rec.id


def bonus_ids(w, role):
    return _recommendation(_household_for(w, role, True)), _recommendation(_household_for(w, role, False))


ROUTES = {
    "ratings.household_rating": Route("GET", "/households/{id}/rating", READ, ids=household_ids),
    "ratings.why": Route("GET", "/ratings/{id}", READ, ids=rating_ids),
    "ratings.why_print": Route("GET", "/ratings/{id}/print", READ, ids=rating_ids),
    "ratings.override": Route("POST", "/ratings/{id}/override", OVERRIDE, ok=303, ids=rating_ids,
                              data={"grade": "fair", "reason": "村里反映收入不稳定", "version": "1"}),
    "ratings.approve": Route("POST", "/ratings/{id}/approve", APPROVE, ok=303, ids=rating_ids,
                             data={"comment": "同意", "version": "1"}),
    "ratings.approvals": Route("GET", "/approvals", APPROVE),
    "ratings.bonuses": Route("GET", "/households/{id}/bonuses", READ, ids=household_ids),
    "ratings.bonus_add": Route("POST", "/households/{id}/bonuses", BONUS_WRITE, ok=303, ids=household_ids,
                               data={"kind": "red_credit_demo", "recommender_name": "王支书", "body": "party_branch",
                                     "idem_key": "bonus-{role}-{id}"}),
    "ratings.bonus_withdraw": Route("POST", "/bonuses/{id}/withdraw", BONUS_WRITE, ok=303, ids=bonus_ids,
                                    data={"reason": "推荐单位撤回"}),
}
