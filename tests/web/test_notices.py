"""Notice batches through the real stack: who is listed, opening with the posting photo (N-3), the frozen snapshot,
the printed A4 sheet (pdftotext, pdftoppm + zxing-cpp), closing and finalising by the calendar (N-7, N-8), the
supplementary re-notice (N-10), private letters (N-5), stale forms and idempotent creates."""
from __future__ import annotations

import io
import re
import subprocess
from datetime import datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa
from flask_babel import force_locale
from flask_babel import gettext

from fieldapp.core import clock, jobs
from fieldapp.extensions import db
from fieldapp.households.models import Household, Member
from fieldapp.notices import rules
from fieldapp.notices import services as notices
from fieldapp.notices.models import Notice, NoticeItem, Objection, PrivateNotice
from fieldapp.ratings import services as ratings
from fieldapp.ratings.models import Rating
from tests.conftest import HX, login
from tests.support.ratings import accept_file
from tests.support.routes_notices import (CENTRE, LOW_FILE, VETO_FILE, approved_rating, consent, draft, jpeg,
                                          listed_household, new_household, open_now, with_centre)


def client_for(app, user):
    client = app.test_client()
    login(client, user)
    return client


def text(resp) -> str:
    return resp.get_data(as_text=True)


def pdftext(data: bytes, page: int | None = None) -> str:
    args = ["-f", str(page), "-l", str(page)] if page else []
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", *args, "-", "-"], input=data, capture_output=True,
                         check=True, timeout=120).stdout.decode()
    return re.sub(r"\s+", "", out)


def pdf_pages(data: bytes) -> int:
    out = subprocess.run(["pdfinfo", "-"], input=data, capture_output=True, check=True, timeout=60).stdout.decode()
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


def zh(msgid: str, **values) -> str:
    """A msgid as the default (Chinese) locale prints it, whether or not the catalogue has it yet."""
    with force_locale("zh_CN"):
        return re.sub(r"\s+", "", gettext(msgid, **values))


def move_to(app, day, hour: int = 9) -> None:
    """Set the test clock to `hour`:00 Asia/Shanghai on `day`."""
    clock.set_now(app, datetime.combine(day, time(hour, 0), tzinfo=timezone(timedelta(hours=8))))


def objection(item: NoticeItem, *, status: str = "received", within: bool = True, **values) -> Objection:
    row = Objection(county_id=item.county_id, village_id=item.village_id, group_id=item.group_id,
                    notice_id=item.notice_id, item_id=item.id, household_id=item.household_id,
                    receipt_no=notices.new_receipt(), grounds="hidden_debt", text="隐瞒民间借款",
                    within_window=within, status=status, **values)
    db.session.add(row)
    db.session.commit()
    return row


# ---------------------------------------------------------------- who is listed (N-4, N-5, §4.2)

