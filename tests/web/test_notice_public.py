"""The public notice page (from the QR), the objection form and the status lookup, through the real routes on a real
database: masking, group filter, days left, the end of the window and the list's removal, noindex, the neutral 404,
one objection per retry or double tap, the rate limit, and a lookup that never tells a wrong phone from an unknown
receipt and never shows another objector's data.

Notices are opened through the real services (tests/support/routes_objections.py: approved ratings, consent, posting
photo); the clock is moved with clock.set_now.
"""
from __future__ import annotations

import html
import re
import threading
from datetime import datetime, time, timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fieldapp.core import clock
from fieldapp.core.idempotency import new_key
from fieldapp.extensions import db, limiter
from fieldapp.households.models import Member
from fieldapp.notices import objections, services
from fieldapp.notices.models import Notice, NoticeItem, Objection
from fieldapp.org.models import Village
from tests.support.routes_objections import HOTLINE, approved_rating, file, item_for, open_notice

RECEIPT = re.compile(r'value="([0-9A-Z]{9})"')


def text(resp) -> str:
    return html.unescape(resp.get_data(as_text=True))


def public_client(app):
    c = app.test_client()
    c.set_cookie("lang", "en")
    return c


def at_local(app, day, hour: int = 10) -> None:
    """Move the clock to `day` at `hour`:00 in Asia/Shanghai."""
    clock.set_now(app, datetime.combine(day, time(hour, 0), tzinfo=clock.LOCAL_TZ))


def fresh(notice: Notice) -> Notice:
    db.session.expire_all()
    return db.session.get(Notice, notice.id)


def objection_rows() -> list[Objection]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Objection).order_by(Objection.id)))


def form(item: NoticeItem, **overrides) -> dict:
    data = {"item": str(item.id), "identity": "named", "name": "李举报", "phone": "13812345678",
            "relation": "neighbour", "grounds": "hidden_debt", "text": "他家有民间借款没有报", "idem_key": new_key()}
    data.update(overrides)
    return data


def sensitive_values(w) -> list[str]:
    """Everything that must never reach a public page: full names, ID numbers (and their tails), phones."""
    values = []
    for m in db.session.scalars(sa.select(Member)):
        values += [m.name, m.id_number]
    return [v for v in values if v]


# ---------------------------------------------------------------- the page

def test_the_public_page_shows_the_masked_list_and_how_to_object(app, world):
    notice = open_notice(world)
    resp = public_client(app).get(f"/n/{notice.public_token}")
    body = text(resp)
    assert resp.status_code == 200
    table = body.split('id="notice-list"')[1]
    assert "张*" in table and "单*芳" in table and "一组" in table and "二组" in table
    for item in fresh(notice).items:
        row = table.split(item.display_name)[1].split("</tr>")[0]
        assert f"{item.line_fen // 100:,} yuan" in row
        assert {"excellent": "Excellent", "good": "Good", "fair": "Fair"}[item.grade] in row
        assert "Whole-village credit" in row
    for value in sensitive_values(world):
        assert value not in body, value
    assert not re.search(r"1[3-9]\d{9}", body)  # no mobile number at all
    assert "<script" not in body
    # how to object: the hotline as a tel: link, the form, the deadline, the lookup
    assert f'href="tel:08721234567"' in body and HOTLINE in body
    assert f'href="/n/{notice.public_token}/object"' in body
    assert f"until the end of {notice.ends_on.isoformat()}" in body
    assert 'href="/n/status"' in body
    # never indexed
    assert resp.headers["X-Robots-Tag"].startswith("noindex")
    assert '<meta name="robots" content="noindex">' in body


