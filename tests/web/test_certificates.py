"""Credit lines and certificates (issue 7, domain W5): issuing from final ratings only, idempotent per rating, the
batch through the job queue (killed and resumed), suspend / resume, revoke with maker-checker, reissue, expiry and
the yearly re-confirmation (by the tick and on read), and the printable cards (text, QR codes, crop-marked sheets).

Everything runs through the real stack: the routes, the services, a real SQLite database, WeasyPrint, pdftoppm and
zxing-cpp. Final ratings are made by setting "final" directly after approval (tests/support/routes_certificates.py).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import subprocess
from datetime import datetime, time, timedelta, timezone

import pytest
import sqlalchemy as sa
import zxingcpp
from PIL import Image

from fieldapp.certificates import cards, rules, services
from fieldapp.certificates.models import Certificate, CreditLine
from fieldapp.core import clock, jobs
from fieldapp.core.audit import AuditEvent
from fieldapp.core.idempotency import new_key
from fieldapp.core.jobs import Job, JobItem
from fieldapp.extensions import db
from fieldapp.households.models import Household, Member
from fieldapp.ratings import services as ratings
from tests.conftest import HX, login
from tests.support.routes_certificates import final_rating, issued, new_household
from tests.support.routes_notices import VETO_FILE
from tests.support.routes_ratings import reviewed_rating


def _en(client, user):
    login(client, user)
    client.set_cookie("lang", "en")


def _reload(cert: Certificate) -> Certificate:
    db.session.expire_all()
    return db.session.get(Certificate, cert.id)


def _page(client, household_id: int) -> str:
    resp = client.get(f"/households/{household_id}/certificate")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def _move_to(app, day) -> None:
    """The clock at noon (Asia/Shanghai) of `day`."""
    clock.set_now(app, datetime.combine(day, time(4, 0), tzinfo=timezone.utc))


def _pdftotext(body: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=body, capture_output=True, check=True).stdout.decode()


def _pdfinfo(body: bytes, tmp_path) -> tuple[int, str]:
    """(page count, page size line) of a PDF."""
    path = tmp_path / "info.pdf"
    path.write_bytes(body)
    info = subprocess.run(["pdfinfo", str(path)], capture_output=True, check=True).stdout.decode()
    pages = int(re.search(r"^Pages:\s+(\d+)", info, re.M).group(1))
    size = re.search(r"^Page size:\s+(.*)$", info, re.M).group(1).strip()
    return pages, size


def _pages_png(body: bytes, tmp_path) -> list[Image.Image]:
    pdf = tmp_path / "cards.pdf"
    pdf.write_bytes(body)
    subprocess.run(["pdftoppm", "-r", "150", "-png", str(pdf), str(tmp_path / "page")], check=True)
    return [Image.open(p) for p in sorted(tmp_path.glob("page-*.png"))]


# ---------------------------------------------------------------- issuing (C-1)

def test_only_a_final_rating_with_a_grade_gets_a_certificate(app, client, world):
    h = new_household(world.v1, head="王小明")
    rating = reviewed_rating(h, world.officer)
    ratings.approve(rating, world.manager)
    db.session.commit()
    assert rating.status == "approved"
    with pytest.raises(services.Refused):
        services.issue(rating, user=world.officer)  # approved, not yet final (still to go on notice)
    vetoed = reviewed_rating(new_household(world.v1), world.officer, **VETO_FILE)
    assert vetoed.status == "not_rated"
    with pytest.raises(services.Refused):
        services.issue(vetoed, user=world.officer)
    db.session.rollback()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditLine)) == 0

    _en(client, world.officer)
    page = _page(client, h.id)
    assert "No certificate has been issued for this household." in page
    assert "A certificate is issued only for a final rating" in page and "Issue the certificate" not in page
    resp = client.post(f"/households/{h.id}/certificate/issue", data={"idem_key": new_key()})
    assert resp.status_code == 422 and "only for a final rating" in resp.get_data(as_text=True)

    rating.status = "final"  # shortcut for the notice steps (W4)
    db.session.commit()
    page = _page(client, h.id)
    assert "Issue the certificate" in page
    key = new_key()
    resp = client.post(f"/households/{h.id}/certificate/issue", data={"idem_key": key})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/households/{h.id}/certificate")
    again = client.post(f"/households/{h.id}/certificate/issue", data={"idem_key": key})  # a double tap
    assert again.status_code == 303 and again.headers.get("Idempotent-Replayed") == "true"
    certs = db.session.scalars(sa.select(Certificate).where(Certificate.household_id == h.id)).all()
    assert len(certs) == 1
    cert = certs[0]
    line = db.session.get(CreditLine, cert.credit_line_id)
    today = clock.today()
    assert (cert.status, line.status, line.rating_id, cert.rating_id) == ("active", "active", rating.id, rating.id)
    assert cert.grade == rating.effective_grade and cert.line_fen == line.limit_fen == rating.effective_line_fen > 0
    assert line.valid_from == today and line.valid_to == cert.valid_to == rules.valid_to(today, 3)
    assert line.reconfirm_by == rating.valid_to  # the rating's 12 months: re-confirmed yearly
    assert cert.holder_display == "王*明"  # masked (§4.3)
    assert cert.issued_by == world.officer.id and cert.kind == "credit"

    page = _page(client, h.id)
    assert cert.cert_no in page and cert.check_code in page and "Valid" in page
    assert rules.valid_to(today, 3).isoformat() in page

    # a second issue of the same rating (service or form) changes nothing
    assert services.issue(rating, user=world.manager).id == cert.id
    resp = client.post(f"/households/{h.id}/certificate/issue", data={"idem_key": new_key()})
    assert resp.status_code == 303
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate)) == 1
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditLine)) == 1


def test_numbers_count_per_county_branch_and_year(app, world):
    year = clock.today().year
    a = issued(world, world.v1)
    b = issued(world, world.v1)
    c = issued(world, world.v3)   # another branch's grid
    d = issued(world, world.vb)   # county B
    assert a.cert_no == f"532931-B01-{year}-000001" and b.cert_no == f"532931-B01-{year}-000002"
    assert c.cert_no == f"532931-B02-{year}-000001" and d.cert_no == f"150782-BB1-{year}-000001"
    assert len({a.check_code, b.check_code, c.check_code, d.check_code}) == 4
    assert all(re.fullmatch(f"[{rules.ALPHABET}]{{6}}", x.check_code) for x in (a, b, c, d))


def test_the_token_is_stored_only_as_its_hmac_and_sealed(app, world):
    cert = issued(world)
    token = services.card_token(cert)
    assert rules.normalise_token(token) == token
    key = services._keys()[0]
    assert cert.token_hash == hmac.new(key, token.encode(), hashlib.sha256).hexdigest()
    assert cert.token_hash != hashlib.sha256(token.encode()).hexdigest()
    assert token.encode() not in bytes(cert.token_sealed)
    # the plain token is nowhere in the database: not in the row, not in the audit log
    row = db.session.execute(sa.text("SELECT * FROM certificates WHERE id = :id"), {"id": cert.id}).one()
    assert all(token not in str(value) for value in row)
    audit = " ".join(str(e.changes) for e in db.session.scalars(sa.select(AuditEvent)))
    assert token not in audit and cert.token_hash not in audit
    # lookups: the token as scanned or typed; the number with its check code
    assert services.find_by_token(token).id == cert.id
    assert services.find_by_token(token.lower()).id == cert.id
    assert services.find_by_token(" ".join(token[i:i + 5] for i in range(0, 26, 5))).id == cert.id
    assert services.find_by_token(rules.new_token()) is None
    assert services.find_by_token("not a token") is None
    assert services.find_by_number(cert.cert_no.lower(), cert.check_code.lower()).id == cert.id
    assert services.find_by_number(cert.cert_no, "ABCDEF" if cert.check_code != "ABCDEF" else "BCDEFG") is None
    assert services.find_by_number("532931-B01-2020-000001", cert.check_code) is None
    # the verify URL in the QR code
    url = services.verify_url(token)
    assert url == f"HTTP://FIELDAPP.TEST/V/{token}" and rules.is_qr_alphanumeric(url)
    assert cards.qr_code(url).version <= 4
    # another key: the same token no longer matches (so a leaked table is useless without the key)
    app.config["CERT_TOKEN_KEY"] = "another-key"
    try:
        assert services.find_by_token(token) is None
        with pytest.raises(ValueError):
            services.card_token(cert)
    finally:
        app.config["CERT_TOKEN_KEY"] = None
    assert services.find_by_token(token).id == cert.id


def test_ten_thousand_random_tokens_find_nothing(app, world):
    for _ in range(3):
        issued(world)
    hits = sum(services.find_by_token(rules.new_token()) is not None for _ in range(10_000))
    assert hits == 0


# ---------------------------------------------------------------- batch issue (job queue)

def _ratings_issued(village_id: int) -> dict[int, int]:
    db.session.expire_all()
    return dict(db.session.execute(sa.select(CreditLine.rating_id, sa.func.count()).where(
        CreditLine.village_id == village_id).group_by(CreditLine.rating_id)).all())


def test_a_batch_killed_midway_and_resumed_issues_each_certificate_once(app, client, world):
    village = world.v1
    finals = [final_rating(world, new_household(village)).id for _ in range(30)]
    not_final = new_household(village)
    reviewed_rating(not_final, world.officer)  # reviewed only: not issued
    assert services.ratings_to_issue(village.id) == sorted(finals)

    _en(client, world.officer)
    page = client.get(f"/villages/{village.id}/certificates").get_data(as_text=True)
    assert "30 final ratings have no certificate yet." in page
    key = new_key()
    resp = client.post(f"/villages/{village.id}/certificates/issue", data={"idem_key": key})
    assert resp.status_code == 303
    job_url = resp.headers["Location"]
    job_id = int(job_url.rsplit("/", 1)[1])
    again = client.post(f"/villages/{village.id}/certificates/issue", data={"idem_key": key})
    assert again.headers["Location"] == job_url and again.headers.get("Idempotent-Replayed") == "true"
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1
    assert _ratings_issued(village.id) == {}

    job = jobs.claim("worker-a")
    job = jobs.run(job, stop_after_chunks=1)  # killed after the first chunk of 25
    assert (job.status, job.total, job.done_count) == ("running", 30, 25)
    assert len(_ratings_issued(village.id)) == 25
    assert "25 of 30 done" in client.get(job_url, headers=HX).get_data(as_text=True)

    clock.set_now(app, clock.now() + timedelta(minutes=2, seconds=5))  # no heartbeat: another worker takes over
    job = jobs.claim("worker-b")
    assert job.id == job_id
    job = jobs.run(job)
    assert (job.status, job.done_count) == ("done", 30)
    assert _ratings_issued(village.id) == {rid: 1 for rid in finals}
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Certificate).where(
        Certificate.village_id == village.id)) == 30
    numbers = db.session.scalars(sa.select(Certificate.cert_no).where(Certificate.village_id == village.id)).all()
    assert len(set(numbers)) == 30 and {rules.serial_of(n) for n in numbers} == set(range(1, 31))
    assert db.session.scalar(sa.select(sa.func.count()).select_from(JobItem).where(JobItem.job_id == job_id)) == 30
    jobs.run(db.session.get(Job, job_id))  # run again: nothing more
    assert _ratings_issued(village.id) == {rid: 1 for rid in finals}

    login(client, world.officer)
    client.set_cookie("lang", "en")
    page = client.get(f"/villages/{village.id}/certificates").get_data(as_text=True)
    assert "Every final rating of this village already has its certificate." in page
    assert "30 certificates" in page and "Print all cards" in page
    resp = client.post(f"/villages/{village.id}/certificates/issue", data={"idem_key": new_key()})
    assert resp.status_code == 303 and resp.headers["Location"].endswith(f"/villages/{village.id}/certificates")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Job)) == 1


def test_an_officer_batches_only_the_groups_of_its_grid(app, client, world):
    """龙门村 (v2): the grid officer's grid holds only 一组; the batch issues only there."""
    mine = final_rating(world, new_household(world.v2, group=0))
    other = final_rating(world, new_household(world.v2, group=1))
    _en(client, world.officer)
    resp = client.post(f"/villages/{world.v2.id}/certificates/issue", data={"idem_key": new_key()})
    assert resp.status_code == 303
    jobs.work_once()
    assert set(_ratings_issued(world.v2.id)) == {mine.id}
    assert other.id in services.ratings_to_issue(world.v2.id)