def test_a_new_notice_lists_only_consented_approved_ratings_and_writes_private_notices(app, world):
    a = listed_household(world, world.v1, head="王小明")
    b = listed_household(world, world.v1, head="额尔敦图雅", group=1)
    no_consent = new_household(world.v1, head="李无同意")
    approved_rating(world, no_consent, with_consent=False)
    refused = new_household(world.v1, head="赵拒绝")
    approved_rating(world, refused, with_consent=False)
    consent(refused, method="refused")
    vetoed = new_household(world.v1, head="钱否决")
    approved_rating(world, vetoed, **VETO_FILE)
    low = new_household(world.v1, head="孙低分")
    approved_rating(world, low, **LOW_FILE)
    from tests.support.routes_ratings import reviewed_rating
    not_approved = new_household(world.v1, head="周未批")
    reviewed_rating(not_approved, world.officer)
    consent(not_approved)
    elsewhere = listed_household(world, world.v3)  # another village

    officer = client_for(app, world.officer)
    page = officer.get(f"/villages/{world.v1.id}/notices/new")
    assert page.status_code == 200
    resp = officer.post(f"/villages/{world.v1.id}/notices/new", data={
        "starts_on": clock.today().isoformat(), "duration_days": "7", "posting_place": "村委会公示栏",
        "hotline": "0872-1234567", "idem_key": "create-notice-1"})
    assert resp.status_code == 303, text(resp)[:2000]
    notice = db.session.scalar(sa.select(Notice).where(Notice.village_id == world.v1.id))
    assert notice.status == "draft" and notice.ends_on == clock.today() + timedelta(days=6)
    assert notice.title == "金星村农户信用评级授信结果公示"
    items = {i.household_id: i for i in notice.items}
    assert set(items) == {a.id, b.id}
    assert items[a.id].display_name == "王*明" and items[b.id].display_name == "额***雅"
    assert items[a.id].group_name == "一组" and items[b.id].group_name == "二组"
    rating_a = ratings.live_rating(a.id)
    assert items[a.id].grade == rating_a.effective_grade and items[a.id].line_fen == rating_a.effective_line_fen
    assert items[a.id].program == "standard" and items[a.id].status == "listed"
    privates = {p.household_id: p for p in db.session.scalars(sa.select(PrivateNotice))}
    assert set(privates) == {vetoed.id, low.id}
    assert privates[vetoed.id].reasons == ["arrears"] and privates[low.id].reasons == ["below_60"]
    assert elsewhere.id not in items
    # the notice page lists masked names only, with the private notices
    body = text(officer.get(f"/notices/{notice.id}"))
    assert "王*明" in body and "王小明" not in body and "钱*决" in body and "钱否决" not in body
    # a second draft lists nobody twice
    resp = officer.post(f"/villages/{world.v1.id}/notices/new", data={
        "duration_days": "7", "posting_place": "村委会公示栏", "hotline": "0872-1234567", "idem_key": "create-notice-2"})
    assert resp.status_code == 422
    assert zh("No household can be listed: the notice needs approved ratings of households that consented to the "
              "public notice.") in re.sub(r"\s+", "", text(resp))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 1


def test_create_is_idempotent_and_checks_the_duration(app, world):
    listed_household(world, world.v1)
    officer = client_for(app, world.officer)
    form = {"duration_days": "4", "posting_place": "村委会公示栏", "hotline": "0872-1234567", "idem_key": "idem-n-1"}
    resp = officer.post(f"/villages/{world.v1.id}/notices/new", data=form)
    assert resp.status_code == 422 and zh("A notice lasts from %(low)d to %(high)d days.", low=5, high=15) in \
        re.sub(r"\s+", "", text(resp))
    form["duration_days"] = "16"
    assert officer.post(f"/villages/{world.v1.id}/notices/new", data=form).status_code == 422
    form["duration_days"] = "15"
    first = officer.post(f"/villages/{world.v1.id}/notices/new", data=form)
    again = officer.post(f"/villages/{world.v1.id}/notices/new", data=form)
    assert first.status_code == again.status_code == 303
    assert again.headers["Location"] == first.headers["Location"] and again.headers.get("Idempotent-Replayed")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Notice)) == 1
    htmx = officer.post(f"/villages/{world.v1.id}/notices/new", data=dict(form, idem_key="idem-n-2"), headers=HX)
    assert htmx.status_code == 422  # nobody left to list


def test_the_village_secretary_reads_and_prints_but_does_not_draft(app, world):
    listed_household(world, world.v1)
    notice = draft(world, world.v1)
    secretary = client_for(app, world.secretary)
    assert secretary.get(f"/villages/{world.v1.id}/notices").status_code == 200
    assert notice.title in text(secretary.get(f"/villages/{world.v1.id}/notices"))
    assert secretary.get(f"/notices/{notice.id}").status_code == 200
    assert secretary.get(f"/notices/{notice.id}/sheet").status_code == 200
    assert secretary.get(f"/villages/{world.v1.id}/notices/new").status_code == 403
    assert secretary.post(f"/notices/{notice.id}/schedule", data={"version": str(notice.version)}).status_code == 403
    assert client_for(app, world.panel).get(f"/notices/{notice.id}").status_code == 403


# ---------------------------------------------------------------- opening (N-3)

