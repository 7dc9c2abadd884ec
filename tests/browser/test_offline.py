"""Weak signal, in a phone-sized Chromium against the live app (real CSRF): nothing typed is lost, nothing is
recorded twice.

* a lost answer (the server commits, the phone never hears back) is retried by the outbox with the same
  idempotency key when the signal returns, and the database holds exactly one record;
* a reload in the middle of a form brings the draft back (and "discard" really discards it);
* a photo whose upload was cut off is kept in IndexedDB, shown again after a reload, and sent then;
* a stale edit (409) shows as a conflict in the outbox with the other person's value;
* a logout (401) keeps the entry, and it is sent after logging in again.

The scripts under test are fieldapp/static/offline.js and photos.js; the pages are the real member, visit and photo
pages. Each test bounds its waits (the contexts' default timeout is 10 s; uploads get 30 s).
"""
from __future__ import annotations

import io
import re
import time

import pytest
import sqlalchemy as sa
from playwright.sync_api import expect

from tests.conftest import PASSWORD

from fieldapp.extensions import db
from tests.browser.helpers import in_db

pytestmark = pytest.mark.browser

# The draft of a form as IndexedDB holds it (null when there is none).
DRAFT_JS = """
async (key) => {
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open('fieldapp'); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error);
  });
  try {
    if (!db.objectStoreNames.contains('drafts')) return null;
    return await new Promise((ok, fail) => {
      const r = db.transaction('drafts').objectStore('drafts').get(document.body.dataset.user + ':' + key);
      r.onsuccess = () => ok(r.result ? {fields: r.result.fields, submitted: r.result.submitted || null} : null);
      r.onerror = () => fail(r.error);
    });
  } finally { db.close(); }
}
"""

# The outbox as IndexedDB holds it: [{id, state, kind}].
OUTBOX_JS = """
async () => {
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open('fieldapp'); r.onsuccess = () => ok(r.result); r.onerror = () => fail(r.error);
  });
  try {
    if (!db.objectStoreNames.contains('outbox')) return [];
    return await new Promise((ok, fail) => {
      const r = db.transaction('outbox').objectStore('outbox').getAll();
      r.onsuccess = () => ok(r.result.map((i) => ({id: i.id, state: i.state, kind: i.kind})));
      r.onerror = () => fail(r.error);
    });
  } finally { db.close(); }
}
"""


def wait_for_draft(page, key: str, check, timeout_s: float = 5.0):
    """Polls the draft in IndexedDB until check(draft) is true (the autosave is debounced); returns the draft."""
    deadline = time.monotonic() + timeout_s
    while True:
        draft = page.evaluate(DRAFT_JS, key)
        if check(draft):
            return draft
        if time.monotonic() > deadline:
            raise AssertionError(f"draft {key} never became as expected; last seen: {draft}")
        page.wait_for_timeout(100)


def draft_value(draft, name: str):
    return next((v for k, v in (draft or {}).get("fields", []) if k == name), None)


def member_names(live_server, household_id: int) -> list[str]:
    from fieldapp.households.models import Member
    return in_db(live_server, lambda: list(db.session.scalars(
        sa.select(Member.name).where(Member.household_id == household_id))))


def member_id(live_server, household_id: int, name: str) -> int:
    from fieldapp.households.models import Member
    return in_db(live_server, lambda: db.session.scalar(
        sa.select(Member.id).where(Member.household_id == household_id, Member.name == name)))


def photo_rows(live_server, household_id: int):
    from fieldapp.visits.models import Photo
    return in_db(live_server, lambda: [(p.id, p.kind, p.visit_id) for p in db.session.scalars(
        sa.select(Photo).where(Photo.household_id == household_id))])


def outbox(page):
    return page.locator("#outbox")


def go_offline_and_back(ctx):
    """What a phone does when the signal comes back: the `online` event (the outbox retries at once)."""
    ctx.set_offline(True)
    ctx.set_offline(False)


def post_keys(page, url_part: str) -> list[str]:
    """Collects the Idempotency-Key of every POST to a URL containing url_part."""
    keys: list[str] = []
    page.on("request", lambda r: keys.append(r.headers.get("idempotency-key"))
            if r.method == "POST" and url_part in r.url else None)
    return keys