# ---------------------------------------------------------------- suspend, resume, revoke, reissue

def _form(cert: Certificate, **data) -> dict:
    return {"version": str(_reload(cert).version), **data}


def test_suspend_then_resume_shows_on_the_next_look_up(app, client, world):
    cert = issued(world)
    token = services.card_token(cert)
    assert services.public_view(services.find_by_token(token)).status == "valid"
    _en(client, world.officer)
    resp = client.post(f"/certificates/{cert.id}/suspend", data=_form(cert, category="village_risk",
                                                                     reason="村级不良率超标，熔断"))
    assert resp.status_code == 303
    cert = _reload(cert)
    line = db.session.get(CreditLine, cert.credit_line_id)
    assert (cert.status, cert.suspension_category, line.status, line.suspension_category) == (
        "suspended", "village_risk", "suspended", "village_risk")
    view = services.public_view(services.find_by_token(token))
    assert (view.status, view.suspension_category, view.suspension_label) == (
        "suspended", "village_risk", "Village risk control")
    assert "熔断" not in str(view)  # only the category goes public
    page = _page(client, cert.household_id)
    assert "Suspended" in page and "Village risk control" in page and "Lift the suspension" in page

    # a stale form (rendered before the suspension) gets 409 with the certificate as it is now
    resp = client.post(f"/certificates/{cert.id}/resume", data={"version": str(cert.version - 1)})
    assert resp.status_code == 409 and "Someone else changed this certificate" in resp.get_data(as_text=True)
    # a reason outside the list is refused
    resp = client.post(f"/certificates/{cert.id}/suspend", data=_form(cert, category="rating_expired"))
    assert resp.status_code == 422

    resp = client.post(f"/certificates/{cert.id}/resume", data=_form(cert))
    assert resp.status_code == 303
    cert = _reload(cert)
    assert (cert.status, cert.suspension_category) == ("active", None)
    assert db.session.get(CreditLine, cert.credit_line_id).status == "active"
    assert services.public_view(services.find_by_token(token)).status == "valid"
    events = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.entity_type == "certificates",
                                                            AuditEvent.entity_id == str(cert.id))).all()
    assert len(events) >= 3  # insert, suspend, resume: all audited