def _scheduled(app, world, households: int = 2) -> Notice:
    for _ in range(households):
        listed_household(world, world.v1)
    notice = draft(world, world.v1)
    officer = client_for(app, world.officer)
    resp = officer.post(f"/notices/{notice.id}/schedule", data={"version": str(notice.version)})
    assert resp.status_code == 303
    db.session.refresh(notice)
    assert notice.status == "scheduled"
    return notice


def test_opening_needs_the_photo_inside_the_village_then_freezes_the_snapshot(app, world):
    notice = _scheduled(app, world)
    officer = client_for(app, world.officer)
    url = f"/notices/{notice.id}/open"

    def post(**extra):
        data = {"version": str(db.session.get(Notice, notice.id).version), "gps_lat": str(CENTRE[0]),
                "gps_lng": str(CENTRE[1]), "gps_accuracy_m": "12"}
        data.update(extra)
        return officer.post(url, data=data, content_type="multipart/form-data")

    resp = post(photo=(io.BytesIO(jpeg()), "board.jpg"))
    assert resp.status_code == 422 and zh("This village has no location on record, so the posting cannot be "
                                          "checked. Ask head office to set the village's centre point first.")[:12] \
        in re.sub(r"\s+", "", text(resp))
    with_centre(world.v1)
    resp = post()
    assert resp.status_code == 422
    assert zh("Take a photo of the notice on the village board: it opens only with that photo.") in \
        re.sub(r"\s+", "", text(resp))
    resp = post(photo=(io.BytesIO(b"not a photo"), "x.jpg"))
    assert resp.status_code == 422
    far = CENTRE[0] + 0.02  # about 2.2 km north
    resp = post(photo=(io.BytesIO(jpeg()), "board.jpg"), gps_lat=str(far))
    assert resp.status_code == 422 and re.search(r"222\d", text(resp))
    resp = post(photo=(io.BytesIO(jpeg()), "board.jpg"), gps_lat="", gps_lng="")
    assert resp.status_code == 422
    db.session.expire_all()
    assert db.session.get(Notice, notice.id).status == "scheduled"
    assert all(r.status == "approved" for r in db.session.scalars(sa.select(Rating).where(
        Rating.id.in_([i.rating_id for i in db.session.get(Notice, notice.id).items]))))

    near = CENTRE[0] + 0.01  # about 1.1 km: inside 1500 m
    resp = post(photo=(io.BytesIO(jpeg()), "board.jpg"), gps_lat=str(near))
    assert resp.status_code == 303, text(resp)[:3000]
    db.session.expire_all()
    n = db.session.get(Notice, notice.id)
    assert n.status == "open" and n.starts_on == clock.today() and n.opened_at and n.posted_by == world.officer.id
    assert 1100 < n.posting_distance_m < 1125 and n.posting_accuracy_m == 12
    assert n.snapshot["notice"]["title"] == n.title and len(n.snapshot["items"]) == 2
    assert n.content_hash == rules.content_hash(n.snapshot)
    assert {i["display_name"] for i in n.snapshot["items"]} == {i.display_name for i in n.items}
    assert "head_name" not in str(n.snapshot) and all(set(i) == set(rules.SNAPSHOT_ITEM_FIELDS)
                                                       for i in n.snapshot["items"])
    for item in n.items:
        assert db.session.get(Rating, item.rating_id).status == "on_notice"
    photo = officer.get(f"/notices/{n.id}/posting-photo")
    assert photo.status_code == 200 and photo.data[:3] == b"\xff\xd8\xff"
    assert officer.get(f"/notices/{n.id}/posting-photo?thumb=1").status_code == 200
    # opening twice is refused: the notice is already open
    again = post(photo=(io.BytesIO(jpeg()), "board.jpg"))
    assert again.status_code == 409


