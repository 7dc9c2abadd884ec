"""A villager objects from the posted sheet's QR on a phone, and hears back (issue 6 "Must show", W4 N-6..N-10).

Set up through the services: 金星村's notice (张三 h1 and 单田芳 h2, approved and consented) is open, h1's file
has already been corrected by the officer and accepted by the branch manager (a hidden private loan above the
lawful cap), and the officer has recorded a dispute visit. Then, on "Galaxy S8" phones:
the officer's sheet PDF -> pdftoppm + zxing-cpp decode its QR to the public address -> a logged-out phone opens it
-> submits a named objection with a phone -> the receipt number -> the status lookup shows it received ->
the grid officer investigates (linking the visit) and decides upheld with a re-rating -> the branch manager
approves it -> the supplementary notice, opened through the services with its posting photo, lists the amended
item marked as corrected -> the objector's lookup shows the decision and its written reason.
"""
from __future__ import annotations

import re
import subprocess
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from fieldapp.extensions import db
from tests.browser.helpers import in_db

pytestmark = pytest.mark.browser

PHONE = "13812345678"
OBJECTOR = "李举报"
REASON = "经走访核实，该户有6万元民间借款，月息2分，超过法定上限，建档资料已更正"


def setup_notice(live_server):
    """金星村's open notice, h1's corrected file accepted, and a dispute visit to h1 (all committed)."""
    from fieldapp.accounts.models import User
    from fieldapp.households.models import Household
    from fieldapp.org.models import Village
    from fieldapp.visits.services import VisitInput, record_visit
    from tests.support.ratings import accept_file
    from tests.support.routes_objections import item_for, open_notice

    ids = live_server.world

    def build():
        w = SimpleNamespace(v1=db.session.get(Village, ids.v1.id), h1=db.session.get(Household, ids.h1.id),
                            h2=db.session.get(Household, ids.h2.id), officer=db.session.get(User, ids.officer.id),
                            manager=db.session.get(User, ids.manager.id),
                            secretary=db.session.get(User, ids.secretary.id))
        # a strong household on the notice (good grade), then the hidden loan the objection is about
        notice = open_notice(w, income=[(150000, "document")], assets=[("house", 600000)],
                             debts=[{"balance": 0, "status": "settled"}])
        accept_file(w.h1, income=[], assets=[], debts=[{
            "kind": "private", "balance": 60000, "rate_value": 2, "rate_unit": "fen_month",
            "annual_rate": "0.24", "status": "normal", "flags": ["over_cap"]}])
        visit = record_visit(db.session.get(Household, ids.h1.id), w.officer,
                             VisitInput(purpose="dispute", outcome="done", notes="核实民间借款"))
        db.session.commit()
        item = item_for(notice, w.h1)
        return SimpleNamespace(id=notice.id, token=notice.public_token, title=notice.title, item_id=item.id,
                               name=item.display_name, rating_id=item.rating_id, visit_id=visit.id)
    return in_db(live_server, build)


def qr_urls(pdf: bytes, tmp_path) -> list[str]:
    """Every QR code on the PDF's first page, rendered at 150 dpi."""
    import zxingcpp
    from PIL import Image
    (tmp_path / "sheet.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", "-f", "1", "-l", "1", str(tmp_path / "sheet.pdf"),
                    str(tmp_path / "page")], check=True, timeout=120)
    [png] = list(tmp_path.glob("page*.png"))
    return [r.text for r in zxingcpp.read_barcodes(Image.open(png))]


def zh(live_server, label) -> str:
    """A (lazy) msgid as the phones (zh-CN) read it, whether or not the catalogue has it yet."""
    from flask_babel import force_locale
    with live_server.app.test_request_context(), force_locale("zh_CN"):
        return str(label)


