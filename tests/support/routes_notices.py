"""Access-matrix rows for the staff notice pages (fieldapp/notices/views.py), and helpers that build notices through
the real services: households with approved ratings and a 公示同意 consent, drafts, opened notices.

Every role's in-scope notice is of 金星村 (v1: seen by head office, the branch manager, the grid officer, the village
secretary and the auditor); out of scope it is of 桃源村 (v3: another branch's grid), of 龙门村 (v2) for the village
secretary, or of 乌兰嘎查 (county B) for county-wide roles. Writing routes get a fresh notice in the state their step
needs, version 1. Private-notice routes take "notice/private/id" as their {id}.
"""
from __future__ import annotations

import io
from datetime import timedelta

import sqlalchemy as sa
from PIL import Image

from fieldapp.core import clock
from fieldapp.extensions import db
from fieldapp.households.models import Household
from fieldapp.notices import services as notices
from fieldapp.notices.models import Notice, PrivateNotice
from fieldapp.ratings import services as ratings
from fieldapp.ratings.models import Rating
from fieldapp.visits.models import Consent
from tests.support.matrix import Route
from tests.support.routes_ratings import reviewed_rating

READ = {"hq_admin", "branch_manager", "grid_officer", "village_secretary", "auditor"}
WRITE = {"grid_officer", "branch_manager"}
DELIVER = {"grid_officer", "branch_manager", "village_secretary"}
CENTRE = (26.5300, 99.9000)  # a village centre (lat, lng) the helpers give every village they post in

_SEQ = [0]


def _next() -> int:
    _SEQ[0] += 1
    return _SEQ[0]


# ---------------------------------------------------------------- households and ratings

def new_household(village, *, head: str | None = None, group: int = 0) -> Household:
    """A new household of `village` (its `group`-th group by id) with one member, the head."""
    from tests.support.world import add_household, make_id
    n = _next()
    grp = sorted(village.groups, key=lambda g: g.id)[group]
    return add_household(village, grp, f"H-N{village.id}-{n:04d}",
                         [(head or f"公示户{n:03d}", "head", make_id("532931", "19800101", 200 + n % 700))])


def consent(household: Household, method: str = "paper", user=None) -> Consent:
    row = Consent(household_id=household.id, kind="notice", method=method,
                  refusal_note="不同意公示" if method == "refused" else None,
                  recorded_by=user.id if user is not None else None, signed_at=clock.utcnow_naive())
    db.session.add(row)
    db.session.commit()
    return row


def approved_rating(w, household: Household, *, with_consent: bool = True, approver=None, **file) -> Rating:
    """Reviewed (proposed by the grid officer), approved by the branch manager (or `approver`), with a notice
    consent unless told otherwise. Committed."""
    rating = reviewed_rating(household, w.officer, **file)
    if rating.status == "reviewed":
        ratings.approve(rating, approver or w.manager)
    db.session.commit()
    if with_consent:
        consent(household, user=w.officer)
    return db.session.get(Rating, rating.id)


LOW_FILE = dict(labour="none", income=[(2000, "declared")], assets=[])   # scores below 60
VETO_FILE = dict(negative=["arrears"])                                   # RT-5 file veto


def listed_household(w, village, **kwargs) -> Household:
    """A new household of `village` with an approved, consented rating: it will be listed."""
    h = new_household(village, **kwargs)
    approved_rating(w, h)
    return h


def with_centre(village) -> None:
    village.centroid_lat, village.centroid_lng = CENTRE
    db.session.commit()


# ---------------------------------------------------------------- notices

def draft(w, village, *, user=None, days: int = 7, starts_on=None) -> Notice:
    """A draft notice of `village` from its eligible ratings (create some first). Committed."""
    notice = notices.create_notice(village, user=user or w.officer, starts_on=starts_on or clock.today(),
                                   duration_days=days, posting_place="村委会公示栏", hotline="0872-1234567")
    db.session.commit()
    return notice


def jpeg(size=(64, 48), colour=(30, 120, 60)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, format="JPEG")
    return buf.getvalue()


def open_now(w, notice: Notice, *, user=None) -> Notice:
    """Schedule (if a draft) and open `notice` with a board photo taken at the village centre. Committed."""
    village = db.session.get(type(w.v1), notice.village_id)
    if village.centroid_lat is None:
        with_centre(village)
    if notice.status == "draft":
        notices.schedule(notice)
    notices.open_notice(notice, user=user or w.officer, photo=jpeg(), lat=CENTRE[0], lng=CENTRE[1], accuracy_m=8.0)
    db.session.commit()
    return notice