def test_opening_before_the_first_day_is_refused_and_a_late_opening_moves_the_window(app, world):
    listed_household(world, world.v1)
    with_centre(world.v1)
    notice = draft(world, world.v1, starts_on=clock.today() + timedelta(days=2))
    notices.schedule(notice)
    db.session.commit()
    with pytest.raises(notices.Refused) as exc:
        notices.open_notice(notice, user=world.officer, photo=jpeg(), lat=CENTRE[0], lng=CENTRE[1], accuracy_m=5)
    assert exc.value.code == "early"
    db.session.rollback()
    move_to(app, clock.today() + timedelta(days=4))
    notice = db.session.get(Notice, notice.id)
    notices.open_notice(notice, user=world.officer, photo=jpeg(), lat=CENTRE[0], lng=CENTRE[1], accuracy_m=5)
    db.session.commit()
    assert notice.starts_on == clock.today() and notice.ends_on == clock.today() + timedelta(days=6)
    assert notice.snapshot["notice"]["starts_on"] == clock.today().isoformat()


def test_a_stale_form_gets_409_with_the_other_change(app, world):
    listed_household(world, world.v1)
    notice = draft(world, world.v1)
    old = str(notice.version)
    manager = client_for(app, world.manager)
    officer = client_for(app, world.officer)
    assert manager.post(f"/notices/{notice.id}/schedule", data={"version": old}).status_code == 303
    resp = officer.post(f"/notices/{notice.id}/cancel", data={"version": old, "reason": "名单有误"})
    assert resp.status_code == 409
    body = text(resp)
    assert zh("Scheduled") in re.sub(r"\s+", "", body)
    assert 'name="reason"' in body and "名单有误" in body  # the form is kept
    db.session.expire_all()
    assert db.session.get(Notice, notice.id).status == "scheduled"
    resp = officer.post(f"/notices/{notice.id}/schedule", data={"version": old}, headers=HX)
    assert resp.status_code == 409
    # with the current version the cancel goes through, and needs a reason
    current = str(db.session.get(Notice, notice.id).version)
    assert officer.post(f"/notices/{notice.id}/cancel", data={"version": current, "reason": ""}).status_code == 422
    assert officer.post(f"/notices/{notice.id}/cancel", data={"version": current, "reason": "名单有误"}).status_code \
        == 303
    db.session.expire_all()
    n = db.session.get(Notice, notice.id)
    assert n.status == "cancelled" and n.cancel_reason == "名单有误"
    # its households can be listed again
    assert len(notices.eligible_ratings(world.v1)) == 1


# ---------------------------------------------------------------- the printed sheet

def test_the_sheet_pdf_shows_masked_names_header_footer_qr_and_no_personal_data(app, world, tmp_path):
    import zxingcpp
    from PIL import Image
    a = listed_household(world, world.v1, head="王小明")
    b = listed_household(world, world.v1, head="欧阳春花", group=1)
    for h in (a, b):
        db.session.get(Household, h.id).phone = "13812345678"
    db.session.commit()
    notice = open_now(world, draft(world, world.v1))
    resp = client_for(app, world.secretary).get(f"/notices/{notice.id}/sheet.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    flat = pdftext(resp.data)
    assert "王*明" in flat and "欧**花" in flat
    assert notice.title in flat and "金华支行" in flat and "农村商业银行" in flat
    assert notice.ends_on.isoformat() in flat and "0872-1234567" in flat
    assert f"http://fieldapp.test/n/{notice.public_token}" in flat
    pages = pdf_pages(resp.data)
    assert f"第1页共{pages}页" in flat
    assert zh("Village secretary (signature)") in flat and zh("Bank (seal and signature)") in flat
    assert "内部" not in flat
    for h in (a, b):
        head = db.session.get(Household, h.id)
        assert head.head_name not in flat
        for member in db.session.scalars(sa.select(Member).where(Member.household_id == h.id)):
            assert member.id_number not in flat and member.id_number[-4:] not in flat
    assert "13812345678" not in flat and "5678" not in flat
    assert not re.search(r"\d{17}[\dX]", flat) and not re.search(r"1\d{10}", flat)
    # the QR code decodes to the public page
    (tmp_path / "sheet.pdf").write_bytes(resp.data)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(tmp_path / "sheet.pdf"),
                    str(tmp_path / "page")], check=True, timeout=120)
    [png] = list(tmp_path.glob("page*.png"))
    found = [r.text for r in zxingcpp.read_barcodes(Image.open(png))]
    assert notices.public_url(notice) in found
    # the HTML print view shows the same, without inline styles or scripts
    html = text(client_for(app, world.officer).get(f"/notices/{notice.id}/sheet"))
    assert "王*明" in html and "王小明" not in html and "<script" not in html and "style=" not in html