def test_revoke_needs_a_second_person(app, client, world):
    cert = issued(world)
    token = services.card_token(cert)
    _en(client, world.manager)
    resp = client.post(f"/certificates/{cert.id}/revoke-request", data=_form(cert, reason=""))
    assert resp.status_code == 422  # a reason is required
    resp = client.post(f"/certificates/{cert.id}/revoke-request", data=_form(cert, reason="发现骗取授信"))
    assert resp.status_code == 303
    cert = _reload(cert)
    assert cert.revoke_requested_by == world.manager.id and cert.status == "active"

    page = _page(client, cert.household_id)
    assert "You asked for this revocation, so someone else must approve it (maker-checker)." in page
    assert "Approve the revocation" not in page
    resp = client.post(f"/certificates/{cert.id}/revoke-approve", data=_form(cert))
    assert resp.status_code == 422
    assert "You asked for this revocation, so someone else must approve it" in resp.get_data(as_text=True)
    assert _reload(cert).status == "active"

    officer = app.test_client()
    _en(officer, world.officer)
    assert officer.post(f"/certificates/{cert.id}/revoke-approve", data=_form(cert)).status_code == 403

    hq = app.test_client()
    _en(hq, world.hq)
    assert "Approve the revocation" in _page(hq, cert.household_id)
    resp = hq.post(f"/certificates/{cert.id}/revoke-approve", data=_form(cert))
    assert resp.status_code == 303
    cert = _reload(cert)
    line = db.session.get(CreditLine, cert.credit_line_id)
    assert (cert.status, cert.revoked_by, line.status) == ("revoked", world.hq.id, "revoked")
    assert services.public_view(services.find_by_token(token)).status == "invalid"
    page = _page(hq, cert.household_id)
    assert "Revoked" in page and "Print the card" not in page and "Suspend" not in page
    # a revoked certificate takes no more steps and prints no card
    resp = hq.post(f"/certificates/{cert.id}/suspend", data=_form(cert, category="manual"))
    assert resp.status_code == 409
    assert hq.get(f"/certificates/{cert.id}/card.pdf").status_code == 409


