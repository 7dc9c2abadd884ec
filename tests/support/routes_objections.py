"""Access-matrix rows for the public notice page, the objection form, the status lookup and the staff objection pages
(fieldapp/notices/public.py, objection_views.py), plus helpers that open a real notice through the real services:
accepted files, reviewed and approved ratings, notice consents, create -> schedule -> open with a posting photo.

In scope for every reading role is a notice of 金星村 (v1: h1 张三 一组, h2 单田芳 二组), opened first so its items
are ids 1 and 2. Out of scope are bare notice/objection rows of 乌兰嘎查 (county B) for head office and auditors,
桃源村 (v3) for the branch manager and the grid officer, and 龙门村 (v2) for the village secretary. Every writing role
gets its own objection in the state its route needs, its version set to 1 so the static forms are never stale.
"""
from __future__ import annotations

import io
import secrets
from datetime import date

import sqlalchemy as sa
from PIL import Image

from fieldapp.core import clock
from fieldapp.extensions import db
from fieldapp.households.models import Household
from fieldapp.notices import objections, services
from fieldapp.notices.models import Notice, NoticeItem, Objection
from fieldapp.org.models import Village
from fieldapp.ratings import services as ratings
from fieldapp.ratings.models import Rating
from fieldapp.visits.models import Consent
from tests.support.matrix import ROLES, Route
from tests.support.routes_ratings import reviewed_rating

CENTRE = (26.5301, 99.9012)
HOTLINE = "0872-1234567"
READ = {"hq_admin", "branch_manager", "grid_officer", "village_secretary", "auditor"}
RECORD = {"village_secretary", "grid_officer", "branch_manager"}
HANDLE = {"grid_officer", "branch_manager"}
APPROVE = {"branch_manager", "hq_admin"}
REPLY = {"village_secretary", "grid_officer", "branch_manager"}


def board_photo() -> bytes:
    """A plain JPEG standing in for the photo of the paper on the village board (GPS comes from the phone)."""
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 190, 150)).save(buf, "JPEG")
    return buf.getvalue()


def approved_rating(household: Household, w, **file) -> Rating:
    """Accepted file -> proposed by the officer -> reviewed by a meeting -> approved by the branch manager, and the
    household's consent to the public notice (公示同意). Committed."""
    rating = reviewed_rating(household, w.officer, **file)
    ratings.approve(db.session.get(Rating, rating.id), w.manager)
    db.session.add(Consent(household_id=household.id, kind="notice", method="signature", recorded_by=w.officer.id))
    db.session.commit()
    return rating


def open_notice(w, village=None, households=None, *, days: int = 7, **file) -> Notice:
    """A notice of `village` (default v1 with h1, h2) opened today through create -> schedule -> open. Committed."""
    village = db.session.get(Village, (village or w.v1).id)
    if village.centroid_lat is None:
        village.centroid_lat, village.centroid_lng = CENTRE
    households = households if households is not None else [w.h1, w.h2]
    for h in households:
        approved_rating(h, w, **file)
    village = db.session.get(Village, village.id)
    notice = services.create_notice(village, user=w.officer, starts_on=clock.today(), duration_days=days,
                                    posting_place="村委会公告栏", hotline=HOTLINE)
    services.schedule(notice)
    services.open_notice(notice, user=w.secretary, photo=board_photo(), lat=CENTRE[0], lng=CENTRE[1],
                         accuracy_m=8.0)
    db.session.commit()
    return notice


def item_for(notice: Notice, household) -> NoticeItem:
    return db.session.scalar(sa.select(NoticeItem).where(NoticeItem.notice_id == notice.id,
                                                         NoticeItem.household_id == household.id))


def file(notice: Notice, household, *, name: str | None = "李举报", phone: str | None = "13812345678",
         grounds: str = "hidden_debt", text: str = "他家有民间借款没有报", user=None, via: str = "web") -> Objection:
    """An objection through the real use case. Committed."""
    notice = db.session.get(Notice, notice.id)
    objection = objections.file_objection(notice, item_for(notice, household), name=name, phone=phone,
                                          relation="neighbour", grounds=grounds, text=text, via=via, user=user)
    db.session.commit()
    return objection


# ---------------------------------------------------------------- matrix fixtures

def _bare_notice(village) -> Notice:
    """A bare open notice row out of the role's area (only its existence matters: it must answer 404)."""
    notice = Notice(county_id=village.county_id, village_id=village.id, title="外村公示", status="open",
                    starts_on=clock.today(), ends_on=clock.today(), public_token=secrets.token_urlsafe(16))
    db.session.add(notice)
    db.session.flush()
    return notice


def _cache(w) -> dict:
    return w.__dict__.setdefault("_objection_matrix", {})