# ---------------------------------------------------------------- matrix rows

def _bare(village, status: str = "draft", **values) -> Notice:
    """A notice row without items (for routes that only read or change its state)."""
    n = _next()
    today = clock.today()
    notice = Notice(county_id=village.county_id, village_id=village.id, title=f"{village.name}测试公示{n}",
                    starts_on=today, ends_on=today + timedelta(days=6), duration_days=7, posting_place="公示栏",
                    hotline="0872-1234567", status=status, public_token=f"matrix-{n}-{village.id}", **values)
    db.session.add(notice)
    db.session.commit()
    db.session.execute(sa.update(Notice).where(Notice.id == notice.id).values(version=1))
    db.session.commit()
    return notice


def _outside_village(w, role):
    return {"hq_admin": w.vb, "auditor": w.vb, "village_secretary": w.v2}.get(role, w.v3)


def notice_ids(w, role, status: str = "draft"):
    return _bare(w.v1, status).id, _bare(_outside_village(w, role), status).id


def scheduled_ids(w, role):
    return notice_ids(w, role, "scheduled")


def village_ids(w, role):
    return w.v1.id, _outside_village(w, role).id


def create_ids(w, role):
    """Each writer drafts in v1 from a household approved for it (so there is always someone to list)."""
    if role in WRITE:
        listed_household(w, w.v1)
    return w.v1.id, _outside_village(w, role).id


def _private_on(w, village) -> str:
    cache = w.__dict__.setdefault("_matrix_private_rating", {})
    if village.id not in cache:
        h = new_household(village)
        cache[village.id] = (h.id, reviewed_rating(h, w.officer, **VETO_FILE).id)
    household_id, rating_id = cache[village.id]
    notice = _bare(village)
    h = db.session.get(Household, household_id)
    p = PrivateNotice(notice_id=notice.id, rating_id=rating_id, household_id=h.id, county_id=h.county_id,
                      village_id=h.village_id, group_id=h.group_id, reasons=["arrears"])
    db.session.add(p)
    db.session.commit()
    db.session.execute(sa.update(PrivateNotice).where(PrivateNotice.id == p.id).values(version=1))
    db.session.commit()
    return f"{notice.id}/private/{p.id}"


def private_ids(w, role):
    return _private_on(w, w.v1), _private_on(w, _outside_village(w, role))


ROUTES = {
    "notices.village_notices": Route("GET", "/villages/{id}/notices", READ, ids=village_ids),
    "notices.notice_new": Route("GET", "/villages/{id}/notices/new", WRITE, ids=village_ids),
    "notices.notice_create": Route("POST", "/villages/{id}/notices/new", WRITE, ok=303, ids=create_ids,
                                   data={"duration_days": "7", "posting_place": "村委会公示栏",
                                         "hotline": "0872-1234567", "idem_key": "notice-{role}-{id}"}),
    "notices.notice": Route("GET", "/notices/{id}", READ, ids=notice_ids),
    "notices.notice_schedule": Route("POST", "/notices/{id}/schedule", WRITE, ok=303, ids=notice_ids,
                                     data={"version": "1"}),
    # no photo: refused with 422 once the route is reached (the full opening is tested in test_notices.py)
    "notices.notice_open": Route("POST", "/notices/{id}/open", WRITE | {"village_secretary"}, ok=422, ids=scheduled_ids,
                                 data={"version": "1"}),
    "notices.notice_cancel": Route("POST", "/notices/{id}/cancel", WRITE, ok=303, ids=scheduled_ids,
                                   data={"version": "1", "reason": "名单有误，重新拟定"}),
    # a notice never opened has no photo: 404 for everyone who may see it
    "notices.posting_photo": Route("GET", "/notices/{id}/posting-photo", READ, ok=404, ids=notice_ids),
    "notices.sheet": Route("GET", "/notices/{id}/sheet", READ, ids=notice_ids),
    "notices.sheet_pdf": Route("GET", "/notices/{id}/sheet.pdf", READ, ids=notice_ids),
    "notices.private_letter": Route("GET", "/notices/{id}.pdf", READ, ids=private_ids),
    "notices.private_delivered": Route("POST", "/notices/{id}/delivered", DELIVER, ok=303, ids=private_ids,
                                       data={"version": "1", "note": "交户主本人"}),
}