def test_the_group_filter_works_with_links_and_a_plain_form(app, world):
    notice = open_notice(world)
    c = public_client(app)
    body = text(c.get(f"/n/{notice.public_token}?group=一组"))
    table = body.split("<table")[1]
    assert "张*" in table and "单*芳" not in table
    assert f'href="/n/{notice.public_token}?group=%E4%BA%8C%E7%BB%84"' in body  # a link per group
    assert '<form method="get"' in body and '<option value="二组">' in body
    body = text(c.get(f"/n/{notice.public_token}?group=二组"))
    assert "单*芳" in body.split("<table")[1] and "张*" not in body.split("<table")[1]
    body = text(c.get(f"/n/{notice.public_token}?group=no-such-group"))  # an unknown group shows everyone
    assert "张*" in body.split("<table")[1] and "单*芳" in body.split("<table")[1]


def test_days_left_count_down_to_the_last_day(app, world):
    notice = open_notice(world, days=7)
    c = public_client(app)
    assert "7 days left to object." in text(c.get(f"/n/{notice.public_token}"))
    at_local(app, notice.ends_on - timedelta(days=2))
    assert "3 days left to object." in text(c.get(f"/n/{notice.public_token}"))
    at_local(app, notice.ends_on, hour=23)
    body = text(c.get(f"/n/{notice.public_token}"))
    assert "Today is the last day to object." in body and "has ended" not in body
    assert fresh(notice).status == "open"  # nothing closes early


def test_after_the_window_the_page_says_ended_with_the_final_list(app, world):
    notice = open_notice(world)
    at_local(app, notice.ends_on + timedelta(days=1), hour=0)
    body = text(public_client(app).get(f"/n/{notice.public_token}"))
    assert "The notice period has ended." in body and "The list below is final." in body
    assert "days left" not in body
    assert "张*" in body and "单*芳" in body
    assert "recorded as a complaint" in body
    notice = fresh(notice)  # closed on read: no objection, so every item is final and the notice finalised
    assert notice.status == "finalised" and {i.status for i in notice.items} == {"final"}


def test_the_list_is_taken_down_after_the_keep_days(app, world):
    notice = open_notice(world)
    keep = app.config.get("NOTICE_LIST_KEEP_DAYS", 30)
    c = public_client(app)
    at_local(app, notice.ends_on + timedelta(days=keep))
    assert "张*" in text(c.get(f"/n/{notice.public_token}"))  # the last day it stays up
    at_local(app, notice.ends_on + timedelta(days=keep + 1))
    resp = c.get(f"/n/{notice.public_token}")
    body = text(resp)
    assert resp.status_code == 200
    assert notice.title in body and notice.starts_on.isoformat() in body and notice.ends_on.isoformat() in body
    assert "The list has been taken down." in body
    assert "张*" not in body and "单*芳" not in body and "<table" not in body
    assert c.get(f"/n/{notice.public_token}/object").status_code == 404


def test_unknown_draft_scheduled_and_cancelled_notices_get_the_same_neutral_404(app, world):
    notice = open_notice(world, households=[world.h1])
    approved_rating(world.h2, world)  # h2 goes on a second notice that stays a draft, then is scheduled, cancelled
    draft = services.create_notice(db.session.get(Village, world.v1.id), user=world.officer,
                                   starts_on=clock.today(), duration_days=7, posting_place="", hotline="")
    db.session.commit()
    c = public_client(app)
    unknown = "A" * len(draft.public_token)
    missing = c.get(f"/n/{unknown}")
    assert missing.status_code == 404 and "noindex" in missing.headers["X-Robots-Tag"]
    for status in ("draft", "scheduled", "cancelled"):
        if status == "scheduled":
            services.schedule(draft)
        if status == "cancelled":
            services.cancel(draft, "贴错了")
        db.session.commit()
        assert fresh(draft).status == status
        for path in ("", "/object"):
            resp = c.get(f"/n/{draft.public_token}{path}")
            assert resp.status_code == 404
            # the same page, but for the address itself (the language link returns to it)
            same = c.get(f"/n/{unknown}{path}").get_data().replace(unknown.encode(), draft.public_token.encode())
            assert resp.get_data() == same
    assert "单*芳" not in text(c.get(f"/n/{draft.public_token}"))
    assert c.get(f"/n/{notice.public_token}").status_code == 200


