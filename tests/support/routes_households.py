"""Access-matrix rows for the worklist, search, household page, members, ID reveal, moves, splits, a new household
found on a visit and the village summary (fieldapp/households/views.py).

Each writing role gets its own in-scope household (hq_admin h5, branch_manager h3, grid_officer h1), so one role's
successful POST never makes the next role's form stale. Member routes need two ids in the URL: their id helpers
return "household/members/member" as the {id}.

The matrix keys rows by endpoint, so "households.new" has its POST row in ROUTES and its GET row in GET_ROUTES
(checked role by role in tests/web/test_household_new.py). The POST needs a group of the role's village that the
role sees: new_household_ids puts it into the row's form before the matrix builds the request.
"""
from __future__ import annotations

import sqlalchemy as sa

from fieldapp.extensions import db
from fieldapp.households.models import Member
from fieldapp.org.models import Village
from tests.support.matrix import Route, village_ids

READ = {"hq_admin", "branch_manager", "grid_officer", "auditor"}
WRITE = {"hq_admin", "branch_manager", "grid_officer"}
REVEAL = {"grid_officer", "branch_manager"}  # SD-6: R2/R3 only
SUMMARY = {"village_secretary", "hq_admin", "branch_manager", "grid_officer", "auditor"}
SPLIT_MEMBER = 777_777  # a fixed member id the split form can name


def household_ids(w, role):
    inside = {"hq_admin": w.h5, "branch_manager": w.h3, "grid_officer": w.h1, "auditor": w.h5}.get(role, w.h1)
    outside = {"hq_admin": w.hb, "branch_manager": w.h4, "grid_officer": w.h4, "auditor": w.hb}.get(role, w.hb)
    return inside.id, outside.id


def _head(household_id: int) -> int:
    return db.session.scalar(sa.select(Member.id).where(Member.household_id == household_id, Member.is_head))


def head_ids(w, role):
    inside, outside = household_ids(w, role)
    return f"{inside}/members/{_head(inside)}", f"{outside}/members/{_head(outside)}"


def _add_member(household_id: int, **values) -> Member:
    county_id = db.session.scalar(sa.select(Member.county_id).where(Member.household_id == household_id).limit(1))
    member = Member(household_id=household_id, county_id=county_id, name="临时成员", name_pinyin="linshichengyuan",
                    name_initials="lscy", relation="child", position=50, **values)
    db.session.add(member)
    db.session.commit()
    return member


def spare_member_ids(w, role):
    """A fresh non-head member of the role's household (removing it is the allowed call)."""
    inside, outside = household_ids(w, role)
    return f"{inside}/members/{_add_member(inside).id}", f"{outside}/members/{_head(outside)}"


def split_ids(w, role):
    """Member SPLIT_MEMBER moved into the role's household (out of the previous role's split-off one)."""
    inside, outside = household_ids(w, role)
    db.session.execute(sa.delete(Member).where(Member.id == SPLIT_MEMBER))
    db.session.commit()
    _add_member(inside, id=SPLIT_MEMBER)
    return inside, outside


def new_household_ids(w, role):
    """The role's village (matrix.village_ids) and, in NEW_HOUSEHOLD's form, a group of it the role covers."""
    inside, outside = village_ids(w, role)
    village = db.session.get(Village, inside)
    covered = {"branch_manager": "一组", "grid_officer": "一组"}.get(role)  # G01-1 covers only 龙门村 一组
    group = next((g for g in village.groups if covered in (None, g.name)), village.groups[0])
    NEW_HOUSEHOLD.data["group_id"] = str(group.id)
    return inside, outside


NEW_HOUSEHOLD = Route("POST", "/worklist/villages/{id}/households/new", WRITE, ok=303, ids=new_household_ids,
                      data={"head_name": "新发现户", "id_number": "", "phone": "", "address": "",
                            "idem_key": "newhh-{role}-{id}"})
GET_ROUTES = {
    "households.new": Route("GET", "/worklist/villages/{id}/households/new", WRITE, ids=village_ids),
}

ROUTES = {
    "households.worklist": Route("GET", "/worklist", READ),
    "households.search": Route("GET", "/households/search?q=zs", READ),
    "households.village": Route("GET", "/worklist/villages/{id}", READ, ids=village_ids),
    "households.show": Route("GET", "/households/{id}", READ, ids=household_ids),
    "households.reveal_id": Route("POST", "/households/{id}/reveal", REVEAL, ok=200, ids=head_ids),
    "households.members": Route("GET", "/households/{id}/members", READ, ids=household_ids),
    "households.member_add": Route("POST", "/households/{id}/members/new", WRITE, ok=303, ids=household_ids,
                                   data={"name": "新成员", "relation": "child", "idem_key": "add-{role}-{id}"}),
    "households.member_edit": Route("POST", "/households/{id}", WRITE, ok=303, ids=head_ids,
                                    data={"name": "改名户主", "relation": "head", "version": "1"}),
    "households.member_remove": Route("POST", "/households/{id}/remove", WRITE, ok=303, ids=spare_member_ids),
    "households.move": Route("POST", "/households/{id}/move", WRITE, ok=303, ids=household_ids,
                             data={"target": "out", "destination": "外省务工", "version": "1"}),
    "households.split": Route("POST", "/households/{id}/split", WRITE, ok=303, ids=split_ids,
                              data={"members": str(SPLIT_MEMBER), "target": "same", "idem_key": "split-{role}-{id}"}),
    "households.new": NEW_HOUSEHOLD,
    "households.village_summary": Route("GET", "/villages/{id}/households", SUMMARY, ids=village_ids),
}
