"""Access-matrix rows for visit records, consents and photos (fieldapp/visits/views.py).

Visits and photos are reached through their household, so the id helpers make a visit (or a stored photo) on a
household the role sees and on one it does not. The photo upload row carries no file (the matrix posts plain
form fields), so an allowed in-scope call is the pipeline's 422 "choose a photo", after the scope check passed.
"""
from __future__ import annotations

import io

from PIL import Image

from fieldapp.core import clock
from fieldapp.extensions import db
from fieldapp.households.models import Household
from fieldapp.visits import services
from fieldapp.visits.models import Visit
from tests.support.matrix import Route

READ = {"hq_admin", "branch_manager", "grid_officer", "auditor"}
WRITE = {"hq_admin", "branch_manager", "grid_officer"}


def household_ids(w, role):
    inside = {"hq_admin": w.h5, "branch_manager": w.h3, "grid_officer": w.h1, "auditor": w.h5}.get(role, w.h1)
    outside = {"hq_admin": w.hb, "branch_manager": w.h4, "grid_officer": w.h4, "auditor": w.hb}.get(role, w.hb)
    return inside.id, outside.id


def _visit(household_id: int, staff) -> int:
    h = db.session.get(Household, household_id)
    now = clock.utcnow_naive()
    v = Visit(household_id=h.id, county_id=h.county_id, village_id=h.village_id, group_id=h.group_id,
              staff_id=staff.id, purpose="first", outcome="done", started_at=now, ended_at=now)
    db.session.add(v)
    db.session.commit()
    return v.id


def visit_ids(w, role):
    inside, outside = household_ids(w, role)
    return _visit(inside, w.officer), _visit(outside, w.officer2)


def _photo(household_id: int, staff) -> int:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (120, 160, 90)).save(buf, "JPEG")
    photo = services.save_photo(db.session.get(Household, household_id), staff, buf.getvalue(), "house")
    db.session.commit()
    return photo.id


def photo_ids(w, role):
    inside, outside = household_ids(w, role)
    return _photo(inside, w.officer), _photo(outside, w.officer2)


ROUTES = {
    "visits.new": Route("GET", "/households/{id}/visits/new", WRITE, ids=household_ids),
    "visits.create": Route("POST", "/households/{id}/visits/new", WRITE, ok=303, ids=household_ids,
                           data={"purpose": "first", "outcome": "done", "idem_key": "kvisit-{role}-{id}"}),
    "visits.show": Route("GET", "/visits/{id}", READ, ids=visit_ids),
    "visits.consent": Route("GET", "/households/{id}/consent", READ, ids=household_ids),
    "visits.photo_upload": Route("POST", "/households/{id}/photos", WRITE, ok=422, ids=household_ids,
                                 data={"kind": "house", "idem_key": "kphoto-{role}-{id}"}),
    "visits.photo": Route("GET", "/photos/{id}", READ, ids=photo_ids),
    "visits.photo_thumb": Route("GET", "/photos/{id}/thumb", READ, ids=photo_ids),
}