def objection_state(live_server, receipt: str) -> SimpleNamespace:
    from fieldapp.notices.models import Objection, NoticeItem
    from fieldapp.ratings.models import Rating

    def read():
        import sqlalchemy as sa
        o = db.session.scalar(sa.select(Objection).where(Objection.receipt_no == receipt))
        item = db.session.get(NoticeItem, o.item_id)
        rerating = db.session.get(Rating, o.rerating_id) if o.rerating_id else None
        return SimpleNamespace(id=o.id, status=o.status, decision=o.decision, within=o.within_window,
                               name=o.objector_name, visit_id=o.visit_id, item_status=item.status,
                               rerating_status=rerating.status if rerating else None,
                               rerating_id=o.rerating_id, reason=o.decision_reason)
    return in_db(live_server, read)


def post_and_wait(page, form, fragment: str) -> None:
    """Submit an htmx form of the objection page and wait for the server's answer."""
    with page.expect_response(lambda r: r.request.method == "POST" and fragment in r.url) as answer:
        form.locator("button[type=submit]").click()
    assert answer.value.status in (200, 303), answer.value.status


def lookup(page, receipt: str, phone: str):
    page.goto("/n/status")
    form = page.locator("#lookup-form")
    form.locator("input[name=receipt]").fill(receipt)
    form.locator("input[name=phone]").fill(phone)
    form.locator("button[type=submit]").click()
    result = page.locator("#lookup-result")
    expect(result).to_be_visible()
    return result


