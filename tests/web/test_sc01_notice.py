"""SC-01 replayed end to end with the test clock (domain §5 SC-01, W3, W4 N-1..N-11, issue 6 "Must show").

金星村 (2 groups, 118 households): 110 files accepted, 8 households 外出失联 after 3 attempts. The grid officer
batch-rates the village; a committee of 7 (2 两委, 2 党员中心户, 2 elders, 1 驻村) meets with 6 present, M3 steps
aside for H17; the committee confirms one gambling veto, two files carry unpaid arrears, three score below 60. The
branch manager approves. Day 2 the notice opens with the photo of the posted sheet: 104 listed, 6 private notices.
Objection A (real name, day 4, through the public page) on H23 finds a 60,000 private loan at 2 fen a month: upheld on
day 8, re-rated 84 -> 74, 较好 -> 一般, 100,000 -> 50,000, approved by the branch manager (not the proposer), re-noticed
days 9-11. Objection B (anonymous, day 5) on H40 is rejected on day 6 with a reason and no reply. Objection C (day 11)
is a complaint that blocks nothing. Day 9 the tick makes 103 final; day 12 H23 is final too.

Every expected score is derived here from the facts put in the files and the scoring model (ratings.rules
DEFAULT_MODEL), never written down as a number.
"""
from __future__ import annotations

import html
import io
import re
from datetime import timedelta
from decimal import Decimal

import sqlalchemy as sa

from fieldapp.core import audit, clock, jobs
from fieldapp.core.idempotency import new_key
from fieldapp.core.masking import mask_name
from fieldapp.extensions import db
from fieldapp.households.models import CreditFile, Debt, Household
from fieldapp.notices import rules as notice_rules
from fieldapp.notices import services as notices
from fieldapp.notices.models import Notice, NoticeItem, Objection, PrivateNotice
from fieldapp.ratings import meetings
from fieldapp.ratings import rules as model_rules
from fieldapp.ratings import services as ratings
from fieldapp.ratings.models import Rating, ReviewItem
from fieldapp.visits.models import Consent
from fieldapp.visits.services import VisitInput, record_visit
from tests.support.notices import (CENTRE, HOTLINE, at_day, board_photo, client_for, metres_north, public_client)
from tests.support.ratings import accept_file, ballot, village_user
from tests.support.world import add_household, make_id

MODEL = model_rules.DEFAULT_MODEL
ACCEPTED, LOST = 110, 8
VICE, ARREARS, LOW = (7,), (31, 77), (12, 58, 95)  # H numbers (1-based) of the households not listed
H17, H23, H40, H5 = 17, 23, 40, 5
RECEIPT = re.compile(r'value="([0-9A-Z]{9})"')

# ---------------------------------------------------------------- the files (amounts in yuan)

STANDARD = dict(income=[(60000, "document")], assets=[("house", 150000)])                      # one worker
STRONG = dict(income=[(120000, "document")], assets=[("house", 300000)])                       # two workers
LOW_FILE = dict(labour="none", income=[(2000, "declared")], assets=[])
# H23: two workers, a 40,000 house, 150,000 verified income, a 10,000 bank loan, crop insurance
H23_FILE = dict(income=[(150000, "document")], assets=[("house", 40000)],
                debts=[{"balance": 10000, "kind": "bank", "status": "normal"}], insurance=["agricultural"])
# what the investigation finds (SC-01): 60,000 from a private lender at 月息2分 (24 %/yr), above the lawful cap
PRIVATE_LOAN_FORM = {"kind": "private", "lender_type": "individual", "creditor_name": "放贷人甲",
                     "principal_written": "60000", "balance": "60000", "contract_date": "2024-06-01",
                     "rate_value": "2", "rate_unit": "fen_month", "written_contract": "y", "status": "normal",
                     "source": "village"}


def fen(yuan: int) -> int:
    return yuan * 100