def small_jpeg() -> bytes:
    from PIL import Image
    buf = io.BytesIO()
    Image.new("RGB", (800, 600), (40, 120, 60)).save(buf, "JPEG", quality=85)
    return buf.getvalue()


def record_visit(page, household_id: int) -> int:
    """Save a visit through the real form (the defaults: first visit, done) and return its id."""
    page.goto(f"/households/{household_id}/visits/new")
    with page.expect_navigation(url=re.compile(r"/visits/\d+$")):
        page.locator("#visit-form button[type=submit]").click()
    return int(page.url.rsplit("/", 1)[1])


# ---------------------------------------------------------------- (a) a lost answer is recorded once

def test_lost_answer_is_retried_with_the_same_key_and_recorded_once(watched_context, world_ids, live_server):
    hid = world_ids.h2.id
    ctx = watched_context(world_ids.officer)
    page = ctx.new_page()
    page.goto(f"/households/{hid}/members")
    form = page.locator("#member-add-form")
    key = form.locator("input[name=idem_key]").input_value()
    form.locator("input[name=name]").fill("单小芳")
    form.locator("select[name=relation]").select_option("child")
    keys = post_keys(page, "/members/new")

    def commit_then_lose(route):
        route.fetch()   # the server commits...
        route.abort()   # ...and the answer never reaches the phone

    page.route("**/members/new", commit_then_lose)
    # the outbox stores the entry before sending it, so wait for the lost answer itself, not just the badge
    with page.expect_event("requestfailed", lambda r: "/members/new" in r.url):
        form.locator("button[type=submit]").click()
    expect(outbox(page)).to_have_attribute("data-count", "1")
    expect(outbox(page).locator(".outbox-badge")).to_be_visible()
    assert member_names(live_server, hid).count("单小芳") == 1, "the server recorded the first attempt"
    # the entry is safe in the outbox: the form is cleared for the next one, with a fresh key
    expect(form.locator("input[name=name]")).to_have_value("")
    assert form.locator("input[name=idem_key]").input_value() != key

    page.unroute("**/members/new")
    go_offline_and_back(ctx)
    expect(outbox(page)).to_have_attribute("data-count", "0")
    assert len(keys) >= 2 and set(keys) == {key}, f"every attempt carries the form's key: {keys}"
    assert member_names(live_server, hid).count("单小芳") == 1
    assert [i["state"] for i in page.evaluate(OUTBOX_JS) if i["id"] == key] == ["sent"]

    page.reload()
    expect(page.locator("#member-list")).to_contain_text("单小芳")
    assert page.locator("#member-list li", has_text="单小芳").count() == 1


# ---------------------------------------------------------------- (b) reload mid-form: draft and photo come back

def test_reload_mid_form_restores_the_draft(watched_context, world_ids, live_server):
    hid = world_ids.h3.id
    page = watched_context(world_ids.officer).new_page()
    page.goto(f"/households/{hid}/visits/new")
    form = page.locator("#visit-form")
    form.locator("select[name=outcome]").select_option("not_home")
    form.locator("input[name=companions]").fill("村支书 杨立新")
    form.locator("textarea[name=notes]").fill("屋顶漏雨，下周再访")
    wait_for_draft(page, f"h{hid}:visit", lambda d: draft_value(d, "notes") == "屋顶漏雨，下周再访")

    page.reload()  # a crash, a reload, a flat battery
    note = form.locator(".draft-note")
    expect(note).to_be_visible()
    expect(form.locator("textarea[name=notes]")).to_have_value("屋顶漏雨，下周再访")
    expect(form.locator("input[name=companions]")).to_have_value("村支书 杨立新")
    expect(form.locator("select[name=outcome]")).to_have_value("not_home")

    # "discard" puts the server's form back and forgets the draft
    note.locator("button").click()
    expect(note).to_have_count(0)
    expect(form.locator("textarea[name=notes]")).to_have_value("")
    expect(form.locator("select[name=outcome]")).to_have_value("done")
    wait_for_draft(page, f"h{hid}:visit", lambda d: d is None)
    page.reload()
    expect(form.locator(".draft-note")).to_have_count(0)

    # typed again and sent: the server confirms, the draft is gone
    form.locator("textarea[name=notes]").fill("第二次填写")
    wait_for_draft(page, f"h{hid}:visit", lambda d: draft_value(d, "notes") == "第二次填写")
    with page.expect_navigation(url=re.compile(r"/visits/\d+$")):
        form.locator("button[type=submit]").click()
    assert page.evaluate(DRAFT_JS, f"h{hid}:visit") is None