# ---------------------------------------------------------------- the objection form

def test_an_objection_gets_a_receipt_and_blocks_its_household(app, world):
    notice = open_notice(world)
    item = item_for(notice, world.h1)
    c = public_client(app)
    page = text(c.get(f"/n/{notice.public_token}/object?item={item.id}"))
    assert f'<option selected value="{item.id}">张* · 一组</option>' in page
    assert "张三" not in page
    resp = c.post(f"/n/{notice.public_token}/object", data=form(item))
    body = text(resp)
    assert resp.status_code == 200, body[:2000]
    [row] = objection_rows()
    assert RECEIPT.search(body).group(1) == row.receipt_no
    assert row.within_window and row.status == "received" and row.received_via == "web"
    assert row.objector_name == "李举报" and row.phone_hash and row.phone_hash != "13812345678"
    assert row.household_id == world.h1.id
    assert item_for(notice, world.h1).status == "objected"
    assert item_for(notice, world.h2).status == "listed"
    assert "You gave your name, so you receive a written reply." in body
    assert "13812345678" not in body and "李举报" not in body


def test_the_form_checks_phone_name_grounds_and_text(app, world):
    notice = open_notice(world)
    item = item_for(notice, world.h1)
    c = public_client(app)
    url = f"/n/{notice.public_token}/object"
    cases = [
        (form(item, phone="12345"), "Enter an 11-digit mobile number starting with 1"),
        (form(item, phone="23812345678"), "Enter an 11-digit mobile number starting with 1"),
        (form(item, name=""), "Write your name, or choose to object anonymously."),
        (form(item, grounds=""), "Choose what the objection is about."),
        (form(item, text=""), "the objection needs a text"),
        (form(item, text="长" * 1001), "At most 1000 characters."),
        ({**form(item), "item": "999999"}, "Not a valid choice"),
    ]
    for data, message in cases:
        resp = c.post(url, data=data)
        assert resp.status_code == 422, data
        assert message in text(resp), (data, text(resp)[:3000])
    assert objection_rows() == []
    # anonymous without a phone, exactly 1000 characters: accepted
    resp = c.post(url, data=form(item, identity="anonymous", name="会被忽略", phone="", text="长" * 1000))
    assert resp.status_code == 200
    [row] = objection_rows()
    assert row.objector_name is None and row.objector_phone is None and row.phone_hash is None
    assert "The objection is anonymous, so no reply is sent." in text(resp)


def test_the_same_objection_sent_twice_with_its_key_is_recorded_once(app, world):
    notice = open_notice(world)
    item = item_for(notice, world.h1)
    c = public_client(app)
    c.get(f"/n/{notice.public_token}/object")
    data = form(item)
    first = c.post(f"/n/{notice.public_token}/object", data=data)
    again = c.post(f"/n/{notice.public_token}/object", data=data)  # the phone retries after a lost answer
    assert first.status_code == again.status_code == 200
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert RECEIPT.search(text(first)).group(1) == RECEIPT.search(text(again)).group(1)
    assert len(objection_rows()) == 1
    # the same key with other content is refused, not recorded
    changed = c.post(f"/n/{notice.public_token}/object", data={**data, "text": "另一件事"})
    assert changed.status_code == 422 and len(objection_rows()) == 1
    # a new form (a new key) is a new objection
    assert c.post(f"/n/{notice.public_token}/object", data={**data, "idem_key": new_key()}).status_code == 200
    assert len(objection_rows()) == 2