def in_notice(w) -> Notice:
    cache = _cache(w)
    if "notice" not in cache:
        cache["notice"] = open_notice(w).id
    return db.session.get(Notice, cache["notice"])


def _out_village(w, role):
    return {"hq_admin": w.vb, "auditor": w.vb, "village_secretary": w.v2}.get(role, w.v3)


def out_notice(w, role) -> Notice:
    cache = _cache(w)
    village = _out_village(w, role)
    key = f"out-notice-{village.id}"
    if key not in cache:
        cache[key] = _bare_notice(village).id
        db.session.commit()
    return db.session.get(Notice, cache[key])


def out_objection(w, role) -> Objection:
    cache = _cache(w)
    village = _out_village(w, role)
    key = f"out-objection-{village.id}"
    if key not in cache:
        notice = out_notice(w, role)
        objection = Objection(county_id=village.county_id, village_id=village.id, notice_id=notice.id,
                              receipt_no=services.new_receipt(), grounds="other", text="外村", status="received")
        db.session.add(objection)
        db.session.commit()
        cache[key] = objection.id
    return db.session.get(Objection, cache[key])


def _version_one(objection: Objection) -> int:
    db.session.execute(sa.update(Objection).where(Objection.id == objection.id).values(version=1))
    db.session.commit()
    return objection.id


def notice_ids(w, role):
    return in_notice(w).id, out_notice(w, role).id


def token_ids(w, role):
    return in_notice(w).public_token, "no-such-notice-token"


def _objection_ids(make):
    def ids(w, role):
        notice = in_notice(w)
        return make(w, role, notice), out_objection(w, role).id
    return ids


def _received(w, role, notice):
    return _version_one(file(notice, w.h1))


def _decided_named(w, role, notice):
    objection = file(notice, w.h1)
    objections.decide(objection, user=w.officer, decision="rejected", reason="经走访核实, 无民间借款")
    db.session.commit()
    return _version_one(objection)


def _pending_rerating(w, role, notice):
    """An upheld objection whose re-rating (proposed by the officer) waits for approval: h1 for the branch
    manager, h2 for head office (one pending re-rating per household)."""
    household = w.h2 if role == "hq_admin" else w.h1
    objection = file(notice, household)
    objections.decide(objection, user=w.officer, decision="upheld", reason="核实有隐瞒负债", change=True)
    db.session.commit()
    return _version_one(objection)


FORM = {"identity": "anonymous", "relation": "neighbour", "grounds": "other", "text": "纸质异议",
        "received_via": "paper", "item": "1", "idem_key": "k{role}{id}"}

ROUTES = {
    "notices.public_notice": Route("GET", "/n/{id}", set(ROLES), ids=token_ids, public=True),
    "notices.public_object": Route("GET", "/n/{id}/object", set(ROLES), ids=token_ids, public=True),
    "notices.public_status": Route("GET", "/n/status", set(ROLES), public=True),
    "notices.objection_list": Route("GET", "/notices/{id}/objections", READ, ids=notice_ids),
    "notices.objection_record": Route("POST", "/notices/{id}/objections", RECORD, ok=303, ids=notice_ids, data=FORM),
    "notices.objection_detail": Route("GET", "/objections/{id}", READ, ids=_objection_ids(_received)),
    "notices.objection_assign": Route("POST", "/objections/{id}/assign", HANDLE, ok=303,
                                      ids=_objection_ids(_received), data={"version": "1"}),
    "notices.objection_investigate": Route("POST", "/objections/{id}/investigate", HANDLE, ok=303,
                                           ids=_objection_ids(_received), data={"version": "1", "notes": "已走访"}),
    "notices.objection_decide": Route("POST", "/objections/{id}/decide", HANDLE, ok=303,
                                      ids=_objection_ids(_received),
                                      data={"version": "1", "decision": "rejected", "reason": "经核实不属实"}),
    "notices.objection_approve": Route("POST", "/objections/{id}/approve", APPROVE, ok=303,
                                       ids=_objection_ids(_pending_rerating), data={"version": "1"}),
    "notices.objection_withdraw": Route("POST", "/objections/{id}/withdraw", HANDLE, ok=303,
                                        ids=_objection_ids(_received), data={"version": "1", "note": "本人电话撤回"}),
    "notices.objection_reply_letter": Route("GET", "/objections/{id}/reply.pdf", REPLY,
                                            ids=_objection_ids(_decided_named)),
    "notices.objection_replied": Route("POST", "/objections/{id}/replied", REPLY, ok=303,
                                       ids=_objection_ids(_decided_named),
                                       data={"version": "1", "channel": "in_person",
                                             "replied_on": date.today().isoformat()}),
}