def test_a_60_household_sheet_repeats_the_table_header_on_every_page(app, world):
    for i in range(60):
        h = new_household(world.v1, group=i % 2)
        # quicker than a rating each: approved rows straight from one reviewed template would share a file,
        # so every household gets its own (small) file through the real workflow
        approved_rating(world, h)
    notice = draft(world, world.v1)
    resp = client_for(app, world.officer).get(f"/notices/{notice.id}/sheet.pdf")
    pages = pdf_pages(resp.data)
    assert pages >= 2
    header = zh("Approved credit line")
    everything = pdftext(resp.data)
    with_rows = 0
    for page in range(1, pages + 1):
        flat = pdftext(resp.data, page)
        assert f"第{page}页共{pages}页" in flat
        if any(item.display_name in flat for item in notice.items):
            with_rows += 1
            assert header in flat and zh("Credit grade") in flat, page
    assert with_rows >= 2
    for item in notice.items:
        assert item.display_name in everything


def test_the_sheet_prints_the_frozen_snapshot_after_ratings_and_names_change(app, world):
    h = listed_household(world, world.v1, head="王小明")
    notice = open_now(world, draft(world, world.v1))
    frozen, digest = dict(notice.snapshot), notice.content_hash
    before = pdftext(client_for(app, world.officer).get(f"/notices/{notice.id}/sheet.pdf").data)
    # the head's name and the rating change after posting
    db.session.get(Household, h.id).head_name = "李大强"
    rating = ratings.live_rating(h.id)
    rating.approved_line_fen = 123_400_00
    item = notice.items[0]
    item.display_name = "李*强"
    db.session.commit()
    after = pdftext(client_for(app, world.officer).get(f"/notices/{notice.id}/sheet.pdf").data)
    db.session.expire_all()
    n = db.session.get(Notice, notice.id)
    assert n.snapshot == frozen and n.content_hash == digest == rules.content_hash(n.snapshot)
    assert "王*明" in after and "李*强" not in after and "123,400" not in after
    assert re.sub(r"\d{4}-\d{2}-\d{2}\d{2}:\d{2}", "", after) == re.sub(r"\d{4}-\d{2}-\d{2}\d{2}:\d{2}", "", before)


# ---------------------------------------------------------------- closing and finalising (W4, N-7, N-8)

def test_nothing_closes_early_and_after_the_last_day_items_become_final(app, world):
    for _ in range(3):
        listed_household(world, world.v1)
    notice = open_now(world, draft(world, world.v1))
    last = notice.ends_on
    move_to(app, last, hour=23)  # 23:00 on the last day: still open
    assert notices.refresh(notice) is False and notice.status == "open"
    assert jobs.tick()["notices.close"] == 0
    move_to(app, last + timedelta(days=1), hour=0)
    officer = client_for(app, world.officer)
    page = officer.get(f"/notices/{notice.id}")  # closes on read
    assert page.status_code == 200
    db.session.expire_all()
    n = db.session.get(Notice, notice.id)
    assert n.status == "finalised" and n.closed_at and n.finalised_at
    assert all(i.status == "final" and i.final_at for i in n.items)
    assert all(db.session.get(Rating, i.rating_id).status == "final" for i in n.items)
    assert notices.refresh(n) is False  # idempotent