def test_reissue_gives_a_new_number_token_and_code_and_the_old_card_shows_replaced(app, client, world):
    old = issued(world)
    old_token = services.card_token(old)
    _en(client, world.officer)
    resp = client.post(f"/certificates/{old.id}/suspend", data=_form(old, category="overdue"))
    assert resp.status_code == 303
    key = new_key()
    data = _form(old, reason="遗失补办", idem_key=key)
    resp = client.post(f"/certificates/{old.id}/reissue", data=data)
    assert resp.status_code == 303
    again = client.post(f"/certificates/{old.id}/reissue", data=data)  # a double tap: one new card
    assert again.headers.get("Idempotent-Replayed") == "true"
    certs = db.session.scalars(sa.select(Certificate).where(Certificate.household_id == old.household_id)
                               .order_by(Certificate.id)).all()
    assert len(certs) == 2
    old, new = _reload(certs[0]), certs[1]
    new_token = services.card_token(new)
    assert old.status == "superseded" and old.superseded_by_id == new.id
    assert new.cert_no != old.cert_no and new.check_code != old.check_code and new_token != old_token
    assert new.credit_line_id == old.credit_line_id and new.valid_to == old.valid_to
    assert (new.status, new.suspension_category) == ("suspended", "overdue")  # the suspension carries over
    assert services.public_view(services.find_by_token(old_token)).status == "superseded"
    assert services.public_view(services.find_by_token(new_token)).status == "suspended"
    page = _page(client, new.household_id)
    assert new.cert_no in page and "Earlier certificates" in page and old.cert_no in page
    assert f"replaced by {new.cert_no}" in page
    # the old certificate takes no more steps
    resp = client.post(f"/certificates/{old.id}/resume", data=_form(old))
    assert resp.status_code == 409