def facts(*, workers: int, assets: int, verified: int = 0, declared: int = 0, debt: int = 0, borrowed: bool = False,
          insured: bool = False, over_cap: int = 0, file_vetoes=(), flags=()) -> model_rules.Facts:
    """The facts the scoring model sees in such a file (yuan in, fen out), written out by hand."""
    counted = fen(verified) + int(Decimal(fen(declared)) * Decimal(MODEL["declared_income_factor"]))
    return model_rules.Facts(members=max(workers, 1), labour_count=workers, asset_value_fen=fen(assets),
                             verified_income_fen=fen(verified), declared_income_fen=fen(declared),
                             net_income_fen=counted, debt_fen=fen(debt), has_borrowed=borrowed,
                             over_cap_loans=over_cap, insured=insured, file_vetoes=tuple(file_vetoes),
                             committee_flags=tuple(flags))


def all_yes(voters: int, **no) -> model_rules.CharacterTally:
    return model_rules.CharacterTally(yes={c: voters - no.get(c, 0) for c in model_rules.CHECKLIST}, voters=voters)


def expected(n: int, rerated: bool = False) -> model_rules.Result:
    """What the model gives household H<n> after the meeting (6 voters, 5 for H17; 4 flag gambling on H7)."""
    voters = 5 if n == H17 else 6
    if n == H23:
        f = facts(workers=2, assets=40000, verified=150000, debt=70000 if rerated else 10000, borrowed=True,
                  insured=True, over_cap=1 if rerated else 0)
    elif n in LOW:
        f = facts(workers=0, assets=0, declared=2000)
    elif n in ARREARS:
        f = facts(workers=1, assets=150000, verified=60000, file_vetoes=("arrears",))
    elif n in VICE:
        f = facts(workers=1, assets=150000, verified=60000, flags=("vice",))
        return model_rules.score(f, MODEL, character=all_yes(voters, no_vice=4), committee_vetoes=("vice",))
    elif n % 10 == 0:
        f = facts(workers=2, assets=300000, verified=120000)
    else:
        f = facts(workers=1, assets=150000, verified=60000)
    return model_rules.score(f, MODEL, character=all_yes(voters))


SURNAMES, LAST = "李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑", "福贵荣昌顺兴"