def test_an_open_objection_blocks_only_its_household_and_a_complaint_blocks_nothing(app, world):
    for _ in range(3):
        listed_household(world, world.v1)
    notice = open_now(world, draft(world, world.v1))
    blocked, complained, plain = notice.items
    open_one = objection(blocked)
    objection(complained, within=False)                      # N-7: a late complaint
    objection(plain, status="decided", decision="rejected")  # decided: no longer blocks
    assert notices.open_objections(blocked) == [open_one]
    assert notices.open_objections(complained) == [] and notices.open_objections(plain) == []
    page = text(client_for(app, world.officer).get(f"/notices/{notice.id}"))
    assert f"/notices/{notice.id}/objections?item={blocked.id}" in page
    move_to(app, notice.ends_on + timedelta(days=1))
    assert jobs.tick()["notices.close"] == 1
    db.session.expire_all()
    n = db.session.get(Notice, notice.id)
    status = {i.id: i.status for i in n.items}
    assert n.status == "closed"
    assert status == {blocked.id: "listed", complained.id: "final", plain.id: "final"}
    assert db.session.get(Rating, blocked.rating_id).status == "on_notice"
    # the objection is rejected: the next tick finalises the rest
    row = db.session.get(Objection, open_one.id)
    row.status, row.decision, row.decision_reason = "decided", "rejected", "经走访核实无此事"
    db.session.commit()
    assert jobs.tick()["notices.close"] == 1
    db.session.expire_all()
    n = db.session.get(Notice, notice.id)
    assert n.status == "finalised" and all(i.status == "final" for i in n.items)


# ---------------------------------------------------------------- the supplementary re-notice (N-10)

def test_an_upheld_objection_leads_to_a_supplement_that_amends_the_item(app, world):
    h = listed_household(world, world.v1, head="王小明")
    other = listed_household(world, world.v1)
    notice = open_now(world, draft(world, world.v1))
    item = next(i for i in notice.items if i.household_id == h.id)
    old = db.session.get(Rating, item.rating_id)
    old_grade, old_line = item.grade, item.line_fen
    # the investigation finds a private loan: a new file version, re-rated and approved by a second person
    accept_file(db.session.get(Household, h.id),
                debts=[{"balance": 60000, "kind": "private", "lender_type": "person"}])
    new = ratings.propose_rerating(old, user_id=world.officer.id)
    obj = objection(item, status="decided", decision="upheld", decision_reason="查实民间借款6万元",
                    rerating_id=new.id)
    db.session.commit()
    assert notices.blocking_objections(item) == [obj]  # the re-rating waits for approval: the item waits
    ratings.approve_rerating(new, world.manager)
    db.session.commit()
    assert new.status == "re_notice" and old.status == "superseded"
    supplement = notices.create_supplement(notice, [(item, new)], user=world.officer)
    db.session.commit()
    assert supplement.supplement and supplement.parent_id == notice.id and supplement.status == "draft"
    assert supplement.duration_days == 3 and "补充公示" in supplement.title
    [amended] = supplement.items
    assert amended.amended and amended.display_name == "王*明" and amended.rating_id == new.id
    assert amended.grade == new.effective_grade and amended.line_fen == new.effective_line_fen
    assert amended.amendment_note == rules.amendment_note(old_grade, old_line, new.effective_grade,
                                                          new.effective_line_fen)
    assert item.status == "changed"
    # a second call for the same household reuses the draft
    assert notices.create_supplement(notice, [(item, new)], user=world.officer).id == supplement.id
    assert len(db.session.get(Notice, supplement.id).items) == 1

    page = text(client_for(app, world.officer).get(f"/notices/{supplement.id}"))
    assert "王*明" in page and amended.amendment_note in page
    open_now(world, supplement)
    assert supplement.status == "open" and supplement.ends_on == clock.today() + timedelta(days=2)
    sheet = pdftext(client_for(app, world.officer).get(f"/notices/{supplement.id}/sheet.pdf").data)
    assert "王*明" in sheet and re.sub(r"\s+", "", amended.amendment_note) in sheet
    # the parent closes after 7 days with the other item final; the supplement after its 3 days
    move_to(app, notice.ends_on + timedelta(days=1))
    jobs.tick()
    db.session.expire_all()
    parent = db.session.get(Notice, notice.id)
    assert parent.status == "finalised"
    assert {i.household_id: i.status for i in parent.items} == {h.id: "changed", other.id: "final"}
    assert db.session.get(Notice, supplement.id).status == "finalised"  # its 3 days ended earlier
    assert db.session.get(Rating, new.id).status == "final"


