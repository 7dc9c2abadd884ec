"""`flask demo load`: the notices layer posts an open notice with objections in every state, a finalised one with a
late complaint, and a re-notice, all through the real services; ratings stay consistent with their items; a second
run adds nothing; the pages show them."""
from __future__ import annotations

import sqlalchemy as sa

from fieldapp.core.audit import AuditEvent
from fieldapp.extensions import db
from fieldapp.notices import services
from fieldapp.notices.models import Notice, NoticeItem, Objection, PrivateNotice
from fieldapp.org.models import Village
from fieldapp.ratings.models import Rating
from fieldapp.visits import store
from tests.conftest import login

ITEM_RATING = {"listed": {"on_notice", "re_notice"}, "objected": {"on_notice"}, "final": {"final"},
               "changed": {"superseded"}}


def run_demo(app, *args):
    result = app.test_cli_runner().invoke(args=["demo", "load", *args])
    db.session.remove()
    assert result.exit_code == 0, result.output
    return result


def counts() -> dict[str, int]:
    return {m.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (Notice, NoticeItem, Objection, PrivateNotice, Rating, AuditEvent)}


def notices_by_role() -> dict[str, Notice]:
    rows = db.session.scalars(sa.select(Notice).order_by(Notice.id)).all()
    parents = [n for n in rows if not n.supplement]
    supplement = next(n for n in rows if n.supplement)
    renotice = db.session.get(Notice, supplement.parent_id)
    [open_] = [n for n in parents if n.status == "open"]
    [finalised] = [n for n in parents if n.status == "finalised" and n.id != renotice.id]
    return {"open": open_, "finalised": finalised, "renotice": renotice, "supplement": supplement}


def check_items(notice: Notice) -> None:
    for item in notice.items:
        rating = db.session.get(Rating, item.rating_id)
        assert rating.status in ITEM_RATING[item.status], (notice.id, item.status, rating.status)
        assert rating.household_id == item.household_id


def test_the_demo_posts_three_notices_with_objections_in_every_state(app):
    offset = app.config.get("CLOCK_OFFSET_SECONDS", 0)
    first = run_demo(app, "--households", "1500")
    assert "notices: added 4 notices (open " in first.output, first.output
    assert app.config.get("CLOCK_OFFSET_SECONDS", 0) == offset  # the layer put the clock back
    n = notices_by_role()
    assert len({n["open"].village_id, n["finalised"].village_id, n["renotice"].village_id}) == 3

    # the open notice: in officer1's village, posted with a stored photo at the village centre, frozen
    from fieldapp.accounts.models import User
    from fieldapp.core import access
    officer1 = db.session.scalar(sa.select(User).where(User.username == "officer1"))
    area = access.area_for(officer1)
    assert n["open"].village_id in area.village_ids | area.partial_village_ids
    for notice in n.values():
        village = db.session.get(Village, notice.village_id)
        assert notice.posting_distance_m == 0 and notice.posting_lat == village.centroid_lat
        assert store.get_photo(notice.posting_photo_sha, False)[:2] == b"\xff\xd8"  # a JPEG in the photo store
        assert notice.content_hash and notice.snapshot["items"]
        check_items(notice)
    objections = db.session.scalars(sa.select(Objection).where(Objection.notice_id == n["open"].id)).all()
    assert {o.status for o in objections} == {"received", "investigating", "decided", "replied", "withdrawn"}
    assert {o.decision for o in objections if o.status == "decided"} == {"upheld", "rejected"}
    assert all(o.within_window and o.assigned_to for o in objections)
    upheld = next(o for o in objections if o.decision == "upheld")
    assert db.session.get(Rating, upheld.rerating_id).status == "reviewed"  # waits for the branch manager
    replied = next(o for o in objections if o.status == "replied")
    assert replied.objector_name and replied.reply_printed_at and replied.decision_reason
    assert any(o.visit_id for o in objections if o.status == "investigating")
    blocked = {o.item_id for o in objections if o.status in ("received", "investigating") or o is upheld}
    assert {i.id for i in n["open"].items if i.status == "objected"} == blocked

    # the finalised notice: every item final, and a late complaint that blocks nothing (N-7)
    assert {i.status for i in n["finalised"].items} == {"final"}
    [late] = db.session.scalars(sa.select(Objection).where(Objection.notice_id == n["finalised"].id)).all()
    assert not late.within_window and late.status == "investigating"

    # the re-notice: parent finalised with the item changed; the open supplement lists it amended, on re-notice
    assert n["renotice"].status == "finalised" and n["supplement"].status == "open"
    [changed] = [i for i in n["renotice"].items if i.status == "changed"]
    [amended] = n["supplement"].items
    assert amended.amended and amended.household_id == changed.household_id
    assert (amended.grade, amended.line_fen) != (changed.grade, changed.line_fen)
    assert db.session.get(Rating, amended.rating_id).status == "re_notice"
    [reason] = db.session.scalars(sa.select(Objection).where(Objection.notice_id == n["renotice"].id)).all()
    assert reason.status == "replied" and reason.decision == "upheld" and reason.rerating_id == amended.rating_id

    # a second run adds nothing
    ids = {key: (notice.id, notice.public_token) for key, notice in n.items()}
    receipts = [o.receipt_no for o in objections]
    shown = (amended.display_name, amended.amendment_note)
    before = counts()
    again = run_demo(app, "--households", "1500")
    assert "notices: nothing to add" in again.output
    assert counts() == before

    # the pages show them: officer1 sees the open notice and its objections; the public page lists it
    client = app.test_client()
    login(client, "officer1", "demo1234")
    open_id, open_token = ids["open"]
    assert client.get(f"/notices/{open_id}").status_code == 200
    assert client.get(f"/notices/{open_id}/posting-photo").mimetype == "image/jpeg"
    body = client.get(f"/notices/{open_id}/objections").get_data(as_text=True)
    assert all(receipt in body for receipt in receipts)
    public = app.test_client()
    page = public.get(f"/n/{ids['supplement'][1]}").get_data(as_text=True)
    assert all(text in page for text in shown)
    assert public.get(f"/n/{open_token}").status_code == 200
    assert services.notice_by_token(open_token).id == open_id