def head_name(n: int) -> str:
    """Distinct heads whose masked names differ too (李*福, 张*福 ...): the public list can be checked name by name."""
    return SURNAMES[n % len(SURNAMES)] + "德" + LAST[n // len(SURNAMES)]


def build_file(village, group, n: int) -> Household:
    """H<n> with its members (two workers or one), an accepted file through the real workflow and the consents."""
    birth = f"19{70 + n % 20:02d}0{1 + n % 9}1{n % 10}"
    head = "王建明" if n == H23 else head_name(n)
    members = [(head, "head", make_id("532931", birth, n))]
    two = n == H23 or (n % 10 == 0 and n not in VICE + ARREARS + LOW)
    if two:
        members.append((f"配偶{n:03d}", "spouse", make_id("532931", f"19{72 + n % 20:02d}0{1 + n % 9}2{n % 10}",
                                                          500 + n)))
    h = add_household(village, group, f"H{n:03d}", members)
    spec = (H23_FILE if n == H23 else LOW_FILE if n in LOW else dict(STANDARD, negative=["arrears"]) if n in ARREARS
            else dict(STANDARD, negative=["vice"]) if n in VICE else STRONG if two else STANDARD)
    accept_file(h, **spec)
    kinds = ["notice"] + (["collect", "credit_query"] if n == H23 else [])  # H23's file is re-submitted later
    for kind in kinds:
        db.session.add(Consent(household_id=h.id, kind=kind, method="signature", signed_at=clock.utcnow_naive()))
    if n == H23:
        # V-1 for the re-submission: the sections without rows are recorded as "无"
        db.session.get(Household, h.id).declared_none = ["land", "livestock", "expenses", "negative"]
    db.session.commit()
    return db.session.get(Household, h.id)


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def fresh(model, id_):
    db.session.expire_all()
    return db.session.get(model, id_)


def item_of(notice_id: int, household: Household) -> NoticeItem:
    db.session.expire_all()
    return db.session.scalar(sa.select(NoticeItem).where(NoticeItem.notice_id == notice_id,
                                                         NoticeItem.household_id == household.id))


def open_through_the_web(poster_client, notice_id: int, lat: float, lng: float):
    """The posting user opens the notice with the photo of the sheet on the board (GPS in its EXIF and the phone's)."""
    version = str(fresh(Notice, notice_id).version)
    return poster_client.post(f"/notices/{notice_id}/open", content_type="multipart/form-data", data={
        "version": version, "photo": (io.BytesIO(board_photo(lat, lng)), "board.jpg"), "gps_lat": str(lat),
        "gps_lng": str(lng), "gps_accuracy_m": "9"})


def object_publicly(app, notice: Notice, item: NoticeItem, full_names: list[str], **fields):
    """Scan the QR (the public page), open the form for the household, send it; returns (response, objection)."""
    c = public_client(app)
    page = text(c.get(f"/n/{notice.public_token}"))
    assert item.display_name in page
    assert not [name for name in full_names if name in page]  # masked names only (§4.3)
    c.get(f"/n/{notice.public_token}/object?item={item.id}")
    data = {"item": str(item.id), "identity": "named", "name": "", "phone": "", "relation": "neighbour",
            "grounds": "other", "text": "", "idem_key": new_key()}
    data.update(fields)
    resp = c.post(f"/n/{notice.public_token}/object", data=data)
    assert resp.status_code == 200, text(resp)[:2000]
    receipt = RECEIPT.search(text(resp)).group(1)
    return resp, db.session.scalar(sa.select(Objection).where(Objection.receipt_no == receipt))


def test_sc01_whole_village_rating_notice_and_objections(app, world):
    try:
        _replay(app, world)
    finally:
        clock.reset(app)


def _replay(app, world):
    w = world
    day0 = clock.today()
    day = lambda n: day0 + timedelta(days=n)  # noqa: E731
    v1 = w.v1
    v1.centroid_lat, v1.centroid_lng = CENTRE
    groups = sorted(v1.groups, key=lambda g: g.id)
    db.session.commit()
    # R4 posts: the village secretary puts the sheet on the board and opens the notice with the photo, so proposer
    # (S1), approver (R2) and poster (R4) are three different people
    officer, manager, chair = client_for(app, w.officer), client_for(app, w.manager), client_for(app, w.secretary)
    poster, poster_c = w.secretary, chair

    # ---- days -6..-4: 8 households not reached on three different days (外出失联); h1 and h2 are two of them
    lost = [w.h1, w.h2] + [add_household(v1, groups[i % 2], f"L{i:02d}", [(f"外出户{i}", "head",
                                                                             make_id("532931", "19750505", 300 + i))])
                           for i in range(LOST - 2)]
    db.session.commit()
    for offset in (-6, -5, -4):
        at_day(app, day(offset))
        for h in lost:
            record_visit(db.session.get(Household, h.id), w.officer, VisitInput(purpose="first", outcome="unreachable"))
        db.session.commit()
    assert {fresh(Household, h.id).file_status for h in lost} == {"pending_revisit"}

    # ---- 110 accepted files
    at_day(app, day(-1))
    H = {n: build_file(v1, groups[(n - 1) % 2], n) for n in range(1, ACCEPTED + 1)}
    assert ratings.current_model().params == MODEL
    h23 = H[H23]
    names = [h.head_name for h in H.values()]
    assert len({mask_name(n) for n in names}) == ACCEPTED
    assert mask_name(h23.head_name) == "王*明"
    before = expected(H23)
    # H23 is built so that the model gives 84 / 较好 / 100,000 (SC-01)
    assert (before.final_score, before.grade, before.suggested_line_fen) == (Decimal(84), "good", fen(100000))

    # ---- day 0: the grid officer batch-rates the village (a job), the committee meets, the manager approves
    at_day(app, day0)
    resp = officer.post(f"/villages/{v1.id}/ratings/batch", data={"idem_key": new_key()})
    assert resp.status_code == 303
    job = jobs.run(jobs.claim("sc01-worker"))
    assert (job.status, job.total) == ("done", ACCEPTED)
    rated = {r.household_id: r for r in db.session.scalars(sa.select(Rating).where(Rating.village_id == v1.id))}
    assert set(rated) == {h.id for h in H.values()}  # the 8 unreachable households have no file, so no rating
    assert {r.status for r in rated.values()} == {"proposed"} and {r.proposed_by for r in rated.values()} == {
        w.officer.id}

    members = [village_user(v1, name=f"委员{i}") for i in range(4)]  # panel members voting on their phones
    meeting = meetings.schedule(v1, held_on=day0, location="村委会议室", mode="phones", chair_user_id=w.secretary.id,
                                user_id=w.officer.id)
    seats = [("committee", True, w.secretary), ("committee", False, w.panel), ("party_centre", True, members[0]),
             ("party_centre", True, members[1]), ("elder", False, members[2]), ("elder", True, members[3]),
             ("stationed", True, None)]  # 2 两委, 2 党员中心户, 2 elders, 1 驻村 (absent)
    for i, (role, party, user) in enumerate(seats, start=1):
        meetings.add_member(meeting, name=f"M{i}" if user is None else f"M{i}·{user.name}", role=role,
                            party_member=party, user_id=user.id if user else None)
    committee = list(meeting.members)
    meetings.set_attendance(meeting, {m.id for m in committee[:6]})
    m3 = committee[2]
    meetings.add_recusal(meeting, member=m3, household_id=H[H17].id, relation="sibling", note="H17 户主是其兄弟",
                         user_id=w.officer.id)
    for step in meetings.MANUAL_BEFORE_VOTING:
        meetings.record_step(meeting, step, user_id=w.officer.id)
    meetings.set_tellers(meeting, monitor="监票人甲", counter="计票人乙")
    meetings.open_voting(meeting, w.secretary)
    db.session.commit()
    assert meeting.quorum_needed == 5 and meeting.present_count == 6 and len(meeting.items) == ACCEPTED
    by_household = {item.household_id: item for item in meeting.items}
    vice_ids = {H[n].id for n in VICE}
    for seat in committee[:6]:
        for item in meeting.items:
            if seat is m3 and item.household_id == H[H17].id:
                continue  # recused: M3 does not vote on H17
            flags_vice = item.household_id in vice_ids and seat in committee[:4]
            meetings.cast_ballot(meeting, item, seat, answers=ballot("yes", no_vice="no" if flags_vice else "yes"),
                                 vetoes=["vice"] if flags_vice else [], version=0)
        db.session.commit()
    meetings.record_step(meeting, "count", user_id=w.officer.id)
    db.session.commit()
    assert chair.post(f"/meetings/{meeting.id}/close", data={"version": str(fresh(type(meeting), meeting.id).version)}
                      ).status_code == 303
    h17_item = fresh(ReviewItem, by_household[H[H17].id].id)
    assert h17_item.tally["voters"] == 5 and h17_item.tally["eligible"] == 5

    # every score is what the model gives for the facts in the file
    db.session.expire_all()
    for n, h in H.items():
        r = ratings.live_rating(h.id)
        e = expected(n)
        assert (r.final_score, r.grade, r.suggested_line_fen, tuple(r.vetoes)) == (
            e.final_score, e.grade, e.suggested_line_fen, e.vetoes), n
    assert {n for n in H if expected(n).vetoes} == set(VICE + ARREARS)
    assert {n for n in H if not expected(n).vetoes and expected(n).grade == "not_rated"} == set(LOW)
    assert {n for n in LOW if expected(n).final_score < 60} == set(LOW)

    reviewed = list(db.session.scalars(sa.select(Rating).where(Rating.village_id == v1.id,
                                                                Rating.status == "reviewed").order_by(Rating.id)))
    assert len(reviewed) == ACCEPTED - len(VICE + ARREARS)
    for r in reviewed:  # the branch manager (not the proposer) approves each, on the rating page
        resp = manager.post(f"/ratings/{r.id}/approve", data={"comment": "同意", "version": str(r.version)})
        assert resp.status_code == 303, text(resp)[:1000]
    db.session.expire_all()
    statuses = {n: ratings.live_rating(h.id).status for n, h in H.items()}
    assert {n for n, s in statuses.items() if s == "not_rated"} == set(VICE + ARREARS + LOW)
    assert sum(1 for s in statuses.values() if s == "approved") == 104

    # ---- day 2: the notice is drafted, scheduled, posted and opened with the photo of the board
    at_day(app, day(2))
    resp = officer.post(f"/villages/{v1.id}/notices/new", data={
        "duration_days": "7", "posting_place": "村委会公示栏", "hotline": HOTLINE, "idem_key": new_key()})
    assert resp.status_code == 303, text(resp)[:1000]
    notice_id = int(resp.headers["Location"].rstrip("/").rsplit("/", 1)[1])
    assert officer.post(f"/notices/{notice_id}/schedule", data={"version": str(fresh(Notice, notice_id).version)}
                        ).status_code == 303
    far = metres_north(CENTRE[0], 2000)  # a photo taken 2 km away is refused (N-3)
    assert open_through_the_web(poster_c, notice_id, far, CENTRE[1]).status_code == 422
    assert fresh(Notice, notice_id).status == "scheduled"
    resp = open_through_the_web(poster_c, notice_id, metres_north(CENTRE[0], 200), CENTRE[1])
    assert resp.status_code == 303, text(resp)[:2000]
    notice = fresh(Notice, notice_id)
    assert (notice.status, notice.starts_on, notice.ends_on) == ("open", day(2), day(8))
    assert notice.posted_by == poster.id and 190 < notice.posting_distance_m < 210
    assert notice.content_hash == notice_rules.content_hash(notice.snapshot)
    items = {i.household_id: i for i in notice.items}
    listed = {H[n].id for n in H} - {H[n].id for n in VICE + ARREARS + LOW}
    assert len(items) == 104 and set(items) == listed
    assert {db.session.get(Rating, i.rating_id).status for i in items.values()} == {"on_notice"}
    for n in (H17, H23, H40):
        item = items[H[n].id]
        e = expected(n)
        assert (item.display_name, item.grade, item.line_fen) == (mask_name(H[n].head_name), e.grade,
                                                                   e.suggested_line_fen)
    assert items[h23.id].display_name == "王*明" and items[h23.id].grade == "good"
    private = {p.household_id: p.reasons for p in db.session.scalars(
        sa.select(PrivateNotice).where(PrivateNotice.notice_id == notice_id))}
    assert private == {**{H[n].id: ["vice"] for n in VICE}, **{H[n].id: ["arrears"] for n in ARREARS},
                       **{H[n].id: ["below_60"] for n in LOW}}
    public = text(public_client(app).get(f"/n/{notice.public_token}"))
    assert public.count("<tr") - 1 == 104 and "王*明" in public
    for n in VICE + ARREARS + LOW:
        assert H[n].head_name not in public and mask_name(H[n].head_name) not in public

    # ---- day 4: objection A, real name, on H23 through the public page: hidden private loan
    at_day(app, day(4))
    resp, objection_a = object_publicly(app, notice, items[h23.id], names, name="李大姐", phone="13812345678",
                                        grounds="hidden_debt", text="王建明家隐瞒了民间借款6万元, 月息2分")
    assert "You gave your name, so you receive a written reply." in text(resp)
    assert objection_a.within_window and objection_a.objector_name == "李大姐" and objection_a.received_via == "web"
    assert item_of(notice_id, h23).status == "objected"

    # ---- day 5: the officer investigates with a visit and records the loan in the file; objection B arrives
    at_day(app, day(5))
    visit = record_visit(db.session.get(Household, h23.id), w.officer,
                         VisitInput(purpose="dispute", outcome="done", notes="核实异议: 民间借款6万元, 月息2分"))
    db.session.commit()
    resp = officer.post(f"/objections/{objection_a.id}/investigate", data={
        "version": str(fresh(Objection, objection_a.id).version), "visit": str(visit.id), "notes": "借款属实, 有借条"})
    assert resp.status_code == 303
    resp = officer.post(f"/households/{h23.id}/section/debts/add", data={**PRIVATE_LOAN_FORM, "idem_key": new_key()})
    assert resp.status_code == 303, text(resp)[:2000]
    loan = db.session.scalar(sa.select(Debt).where(Debt.household_id == h23.id, Debt.kind == "private"))
    assert loan.annual_rate == Decimal("0.24") and "over_cap" in loan.flags  # 2 分/月 = 24 %/yr, over 4 x LPR
    assert officer.post(f"/households/{h23.id}/submit", data={}).status_code == 303
    assert ratings.live_rating(h23.id).status == "on_notice"

    resp, objection_b = object_publicly(app, notice, items[H[H40].id], names, identity="anonymous", name="", phone="",
                                        grounds="bad_habits", text="他经常打牌赌钱")
    assert "You gave your name" not in text(resp)
    assert objection_b.objector_name is None and objection_b.phone_hash is None and objection_b.within_window

    # ---- day 6: B is not substantiated: rejected with the reason; an anonymous objector gets no reply
    at_day(app, day(6))
    resp = officer.post(f"/objections/{objection_b.id}/decide", data={
        "version": str(fresh(Objection, objection_b.id).version), "decision": "rejected",
        "reason": "走访邻里和村委会, 赌博一事查无实据"})
    assert resp.status_code == 303
    objection_b = fresh(Objection, objection_b.id)
    assert (objection_b.status, objection_b.decision) == ("decided", "rejected")
    assert objection_b.decision_reason == "走访邻里和村委会, 赌博一事查无实据" and objection_b.rerating_id is None
    assert item_of(notice_id, H[H40]).status == "listed"
    assert officer.get(f"/objections/{objection_b.id}/reply.pdf").status_code == 409
    assert officer.post(f"/objections/{objection_b.id}/replied", data={
        "version": str(objection_b.version), "channel": "in_person", "replied_on": day(6).isoformat()}
    ).status_code == 422
    assert fresh(Objection, objection_b.id).status == "decided" and objection_b.replied_at is None

    # ---- day 7: the branch manager accepts the corrected file
    at_day(app, day(7))
    version = db.session.scalar(sa.select(CreditFile).where(CreditFile.household_id == h23.id,
                                                           CreditFile.status == "submitted"))
    assert manager.post(f"/households/{h23.id}/review", data={"decision": "accept", "version": str(version.version)}
                        ).status_code == 303
    assert fresh(CreditFile, version.id).status == "accepted"
    assert ratings.live_rating(h23.id).status == "on_notice"  # on notice: re-rated only through the objection

    # ---- day 8: A upheld with the reason -> re-rating proposed by the officer, approved by the branch manager
    at_day(app, day(8))
    resp = officer.post(f"/objections/{objection_a.id}/decide", data={
        "version": str(fresh(Objection, objection_a.id).version), "decision": "upheld", "change": "y",
        "reason": "走访核实: 另有民间借款6万元, 月息2分 (年化24%), 超过法定利率上限, 隐瞒未报"})
    assert resp.status_code == 303
    objection_a = fresh(Objection, objection_a.id)
    old = db.session.get(Rating, items[h23.id].rating_id)
    new = db.session.get(Rating, objection_a.rerating_id)
    after = expected(H23, rerated=True)
    assert (new.status, new.replaces_id, new.proposed_by) == ("reviewed", old.id, w.officer.id)
    assert (new.final_score, new.grade, new.suggested_line_fen) == (
        after.final_score, after.grade, after.suggested_line_fen)
    liabilities = {i.code: i.points for i in after.indicators}["liabilities"] - \
        {i.code: i.points for i in before.indicators}["liabilities"]
    over_cap = MODEL["deductions"]["over_cap_private_loan"]
    assert after.final_score == before.final_score - over_cap + liabilities
    assert (after.final_score, after.grade, after.suggested_line_fen) == (Decimal(74), "fair", fen(50000))
    assert [code for code, _p in new.breakdown["deduction_items"]] == ["over_cap_private_loan"]
    assert item_of(notice_id, h23).status == "objected"  # blocked until a second person approves (N-8)
    assert officer.post(f"/objections/{objection_a.id}/approve", data={"version": str(objection_a.version)}
                        ).status_code == 403  # the proposer never approves (SD-1)
    resp = manager.post(f"/objections/{objection_a.id}/approve", data={
        "version": str(fresh(Objection, objection_a.id).version), "comment": "同意重新评级"})
    assert resp.status_code == 303, text(resp)[:2000]
    old, new = fresh(Rating, old.id), fresh(Rating, new.id)
    assert (old.status, new.status, new.approved_by) == ("superseded", "re_notice", w.manager.id)
    assert (new.effective_grade, new.effective_line_fen) == ("fair", fen(50000))
    assert item_of(notice_id, h23).status == "changed"
    supplement = db.session.scalar(sa.select(Notice).where(Notice.parent_id == notice_id))
    assert supplement.supplement and supplement.status == "draft" and supplement.duration_days == 3
    [amended] = supplement.items
    assert (amended.household_id, amended.display_name, amended.grade, amended.line_fen, amended.amended) == (
        h23.id, "王*明", "fair", fen(50000), True)
    assert amended.amendment_note == notice_rules.amendment_note("good", fen(100000), "fair", fen(50000))

    # ---- day 9: the tick closes the notice: 103 final, H23 waits for its re-notice; the supplement is posted
    at_day(app, day(9))
    assert jobs.tick()["notices.close"] >= 1
    notice = fresh(Notice, notice_id)
    assert notice.status == "finalised" and notice.closed_at is not None
    final = {i.household_id for i in notice.items if i.status == "final"}
    assert len(final) == 103 and h23.id not in final
    assert item_of(notice_id, h23).status == "changed"
    assert {db.session.get(Rating, items[hid].rating_id).status for hid in final} == {"final"}
    assert fresh(Rating, new.id).status == "re_notice"
    assert fresh(Objection, objection_b.id).status == "decided"
    resp = officer.post(f"/notices/{supplement.id}/schedule",
                        data={"version": str(fresh(Notice, supplement.id).version)})
    assert resp.status_code == 303
    resp = open_through_the_web(poster_c, supplement.id, metres_north(CENTRE[0], 150), CENTRE[1])
    assert resp.status_code == 303, text(resp)[:2000]
    supplement = fresh(Notice, supplement.id)
    assert (supplement.status, supplement.starts_on, supplement.ends_on) == ("open", day(9), day(11))
    body = text(public_client(app).get(f"/n/{supplement.public_token}"))
    assert "Supplementary notice" in body and "Corrected" in body and "王*明" in body and "王建明" not in body
    assert amended.amendment_note in body

    # ---- day 11: objection C after the window: a complaint, recorded and investigated, blocking nothing
    at_day(app, day(11))
    h5_item = item_of(notice_id, H[H5])
    assert h5_item.status == "final"
    _resp, objection_c = object_publicly(app, notice, h5_item, names, name="赵某", phone="13900001111",
                                         grounds="false_income", text="他家收入没有那么多")
    assert objection_c.within_window is False and objection_c.status == "received"
    assert notices.open_objections(item_of(notice_id, H[H5])) == []
    assert item_of(notice_id, H[H5]).status == "final" and fresh(Notice, notice_id).status == "finalised"
    assert "Complaint (after the window)" in text(officer.get(f"/notices/{notice_id}/objections"))
    jobs.tick()
    assert fresh(Rating, new.id).status == "re_notice"  # the re-notice runs until the end of day 11

    # ---- day 12: H23 is final (three days of re-notice); the objector reads the decision with the receipt
    at_day(app, day(12))
    jobs.tick()
    supplement = fresh(Notice, supplement.id)
    assert supplement.status == "finalised" and supplement.items[0].status == "final"
    assert fresh(Rating, new.id).status == "final"
    assert {ratings.live_rating(h.id).status for n, h in H.items() if n not in VICE + ARREARS + LOW} == {"final"}
    body = text(public_client(app).post("/n/status", data={"receipt": objection_a.receipt_no, "phone": "13812345678"}))
    assert "The objection was upheld." in body and "超过法定利率上限" in body
    # the named objector's reply letter is printed and handed over by the village secretary (N-6)
    assert chair.get(f"/objections/{objection_a.id}/reply.pdf").status_code == 200
    assert chair.post(f"/objections/{objection_a.id}/replied", data={
        "version": str(fresh(Objection, objection_a.id).version), "channel": "secretary",
        "replied_on": day(12).isoformat()}).status_code == 303
    assert fresh(Objection, objection_a.id).status == "replied"

    # ---- the audit log: the officer proposes, the branch manager approves, the poster opens: three signers
    events = list(db.session.scalars(sa.select(audit.AuditEvent).where(audit.AuditEvent.action.in_(
        ("rating.rerating", "rating.approved", "notice.opened")))))
    signers: dict[str, set] = {}
    for e in events:
        signers.setdefault(e.action, set()).add(e.actor_id)
    assert signers["rating.rerating"] == {w.officer.id}
    assert signers["rating.approved"] == {w.manager.id}
    assert signers["notice.opened"] == {poster.id}
    assert len(set().union(*signers.values())) == 3
    assert {e.entity_id for e in events if e.action == "notice.opened"} == {str(notice_id), str(supplement.id)}