def test_unsent_photo_is_kept_through_a_reload_and_sent(watched_context, world_ids, live_server):
    hid = world_ids.h3.id
    ctx = watched_context(world_ids.officer)
    page = ctx.new_page()
    visit_id = record_visit(page, hid)
    before = photo_rows(live_server, hid)

    page.route("**/households/*/photos", lambda route: route.abort())  # no signal for uploads
    page.locator("#photo-house").set_input_files(files=[{"name": "house.jpg", "mimeType": "image/jpeg",
                                                         "buffer": small_jpeg()}])
    row = page.locator("#photo-form-house .photo-queue li")
    expect(row).to_have_attribute("data-state", "pending")
    expect(row.locator("button[data-action=retry]")).to_be_visible()
    item_id = row.get_attribute("data-id")
    assert photo_rows(live_server, hid) == before

    page.reload()  # still no signal: the photo comes back from IndexedDB
    row = page.locator(f'#photo-form-house .photo-queue li[data-id="{item_id}"]')
    expect(row).to_be_visible()
    expect(row.locator("img")).to_have_count(1)
    expect(row).to_have_attribute("data-state", "pending")

    page.unroute("**/households/*/photos")
    go_offline_and_back(ctx)
    expect(row).to_have_attribute("data-state", "sent", timeout=30_000)
    added = [p for p in photo_rows(live_server, hid) if p not in before]
    assert [(kind, vid) for _id, kind, vid in added] == [("house", visit_id)], added
    expect(page.locator("#photos figure.photo-card")).to_have_count(1)  # the visit page: this visit's photos
    assert all(i["state"] == "sent" for i in page.evaluate(OUTBOX_JS) if i["kind"] == "photo")


# ---------------------------------------------------------------- (c) a stale edit is a conflict in the outbox

def test_stale_edit_shows_as_conflict_with_the_newer_value(watched_context, world_ids, live_server):
    hid = world_ids.h1.id
    mid = member_id(live_server, hid, "李四妹")
    url = f"/households/{hid}/members/{mid}"
    first = watched_context(world_ids.officer).new_page()
    second = watched_context(world_ids.manager).new_page()
    first.goto(url)
    second.goto(url)

    first.locator("#member-form input[name=name]").fill("李四梅")
    with first.expect_navigation(url=re.compile(rf"/households/{hid}/members$")):
        first.locator("#member-form button[type=submit]").click()
    assert "李四梅" in member_names(live_server, hid)

    form = second.locator("#member-form")
    form.locator("input[name=name]").fill("李思妹")
    form.locator("button[type=submit]").click()
    # in the page: the server's conflict fragment, my input kept
    expect(form.locator("#conflict")).to_contain_text("李四梅")
    expect(form.locator("input[name=name]")).to_have_value("李思妹")
    # in the outbox: one item, state "conflict", the newer value visible
    expect(outbox(second)).to_have_attribute("data-count", "1")
    second.locator("#outbox .outbox-badge").click()
    item = second.locator("#outbox-panel li.outbox-item")
    expect(item).to_have_count(1)
    expect(item).to_have_attribute("data-state", "conflict")
    expect(item).to_contain_text("李四梅")
    expect(item.locator("a.button")).to_have_attribute("href", url)
    second.locator("#outbox-panel .outbox-close").click()
    assert "李思妹" not in member_names(live_server, hid), "the stale edit did not overwrite"

    # saved again on top of the newer version: sent, and the conflict leaves the outbox
    with second.expect_navigation(url=re.compile(rf"/households/{hid}/members$")):
        form.locator("button[type=submit]").click()
    expect(outbox(second)).to_have_attribute("data-count", "0")
    assert "李思妹" in member_names(live_server, hid)
    assert second.evaluate(DRAFT_JS, f"h{hid}:member-{mid}") is None