def test_a_new_rating_reconfirms_the_line_and_reissues_when_the_line_changed(app, world):
    cert = issued(world)
    line = db.session.get(CreditLine, cert.credit_line_id)
    household = db.session.get(Household, cert.household_id)
    # a year later the household is rated again (a new accepted file) with a bigger income
    _move_to(app, line.reconfirm_by - timedelta(days=10))
    rating = final_rating(world, household, income=[(120000, "document")])
    assert rating.effective_line_fen != cert.line_fen
    new = services.issue(rating, user=world.officer)
    db.session.commit()
    line = db.session.get(CreditLine, line.id)
    assert new.id != cert.id and _reload(cert).status == "superseded" and new.credit_line_id == line.id
    assert line.rating_id == rating.id and line.limit_fen == new.line_fen == rating.effective_line_fen
    assert line.reconfirm_by == min(rating.valid_to, line.valid_to)
    assert db.session.scalar(sa.select(sa.func.count()).select_from(CreditLine)) == 1
    assert services.issue(rating, user=world.officer).id == new.id  # still idempotent


# ---------------------------------------------------------------- dates: expiry and the yearly re-confirmation

def test_rating_expired_and_expiry_by_the_tick_and_on_read(app, client, world):
    a = issued(world)
    b = issued(world)
    line = db.session.get(CreditLine, a.credit_line_id)
    token_a = services.card_token(a)

    _move_to(app, line.reconfirm_by)  # the last day of the year: still valid
    assert jobs.tick()["certificates.expire"] == 0
    _move_to(app, line.reconfirm_by + timedelta(days=1))
    # on read: the household page shows it before any tick ran
    _en(client, world.officer)
    page = _page(client, a.household_id)
    assert "Rating expired" in page and "Suspended" in page
    a = _reload(a)
    assert (a.status, a.suspension_category) == ("suspended", "rating_expired")
    assert db.session.get(CreditLine, a.credit_line_id).status == "suspended"
    view = services.public_view(services.find_by_token(token_a))
    assert (view.status, view.suspension_category) == ("suspended", "rating_expired")
    # the tick does the others (and only once)
    assert jobs.tick()["certificates.expire"] == 1
    assert (_reload(b).status, _reload(b).suspension_category) == ("suspended", "rating_expired")
    assert jobs.tick()["certificates.expire"] == 0

    # lifting by hand is refused while the rating is not re-confirmed
    resp = client.post(f"/certificates/{a.id}/resume", data=_form(a))
    assert resp.status_code == 422 and "re-confirm" in resp.get_data(as_text=True)
    # only a manager re-confirms; then it is active again, for another 12 months
    assert client.post(f"/certificates/{a.id}/reconfirm", data=_form(a)).status_code == 403
    manager = app.test_client()
    _en(manager, world.manager)
    resp = manager.post(f"/certificates/{a.id}/reconfirm", data=_form(a))
    assert resp.status_code == 303
    a = _reload(a)
    line = db.session.get(CreditLine, a.credit_line_id)
    assert (a.status, a.suspension_category, line.status) == ("active", None, "active")
    assert line.reconfirm_by == rules.add_months(clock.today(), 12)
    assert services.public_view(a).status == "valid"

    # after valid_to: expired, whatever was re-confirmed
    _move_to(app, a.valid_to + timedelta(days=1))
    assert jobs.tick()["certificates.expire"] == 2
    assert _reload(a).status == "expired" and _reload(b).status == "expired"
    assert db.session.get(CreditLine, a.credit_line_id).status == "expired"
    view = services.public_view(services.find_by_token(token_a))
    assert view.status == "expired" and view.valid_to == a.valid_to
    assert jobs.tick()["certificates.expire"] == 0