def test_a_re_rating_that_ends_not_rated_gets_a_private_notice_instead(app, world):
    h = listed_household(world, world.v1)
    listed_household(world, world.v1)
    notice = open_now(world, draft(world, world.v1))
    item = next(i for i in notice.items if i.household_id == h.id)
    new = ratings.propose_rerating(db.session.get(Rating, item.rating_id), user_id=world.officer.id,
                                   set_aside_committee=True)
    new.grade, new.vetoes = "not_rated", ["usurer"]
    ratings.approve_rerating(new, world.manager)
    db.session.commit()
    assert notices.create_supplement(notice, [(item, new)], user=world.officer) is None
    db.session.commit()
    assert item.status == "changed"
    private = db.session.scalar(sa.select(PrivateNotice).where(PrivateNotice.household_id == h.id))
    assert private.notice_id == notice.id and private.reasons == ["usurer"]


# ---------------------------------------------------------------- private letters (N-5)

def test_the_private_letter_is_masked_and_its_delivery_is_recorded_by_the_secretary(app, world):
    listed_household(world, world.v1)
    vetoed = new_household(world.v1, head="钱多多")
    approved_rating(world, vetoed, **VETO_FILE)
    notice = draft(world, world.v1)
    [private] = db.session.scalars(sa.select(PrivateNotice).where(PrivateNotice.notice_id == notice.id)).all()
    secretary = client_for(app, world.secretary)
    resp = secretary.get(f"/notices/{notice.id}/private/{private.id}.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    flat = pdftext(resp.data)
    assert "钱*多" in flat and "钱多多" not in flat
    from fieldapp.ratings.rules import VETO_LABELS
    assert zh(VETO_LABELS["arrears"]) in flat and "0872-1234567" in flat
    assert notice.ends_on.isoformat() in flat
    db.session.expire_all()
    assert db.session.get(PrivateNotice, private.id).printed_at is not None
    version = str(db.session.get(PrivateNotice, private.id).version)
    resp = secretary.post(f"/notices/{notice.id}/private/{private.id}/delivered",
                          data={"version": version, "note": "交户主本人"})
    assert resp.status_code == 303
    db.session.expire_all()
    p = db.session.get(PrivateNotice, private.id)
    assert p.delivered_at and p.delivered_by == world.secretary.id and p.delivery_note == "交户主本人"
    stale = secretary.post(f"/notices/{notice.id}/private/{private.id}/delivered",
                           data={"version": version, "note": "again"})
    assert stale.status_code == 409
    # a private notice is reachable only through its own notice
    assert secretary.get(f"/notices/{notice.id + 1000}/private/{private.id}.pdf").status_code == 404


def test_junk_to_the_notice_forms_never_500s(app, world):
    listed_household(world, world.v1)
    notice = draft(world, world.v1)
    officer = client_for(app, world.officer)
    for data in ({}, {"version": "abc"}, {"version": "1" * 30}, {"version": "999", "reason": "\x00"},
                 {"duration_days": "x", "idem_key": "junk-key-1"},
                 {"duration_days": "7", "starts_on": "2020-99-99", "posting_place": "a", "hotline": "1",
                  "idem_key": "junk-key-2"},
                 {"duration_days": "7", "starts_on": "2000-01-01", "posting_place": "a", "hotline": "1",
                  "idem_key": "junk-key-3"}):
        for url in (f"/notices/{notice.id}/schedule", f"/notices/{notice.id}/cancel", f"/notices/{notice.id}/open",
                    f"/villages/{world.v1.id}/notices/new"):
            resp = officer.post(url, data=data)
            assert resp.status_code in (400, 409, 422), (url, data, resp.status_code)
    resp = officer.post(f"/notices/{notice.id}/cancel", data={"version": str(notice.version), "reason": "\x00"})
    assert resp.status_code == 422