# ---------------------------------------------------------------- (d) logged out: kept, sent after logging in

def test_logged_out_entry_is_kept_and_sent_after_logging_in_again(watched_context, world_ids, live_server):
    hid = world_ids.h2.id
    ctx = watched_context(world_ids.officer)
    page = ctx.new_page()
    page.goto(f"/households/{hid}/members")

    other = ctx.new_page()  # the session ends elsewhere (another tab, here)
    other.goto("/villages")
    with other.expect_navigation():
        other.locator(".bottom-nav form button").click()
    other.close()

    form = page.locator("#member-add-form")
    form.locator("input[name=name]").fill("单二娃")
    form.locator("select[name=relation]").select_option("child")
    form.locator("button[type=submit]").click()
    login_link = page.locator("#outbox-login a")
    expect(login_link).to_be_visible()
    expect(outbox(page)).to_have_attribute("data-count", "1")
    assert [i["state"] for i in page.evaluate(OUTBOX_JS) if i["state"] != "sent"] == ["login"]
    assert "单二娃" not in member_names(live_server, hid)

    with page.expect_navigation(url=re.compile(r"/login")):
        login_link.click()
    page.fill("#login", world_ids.officer.username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation(url=re.compile(rf"/households/{hid}/members$")):
        page.click("#login-form button[type=submit]")
    expect(outbox(page)).to_have_attribute("data-count", "0")
    expect(page.locator("#member-list")).to_contain_text("单二娃")
    assert member_names(live_server, hid).count("单二娃") == 1


# ---------------------------------------------------------------- the signature pad

def sign(page, canvas):
    """Two strokes across the pad, as a finger would draw them (pointer events)."""
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    for stroke in (((0.1, 0.6), (0.3, 0.2), (0.45, 0.7)), ((0.5, 0.3), (0.7, 0.65), (0.9, 0.25))):
        points = [(box["x"] + fx * box["width"], box["y"] + fy * box["height"]) for fx, fy in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=8)
        page.mouse.up()


def test_consent_signed_on_screen_is_sent_as_a_picture(watched_context, world_ids, live_server):
    from PIL import Image

    from fieldapp.visits.models import Consent, Photo
    from fieldapp.visits.store import get_photo

    hid = world_ids.h3.id
    page = watched_context(world_ids.officer).new_page()
    page.goto(f"/households/{hid}/consent")
    form = page.locator("#consent-form")
    pad = form.locator("[data-signature-pad]")
    expect(pad).to_be_visible()  # shown by the script, for "signed on screen" (the default)
    form.locator("input[name=method][value=refused]").check()
    expect(pad).to_be_hidden()
    form.locator("input[name=method][value=signature]").check()
    expect(pad).to_be_visible()

    canvas = pad.locator("canvas")
    sign(page, canvas)
    expect(canvas).to_have_attribute("data-signed", "true")
    pad.locator("[data-signature-clear]").click()
    expect(canvas).not_to_have_attribute("data-signed", "true")
    sign(page, canvas)
    expect(canvas).to_have_attribute("data-signed", "true")

    form.locator("button[type=submit]").click()
    expect(page.locator("#consent-state li[data-state=given]")).to_have_count(4)
    expect(outbox(page)).to_have_attribute("data-count", "0")

    def signature():
        row = db.session.scalars(sa.select(Consent).where(Consent.household_id == hid, Consent.method == "signature")
                                 .order_by(Consent.id.desc())).first()
        photo = db.session.get(Photo, row.photo_id)
        return photo.kind, get_photo(photo.sha256, photo.encrypted)

    kind, data = in_db(live_server, signature)
    assert kind == "signature"
    ink = Image.open(io.BytesIO(data)).convert("L")
    dark = sum(1 for v in ink.getdata() if v < 100)
    assert dark > 200, "the stored signature has the strokes"
    assert ink.getpixel((2, 2)) > 200, "on a white background (not transparent turned black)"