def test_refresh_on_read_expires_a_certificate_without_the_tick(app, world):
    cert = issued(world)
    assert services.refresh(cert, cert.valid_to) is True   # (the re-confirmation lapsed long before)
    assert cert.status == "suspended"
    assert services.refresh(cert, cert.valid_to + timedelta(days=1)) is True
    assert cert.status == "expired" and services.refresh(cert, cert.valid_to + timedelta(days=2)) is False


# ---------------------------------------------------------------- cards

def test_one_card_prints_front_and_back_without_personal_data_and_counts_the_print(app, client, world, tmp_path):
    cert = issued(world)
    household = db.session.get(Household, cert.household_id)
    member = db.session.scalar(sa.select(Member).where(Member.household_id == household.id))
    _en(client, world.officer)
    resp = client.get(f"/certificates/{cert.id}/card.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert "no-store" in resp.headers["Cache-Control"]
    text = _pdftotext(resp.data)
    assert cert.cert_no in text and cert.check_code in text and cert.holder_display in text
    assert household.head_name not in text and member.id_number not in text and member.id_number[-4:] not in text
    assert "Scan to check it is genuine" in text and services.settings().hotline in text
    assert _pdfinfo(resp.data, tmp_path) == (2, "242.646 x 153.071 pts")  # 85.6 x 54 mm
    pages = _pages_png(resp.data, tmp_path)
    found = [r.text for img in pages for r in zxingcpp.read_barcodes(img)]
    assert found == [services.verify_url(services.card_token(cert))]
    cert = _reload(cert)
    assert cert.print_count == 1 and cert.last_printed_at is not None
    client.get(f"/certificates/{cert.id}/card.pdf")
    assert _reload(cert).print_count == 2
    prints = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "print",
                                                            AuditEvent.entity_type == "Certificate")).all()
    assert len(prints) == 2 and {p.actor_id for p in prints} == {world.officer.id}
    # auditors read but never print a card
    auditor = app.test_client()
    _en(auditor, world.auditor)
    assert auditor.get(f"/certificates/{cert.id}/card.pdf").status_code == 403
    page = _page(auditor, cert.household_id)
    assert cert.cert_no in page and "Suspend" not in page and "Print the card" not in page