def test_objection_from_the_qr_to_the_supplementary_notice(watched_context, live_server, tmp_path):
    from fieldapp.notices.objections import PUBLIC_DECISION_LINES, PUBLIC_STATUS_LABELS
    world = live_server.world
    n = setup_notice(live_server)

    # the officer prints the sheet; its QR holds the public address (PUBLIC_BASE_URL + /n/<token>)
    officer = watched_context(world.roles["grid_officer"]).new_page()
    sheet = officer.request.get(f"/notices/{n.id}/sheet.pdf")
    assert sheet.status == 200 and sheet.headers["content-type"].startswith("application/pdf")
    base = live_server.app.config["PUBLIC_BASE_URL"].rstrip("/")
    urls = qr_urls(sheet.body(), tmp_path)
    assert f"{base}/n/{n.token}" in urls, urls
    path = urlsplit(urls[0]).path

    # a villager's phone, logged out, opens the decoded address (its path, on this server)
    phone = watched_context().new_page()
    phone.goto(path)
    expect(phone.locator("h1")).to_have_text(n.title)
    expect(phone.locator("#notice-list")).to_contain_text(n.name)
    assert phone.locator("script").count() == 0
    phone.locator(f'a[href="{path}/object"]').click()
    form = phone.locator("#objection-form")
    form.locator("select[name=item]").select_option(str(n.item_id))
    form.locator("input[name=identity][value=named]").check()
    form.locator("input[name=name]").fill(OBJECTOR)
    form.locator("input[name=phone]").fill(PHONE)
    form.locator("select[name=relation]").select_option("neighbour")
    form.locator("select[name=grounds]").select_option("hidden_debt")
    form.locator("textarea[name=text]").fill("张三家欠别人6万块，月息2分，登记时没有说")
    form.locator("button[type=submit]").click()
    receipt_box = phone.locator("#receipt-no input")
    expect(receipt_box).to_be_visible()
    receipt = receipt_box.input_value()
    assert re.fullmatch(r"\d\d[0-9A-HJKMNP-TV-Z]{7}", receipt), receipt
    state = objection_state(live_server, receipt)
    assert state.status == "received" and state.within and state.name == OBJECTOR
    assert state.item_status == "objected"

    # the status lookup with receipt + phone: received, no decision yet
    result = lookup(phone, receipt, PHONE)
    expect(result).to_contain_text(receipt)
    expect(result).to_contain_text(zh(live_server, PUBLIC_STATUS_LABELS["received"]))
    expect(phone.locator("#lookup-decision")).to_have_count(0)

    # the grid officer investigates, linking the dispute visit, and decides upheld with a re-rating
    officer.goto(f"/objections/{state.id}")
    investigate = officer.locator("#investigate form")
    investigate.locator("select[name=visit]").select_option(str(n.visit_id))
    investigate.locator("textarea[name=notes]").fill("走访核实：确有民间借款6万元")
    post_and_wait(officer, investigate, "/investigate")
    state = objection_state(live_server, receipt)
    assert state.status == "investigating" and state.visit_id == n.visit_id
    decide = officer.locator("#decide-form")
    expect(decide).to_be_visible()
    decide.locator("input[name=decision][value=upheld]").check()
    decide.locator("textarea[name=reason]").fill(REASON)
    decide.locator("input[name=change]").check()
    post_and_wait(officer, decide, "/decide")
    state = objection_state(live_server, receipt)
    assert state.status == "decided" and state.decision == "upheld" and state.rerating_status == "reviewed"
    assert state.item_status == "objected"  # blocked until a second person approves the re-rating (N-8)
    expect(officer.locator("#rerating")).to_be_visible()
    expect(officer.locator("#approve-rerating-form")).to_have_count(0)  # maker-checker: not the proposer

    # the branch manager approves the re-rating: the household goes on a supplementary notice (N-10)
    manager = watched_context(world.roles["branch_manager"]).new_page()
    manager.goto(f"/objections/{state.id}")
    approve = manager.locator("#approve-rerating-form")
    approve.locator("textarea[name=comment]").fill("同意重新评级")
    post_and_wait(manager, approve, "/approve")
    expect(manager.locator("#objection-supplement")).to_be_visible()
    state = objection_state(live_server, receipt)
    assert state.rerating_status == "re_notice" and state.item_status == "changed"

    # the supplement is posted: opened through the services with its posting photo at the village centre
    def open_supplement():
        import sqlalchemy as sa
        from fieldapp.notices import services
        from fieldapp.notices.models import Notice
        from tests.support.routes_objections import CENTRE, board_photo
        from fieldapp.accounts.models import User
        supplement = db.session.scalar(sa.select(Notice).where(Notice.parent_id == n.id))
        services.schedule(supplement)
        services.open_notice(supplement, user=db.session.get(User, world.secretary.id), photo=board_photo(),
                             lat=CENTRE[0], lng=CENTRE[1], accuracy_m=6.0)
        db.session.commit()
        [item] = supplement.items
        return SimpleNamespace(token=supplement.public_token, note=item.amendment_note, rating_id=item.rating_id)
    sup = in_db(live_server, open_supplement)
    assert sup.rating_id == state.rerating_id

    # its public page lists the amended item, marked as corrected; the first notice points to it
    phone.goto(f"/n/{sup.token}")
    expect(phone.locator("#supplement-note")).to_be_visible()
    amended = phone.locator("#notice-list tbody tr.amended")
    expect(amended).to_have_count(1)
    expect(amended).to_contain_text(n.name)
    expect(amended.locator(".tag")).to_be_visible()
    expect(amended).to_contain_text(sup.note)
    phone.goto(path)
    expect(phone.locator(f'#notice-list a[href="/n/{sup.token}"]')).to_have_count(1)
    body = phone.content()
    assert "张三" not in body and PHONE not in body and OBJECTOR not in body

    # the objector's lookup shows the decision and, as a named objector, its written reason
    result = lookup(phone, receipt, PHONE)
    expect(phone.locator("#lookup-decision")).to_have_text(zh(live_server, PUBLIC_DECISION_LINES["upheld"]))
    expect(phone.locator("#lookup-reason")).to_contain_text(REASON)
    # a wrong phone finds nothing
    phone.goto("/n/status")
    form = phone.locator("#lookup-form")
    form.locator("input[name=receipt]").fill(receipt)
    form.locator("input[name=phone]").fill("13900000000")
    form.locator("button[type=submit]").click()
    expect(phone.locator("#lookup-not-found")).to_be_visible()
    expect(phone.locator("#lookup-result")).to_have_count(0)
