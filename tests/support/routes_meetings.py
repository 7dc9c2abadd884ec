"""Access-matrix rows for the review meeting (评议会) routes (fieldapp/ratings/meeting_views.py).

Every role's in-scope meeting is in 金星村 (v1), chaired by w.secretary, scheduled by w.officer, with w.secretary and
w.panel as present members voting on their phones (tests/support/ratings.make_meeting); out of scope it is a bare
meeting of 桃源村 (v3: another branch's grid) or, for county-wide roles, of 乌兰嘎查 (county B). Writing routes get a
fresh meeting in the state their step needs, with its version set to 1 so the static forms below are never stale.
Routes naming a member or an item take "meeting/…/id" as their {id}.
"""
from __future__ import annotations

import sqlalchemy as sa

from fieldapp.core import clock
from fieldapp.extensions import db
from fieldapp.ratings import meetings, rules
from fieldapp.ratings.models import ReviewMeeting
from tests.support.matrix import MISSING, Route
from tests.support.ratings import ballot, ballot_form, make_meeting

READ = {"hq_admin", "branch_manager", "grid_officer", "village_secretary", "panel_member", "auditor"}
SCHEDULE = {"grid_officer", "branch_manager"}
SETUP = {"grid_officer", "branch_manager", "village_secretary"}
CHAIR = {"village_secretary"}
VOTE = {"panel_member", "village_secretary"}


def _bare(village) -> int:
    m = ReviewMeeting(county_id=village.county_id, village_id=village.id, held_on=clock.today(), status="voting",
                      mode="phones", agenda=[])
    db.session.add(m)
    db.session.commit()
    return m.id


def _outside(w, role) -> int:
    return _bare(w.vb if role in ("hq_admin", "auditor") else w.v3)


def _version_one(meeting) -> ReviewMeeting:
    db.session.execute(sa.update(ReviewMeeting).where(ReviewMeeting.id == meeting.id).values(version=1))
    db.session.commit()
    db.session.expire_all()
    return db.session.get(ReviewMeeting, meeting.id)


def _shared(w) -> ReviewMeeting:
    """One voting meeting per world for the read-only routes."""
    if getattr(w, "_matrix_meeting", None) is None:
        w._matrix_meeting = make_meeting(w, households=1).id
    return db.session.get(ReviewMeeting, w._matrix_meeting)


def shared_ids(w, role):
    return _shared(w).id, _outside(w, role)


def new_meeting_ids(w, role):
    return w.v1.id, (w.vb if role in ("hq_admin", "auditor") else w.v3).id


def _fresh(w, role, **kwargs) -> tuple[int, int]:
    return _version_one(make_meeting(w, **kwargs)).id, _outside(w, role)


def scheduled_ids(w, role):
    return _fresh(w, role, households=1, open_voting=False)


def no_agenda_ids(w, role):
    return _fresh(w, role, households=1, open_voting=False, agenda=False)


def member_ids(w, role):
    m, out = _fresh(w, role, households=0, open_voting=False)
    member = db.session.get(ReviewMeeting, m).members[-1]
    return f"{m}/members/{member.id}", f"{out}/members/{MISSING}"


def ballot_ids(w, role):
    m, out = _fresh(w, role, households=1)
    return f"{m}/vote/{db.session.get(ReviewMeeting, m).items[0].id}", f"{out}/vote/{MISSING}"


def paper_ids(w, role):
    m, out = _fresh(w, role, households=1, mode="paper")
    return f"{m}/paper/{db.session.get(ReviewMeeting, m).items[0].id}", f"{out}/paper/{MISSING}"


def closable_ids(w, role):
    """A voting meeting every present phone has voted in, the count step recorded: the chair may close it."""
    meeting = make_meeting(w, households=1)
    item = meeting.items[0]
    for seat in meeting.members:
        if seat.present and seat.user_id:
            meetings.cast_ballot(meeting, item, seat, answers=ballot(), vetoes=[], version=0)
    meetings.record_step(meeting, "count", user_id=w.officer.id)
    db.session.commit()
    return _version_one(meeting).id, _outside(w, role)


PAPER_COUNTS = {"voters": "4", **{f"yes_{c}": "2" for c in rules.CHECKLIST},
                **{f"veto_{c}": "0" for c in rules.COMMITTEE_VETOES}, "version": "1"}

ROUTES = {
    "ratings.meeting_list": Route("GET", "/villages/{id}/meetings", READ, ids=new_meeting_ids),
    "ratings.meeting_new": Route("POST", "/villages/{id}/meetings/new", SCHEDULE, ok=303, ids=new_meeting_ids,
                                 data={"held_on": "2025-03-01", "mode": "phones", "location": "村委会",
                                       "idem_key": "meeting-{role}-{id}"}),
    "ratings.meeting": Route("GET", "/meetings/{id}", READ, ids=shared_ids),
    "ratings.meeting_progress": Route("GET", "/meetings/{id}/progress", READ, ids=shared_ids),
    "ratings.meeting_results": Route("GET", "/meetings/{id}/results", READ, ids=shared_ids),
    "ratings.meeting_sheet": Route("GET", "/meetings/{id}/sheet.pdf", READ, ids=shared_ids),
    "ratings.meeting_vote": Route("GET", "/meetings/{id}/vote", VOTE, ids=shared_ids),
    "ratings.meeting_ballot": Route("POST", "/meetings/{id}", VOTE, ok=303, ids=ballot_ids,
                                    data=ballot_form(ballot("yes"))),
    "ratings.meeting_paper": Route("POST", "/meetings/{id}", CHAIR, ok=303, ids=paper_ids, data=PAPER_COUNTS),
    "ratings.meeting_refresh": Route("POST", "/meetings/{id}/refresh", SETUP, ok=303, ids=scheduled_ids,
                                     data={"version": "1"}),
    "ratings.meeting_member_add": Route("POST", "/meetings/{id}/members", SETUP, ok=303, ids=scheduled_ids,
                                        data={"name": "新委员", "role": "elder", "idem_key": "member-{role}-{id}"}),
    "ratings.meeting_member_remove": Route("POST", "/meetings/{id}/remove", SETUP, ok=303, ids=member_ids),
    "ratings.meeting_attendance": Route("POST", "/meetings/{id}/attendance", SETUP, ok=303, ids=scheduled_ids,
                                        data={"version": "1"}),
    # the form names a member and a household by id: the static body names neither, so an admitted role gets 422
    "ratings.meeting_recusal_add": Route("POST", "/meetings/{id}/recusals", SETUP, ok=422, ids=scheduled_ids,
                                         data={"relation": "spouse", "idem_key": "recusal-{role}-{id}"}),
    "ratings.meeting_tellers": Route("POST", "/meetings/{id}/tellers", SETUP, ok=303, ids=scheduled_ids,
                                     data={"monitor": "王监票", "counter": "李计票", "version": "1"}),
    "ratings.meeting_step": Route("POST", "/meetings/{id}/agenda", SETUP, ok=303, ids=no_agenda_ids,
                                  data={"step": "publicise", "version": "1"}),
    "ratings.meeting_open": Route("POST", "/meetings/{id}/open", CHAIR, ok=303, ids=scheduled_ids,
                                  data={"version": "1"}),
    "ratings.meeting_close": Route("POST", "/meetings/{id}/close", CHAIR, ok=303, ids=closable_ids,
                                   data={"version": "1"}),
    "ratings.meeting_cancel": Route("POST", "/meetings/{id}/cancel", SETUP, ok=303, ids=scheduled_ids,
                                    data={"version": "1"}),
}
# GET views that share an endpoint with a POST row above are fetched in tests/web/test_meetings.py.