def test_a_double_tap_on_a_first_visit_records_one_objection(app, world):
    """Two copies of the same POST at once, from the browser that opened the form (same cookie, same key)."""
    notice = open_notice(world)
    item = item_for(notice, world.h1)
    first = public_client(app)
    assert first.get(f"/n/{notice.public_token}/object").status_code == 200
    cookie = first.get_cookie("session")
    assert cookie is not None  # the form's first visit binds the browser to one anonymous owner
    second = public_client(app)
    second.set_cookie("session", cookie.value)
    data, url = form(item), f"/n/{notice.public_token}/object"
    # end this thread's transaction (outside a request it holds SQLite's write lock) so the copies can write
    db.session.rollback()
    barrier = threading.Barrier(2)
    results: list = [None, None]

    def post(i, client):
        try:
            barrier.wait(timeout=30)
            resp = client.post(url, data=data)
            results[i] = (resp.status_code, RECEIPT.search(text(resp)).group(1) if resp.status_code == 200 else None)
        except BaseException as exc:  # noqa: BLE001 - reported below
            results[i] = exc

    threads = [threading.Thread(target=post, args=(i, c), daemon=True) for i, c in enumerate((first, second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert all(isinstance(r, tuple) for r in results), results
    assert {r[0] for r in results} == {200}, results
    assert results[0][1] == results[1][1]
    assert len(objection_rows()) == 1


def test_an_objection_after_the_window_is_a_complaint_that_does_not_block(app, world):
    notice = open_notice(world)
    item = item_for(notice, world.h1)
    at_local(app, notice.ends_on + timedelta(days=2))
    c = public_client(app)
    body = text(c.get(f"/n/{notice.public_token}/object"))
    assert "recorded as a complaint" in body
    resp = c.post(f"/n/{notice.public_token}/object", data=form(item))
    assert resp.status_code == 200
    assert "recorded as a complaint" in text(resp)
    [row] = objection_rows()
    assert row.within_window is False and row.status == "received"
    notice = fresh(notice)
    assert notice.status == "finalised" and item_for(notice, world.h1).status == "final"


class TestRateLimit:
    @pytest.fixture
    def app_config(self):
        return {"RATELIMIT_ENABLED": True, "NOTICE_OBJECTION_RATE_LIMIT": "3 per minute",
                "NOTICE_LOOKUP_RATE_LIMIT": "3 per minute"}

    def test_objections_and_lookups_are_rate_limited_per_ip_with_a_chinese_page(self, app, world):
        notice = open_notice(world)
        item = item_for(notice, world.h1)
        c = app.test_client()
        c.set_cookie("lang", "zh_CN")
        url = f"/n/{notice.public_token}/object"
        for _ in range(3):
            assert c.post(url, data=form(item)).status_code == 200
        resp = c.post(url, data=form(item))
        assert resp.status_code == 429
        assert "尝试次数过多" in text(resp) and resp.headers["Retry-After"]
        assert resp.headers["X-Robots-Tag"].startswith("noindex")
        assert len(objection_rows()) == 3
        assert c.get(url).status_code == 200  # reading is not limited
        assert c.get(f"/n/{notice.public_token}").status_code == 200
        for _ in range(3):
            assert c.post("/n/status", data={"receipt": "26ABCDEFG", "phone": ""}).status_code == 200
        assert c.post("/n/status", data={"receipt": "26ABCDEFG", "phone": ""}).status_code == 429
        limiter.reset()
        assert c.post(url, data=form(item)).status_code == 200


# ---------------------------------------------------------------- the status lookup

def lookup(c, receipt, phone=""):
    return c.post("/n/status", data={"receipt": receipt, "phone": phone})


def test_the_lookup_answers_a_wrong_phone_and_an_unknown_receipt_identically(app, world):
    notice = open_notice(world)
    mine = file(notice, world.h1, name="李举报", phone="13812345678")
    c = public_client(app)
    found = text(lookup(c, mine.receipt_no, "13812345678"))
    assert mine.receipt_no in found and "Received" in found
    wrong_phone = lookup(c, mine.receipt_no, "13900000000")
    no_phone = lookup(c, mine.receipt_no, "")
    unknown = lookup(c, services.new_receipt(), "13812345678")
    garbage = lookup(c, "NOT-A-RECEIPT", "13812345678")
    bodies = {r.get_data() for r in (wrong_phone, no_phone, unknown, garbage)}
    assert len(bodies) == 1 and {r.status_code for r in (wrong_phone, no_phone, unknown, garbage)} == {200}
    body = text(wrong_phone)
    assert "No objection matches" in body and mine.receipt_no not in body
    # forgiving input: lower case, spaces, dashes, O for 0
    typed = mine.receipt_no.lower()
    assert mine.receipt_no in text(lookup(c, f"{typed[:4]} {typed[4:]}", "138-1234-5678"))


def test_the_lookup_shows_only_what_the_objector_may_see(app, world):
    notice = open_notice(world)
    named = file(notice, world.h1, name="李举报", phone="13812345678")
    anonymous_with_phone = file(notice, world.h2, name=None, phone="13712345678", grounds="bad_habits")
    anonymous = file(notice, world.h2, name=None, phone=None, grounds="bad_habits")
    for objection, reason in ((named, "经走访核实, 借款已结清"), (anonymous_with_phone, "赌博一事查无实据"),
                              (anonymous, "赌博一事查无实据")):
        objections.decide(db.session.get(Objection, objection.id), user=world.officer, decision="rejected",
                          reason=reason)
    db.session.commit()
    c = public_client(app)
    body = text(lookup(c, named.receipt_no, "13812345678"))
    assert "Decided" in body and "The objection was not upheld." in body and "经走访核实, 借款已结清" in body
    assert "张*" in body
    body = text(lookup(c, anonymous_with_phone.receipt_no, "13712345678"))
    assert "The objection was not upheld." in body and "查无实据" not in body  # no reason for anonymous objectors
    body = text(lookup(c, anonymous.receipt_no))
    assert "Decided" in body and "not upheld" not in body and "查无实据" not in body  # status words only
    assert "No objection matches" in text(lookup(c, anonymous.receipt_no, "13712345678"))
    # never another objector's data
    for body in (text(lookup(c, named.receipt_no, "13812345678")), text(lookup(c, anonymous.receipt_no))):
        for other in (anonymous_with_phone.receipt_no, "13712345678", "137****5678", "赌博"):
            assert other not in body
    body = text(lookup(c, anonymous_with_phone.receipt_no, "13712345678"))
    for other in (named.receipt_no, "李举报", "13812345678", "138****5678", "借款", "张*"):
        assert other not in body


class TestCsrf:
    @pytest.fixture
    def app_config(self):
        return {"WTF_CSRF_ENABLED": True}

    def test_the_public_forms_carry_a_csrf_token(self, app, world):
        notice = open_notice(world)
        item = item_for(notice, world.h1)
        c = public_client(app)
        page = text(c.get(f"/n/{notice.public_token}/object"))
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
        url = f"/n/{notice.public_token}/object"
        resp = c.post(url, data=form(item))
        assert resp.status_code == 400 and "nothing was saved" in text(resp)
        assert objection_rows() == []
        assert c.post(url, data={**form(item), "csrf_token": token}).status_code == 200
        assert len(objection_rows()) == 1
        page = text(c.get("/n/status"))
        assert 'name="csrf_token"' in page


JUNK = st.one_of(st.text(max_size=40), st.sampled_from(["", "0", "-1", "1", "999999999999", "named", "anonymous",
                                                        "other", "hidden_debt", "\x00", "１３８１２３４５６７８",
                                                        "13812345678", "长" * 1001]))
FIELDS = ["item", "identity", "name", "phone", "relation", "grounds", "text", "idem_key", "receipt"]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.dictionaries(st.sampled_from(FIELDS), JUNK, max_size=9))
def test_junk_to_the_public_forms_never_500_and_refusals_record_nothing(app, world, data):
    if "notice" not in world.__dict__:
        world.notice = open_notice(world)
    token = world.notice.public_token
    c = public_client(app)
    for url in (f"/n/{token}/object", "/n/status"):
        before = len(objection_rows())
        resp = c.post(url, data=data)
        assert resp.status_code < 500, (url, data)
        if resp.status_code >= 400:
            assert len(objection_rows()) == before