def test_a_village_sheet_holds_ten_cards_with_crop_marks_and_every_qr_decodes(app, client, world, tmp_path):
    certs = [issued(world, world.v1) for _ in range(12)]
    extra = issued(world, world.v1)
    services.suspend(extra, "manual", None, world.officer)  # suspended cards are not in the batch
    db.session.commit()
    _en(client, world.manager)
    resp = client.get(f"/villages/{world.v1.id}/certificates/cards.pdf")
    assert resp.status_code == 200
    assert _pdfinfo(resp.data, tmp_path) == (4, "595.276 x 841.89 pts (A4)")  # 2 sheets: fronts, backs
    text = _pdftotext(resp.data)
    for cert in certs:
        assert cert.cert_no in text and cert.check_code in text
    assert extra.cert_no not in text
    pages = _pages_png(resp.data, tmp_path)
    decoded = {}
    for number, img in enumerate(pages):
        for result in zxingcpp.read_barcodes(img):
            decoded[result.text] = number
    expected = {services.verify_url(services.card_token(c)): c for c in certs}
    assert set(decoded) == set(expected)
    assert {decoded[url] for url in expected} == {1, 3}  # the QR codes are on the back pages
    for url, cert in expected.items():
        assert services.find_by_token(url.rsplit("/", 1)[1]).id == cert.id
    assert all(_reload(c).print_count == 1 for c in certs) and _reload(extra).print_count == 0
    # only cards never printed: none left
    assert client.get(f"/villages/{world.v1.id}/certificates/cards.pdf?new=1").status_code == 404


def test_backs_are_mirrored_for_long_edge_duplex():
    assert [cards.mirrored(i) for i in range(10)] == [1, 0, 3, 2, 5, 4, 7, 6, 9, 8]
    fake = [object() for _ in range(13)]
    sheets = cards.sheets(fake)
    assert [(s.side, s.number, len(s.slots)) for s in sheets] == [
        ("front", 1, 10), ("back", 1, 10), ("front", 2, 3), ("back", 2, 3)]
    front, back = sheets[0], sheets[1]
    for f, b in zip(front.slots, back.slots):
        assert f.card is b.card and b.index == cards.mirrored(f.index)


def test_village_page_lists_certificates_by_status(app, client, world):
    a = issued(world, world.v1)
    issued(world, world.v1)
    services.suspend(a, "under_review", "复核中", world.officer)
    db.session.commit()
    _en(client, world.auditor)
    page = client.get(f"/villages/{world.v1.id}/certificates").get_data(as_text=True)
    assert a.cert_no in page and "Under review" in page and "2 certificates" in page
    assert "Issue certificates" not in page and "Print all cards" not in page
    part = client.get(f"/villages/{world.v1.id}/certificates", headers=HX).get_data(as_text=True)
    assert part.lstrip().startswith('<div id="certificate-rows">')


def test_a_new_rating_after_the_line_ended_grants_a_new_line(app, world):
    cert = issued(world)
    household = db.session.get(Household, cert.household_id)
    _move_to(app, cert.valid_to + timedelta(days=30))  # no tick ran: the old line is still "active" in the table
    rating = final_rating(world, household)
    new = services.issue(rating, user=world.officer)
    db.session.commit()
    old = _reload(cert)
    assert old.status == "expired" and db.session.get(CreditLine, old.credit_line_id).status == "expired"
    assert new.credit_line_id != old.credit_line_id and new.status == "active"
    line = db.session.get(CreditLine, new.credit_line_id)
    assert line.valid_from == clock.today() and line.rating_id == rating.id
    assert rules.serial_of(new.cert_no) == 1 and str(clock.today().year) in new.cert_no  # a new year's series
