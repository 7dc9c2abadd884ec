"""A 100-card village batch, from paper to phone (issue 7 "Must show"): the batch PDF printed by head office through
the real route (/villages/<id>/certificates/cards.pdf: A4 sheets of 10, fronts then backs), every page rendered to
PNG at 150 dpi (pdftoppm), every QR code decoded (zxing-cpp) to its URL, and each URL's path opened on this server in
a logged-out Chromium "Galaxy S8" (zh-CN): the right masked holder, status and number.

Set-up is fast and direct (100 households, their approved ratings inserted in bulk and made final), then each
certificate is issued by the real service. Three cards are suspended after printing: their scans show 暂停.
"""
from __future__ import annotations

import subprocess
from decimal import Decimal
from types import SimpleNamespace
from urllib.parse import urlsplit

import pytest

from fieldapp.extensions import db
from tests.browser.helpers import in_db

pytestmark = pytest.mark.browser

SURNAMES = "赵钱孙李周吴郑王冯陈褚卫蒋沈韩杨朱秦尤许"
LAST = "明华强芳丽"
CARDS = 100


def issue_batch(live_server) -> SimpleNamespace:
    """100 households of 桃源村 (v3) with final ratings and issued certificates; returns the village id and, by
    token, each card's (masked holder, number). Committed."""
    import sqlalchemy as sa

    from fieldapp.accounts.models import User
    from fieldapp.certificates import services
    from fieldapp.org.models import Village
    from fieldapp.ratings.models import Rating
    from tests.support.notices import bulk_approved_ratings
    from tests.support.world import add_household, make_id

    ids = live_server.world

    def build():
        village = db.session.get(Village, ids.v3.id)
        officer, manager = db.session.get(User, ids.officer.id), db.session.get(User, ids.manager.id)
        groups = sorted(village.groups, key=lambda g: g.id)
        households = []
        for i in range(CARDS):
            name = f"{SURNAMES[i % 20]}小{LAST[i // 20]}"  # 100 distinct masked names: 赵*明 ...
            households.append(add_household(village, groups[i % 2], f"H-CARD-{i:03d}",
                                            [(name, "head", make_id("532931", "19800101", 300 + i))]))
        bulk_approved_ratings(households, proposer=officer, approver=manager,
                              grade_line=lambda i: (Decimal(88 - i % 30), "good" if i % 30 < 4 else "fair",
                                                    (3 + i % 8) * 1_000_000))
        db.session.execute(sa.update(Rating).where(Rating.household_id.in_([h.id for h in households]))
                           .values(status="final"))
        db.session.commit()
        cards = {}
        for rating in db.session.scalars(sa.select(Rating).where(Rating.village_id == village.id,
                                                                 Rating.status == "final").order_by(Rating.id)):
            cert = services.issue(rating, user=manager)
            db.session.flush()
            cards[services.card_token(cert)] = SimpleNamespace(id=cert.id, holder=cert.holder_display,
                                                               cert_no=cert.cert_no)
        db.session.commit()
        return SimpleNamespace(village_id=village.id, cards=cards)

    return in_db(live_server, build)


def suspend(live_server, cert_ids: list[int]) -> None:
    from fieldapp.accounts.models import User
    from fieldapp.certificates import services
    from fieldapp.certificates.models import Certificate

    def run():
        manager = db.session.get(User, live_server.world.manager.id)
        for cert_id in cert_ids:
            services.suspend(db.session.get(Certificate, cert_id), "overdue", None, manager)
        db.session.commit()
    in_db(live_server, run)


def decoded_urls(pdf: bytes, tmp_path) -> tuple[int, list[list[str]]]:
    """(page count, the QR texts found on each page) with every page rendered at 150 dpi."""
    import zxingcpp
    from PIL import Image
    (tmp_path / "cards.pdf").write_bytes(pdf)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(tmp_path / "cards.pdf"), str(tmp_path / "page")],
                   check=True, timeout=300)
    pngs = sorted(tmp_path.glob("page*.png"))
    found = []
    for png in pngs:
        image = Image.open(png)
        assert abs(image.width - 1240) <= 2 and abs(image.height - 1754) <= 2, (png.name, image.size)  # A4 at 150
        found.append([r.text for r in zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)])
    return len(pngs), found


def zh(live_server, label) -> str:
    """An N_ msgid as the phones (zh-CN) read it, whether or not the catalogue has it yet."""
    from flask_babel import force_locale, gettext
    with live_server.app.test_request_context(), force_locale("zh_CN"):
        return gettext(label)


def test_a_hundred_card_batch_scans_to_the_right_card(watched_context, live_server, tmp_path):
    from fieldapp.certificates import rules
    world = live_server.world
    batch = issue_batch(live_server)
    assert len(batch.cards) == CARDS
    assert len({c.holder for c in batch.cards.values()}) == CARDS

    hq = watched_context(world.roles["hq_admin"]).new_page()
    resp = hq.request.get(f"/villages/{batch.village_id}/certificates/cards.pdf", timeout=180_000)
    assert resp.status == 200 and resp.headers["content-type"].startswith("application/pdf")
    pages, per_page = decoded_urls(resp.body(), tmp_path)
    assert pages == 2 * CARDS // 10  # 10 sheets of fronts, each followed by its sheet of backs
    urls = [url for found in per_page for url in found]
    assert sorted(len(found) for found in per_page) == [0] * 10 + [10] * 10  # QR codes on the backs, 10 a sheet
    assert len(urls) == CARDS and len(set(urls)) == CARDS

    base = urlsplit(live_server.app.config["PUBLIC_BASE_URL"])
    tokens = {}
    for url in urls:
        parts = urlsplit(url)
        assert url == url.upper() and parts.hostname == base.hostname and parts.path.startswith("/V/"), url
        tokens[parts.path.removeprefix("/V/")] = parts.path
    assert set(tokens) == set(batch.cards)

    # three customers fall overdue after printing: their cards now scan as suspended
    suspended = sorted(batch.cards)[:3]
    suspend(live_server, [batch.cards[t].id for t in suspended])

    valid = zh(live_server, rules.PUBLIC_STATUS_LABELS["valid"])
    paused = zh(live_server, rules.PUBLIC_STATUS_LABELS["suspended"])
    overdue = zh(live_server, rules.SUSPENSION_LABELS["overdue"])
    phone = watched_context().new_page()  # a villager's phone, logged out
    for token, path in tokens.items():
        card = batch.cards[token]
        answer = phone.goto(path)
        assert answer is not None and answer.status == 200, path
        shown = phone.evaluate(SHOWN_JS)
        assert shown["cert-no"] == card.cert_no and shown["scripts"] == 0, (path, shown)
        if token in suspended:
            assert paused in shown["verdict"] and shown["reason"] == overdue and shown["holder"] is None, (path, shown)
        else:
            assert valid in shown["verdict"] and shown["holder"] == card.holder, (path, shown)


# what the phone shows: the status block and the card's fields, as rendered text
SHOWN_JS = """() => {
  const text = (id) => { const el = document.getElementById(id); return el ? el.textContent.trim() : null; };
  return {verdict: text('verdict'), holder: text('holder'), 'cert-no': text('cert-no'), reason: text('reason'),
          scripts: document.scripts.length};
}"""
