"""`flask demo load`: the certificates layer issues a certificate for every final rating of the demo county (not for
不予评级), then reissues one, revokes one (grid officer asks, branch manager approves), and suspends two as overdue
and one as village risk; the public verify page shows each state; a second run adds nothing."""
from __future__ import annotations

import sqlalchemy as sa

from fieldapp.accounts.models import User
from fieldapp.certificates import services
from fieldapp.certificates.models import Certificate, CreditLine
from fieldapp.core.audit import AuditEvent
from fieldapp.extensions import db
from fieldapp.org.models import County
from fieldapp.ratings.models import Rating
from tests.web.test_demo_notices import run_demo

SIZE = "1500"   # the notices layer needs enough rated households to finalise a village


def counts() -> dict[str, int]:
    return {m.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
            for m in (Certificate, CreditLine, AuditEvent)}


def test_the_demo_issues_certificates_in_every_state(app):
    offset = app.config.get("CLOCK_OFFSET_SECONDS", 0)
    first = run_demo(app, "--households", SIZE)
    assert "certificates: issued " in first.output, first.output
    assert "1 reissued, 1 revoked, 2 overdue, 1 village_risk" in first.output, first.output
    assert app.config.get("CLOCK_OFFSET_SECONDS", 0) == offset  # the layer put the clock back

    county = db.session.scalar(sa.select(County).where(County.admin_code == "532999"))
    final = db.session.scalars(sa.select(Rating).where(Rating.county_id == county.id, Rating.status == "final")).all()
    eligible = [r for r in final if r.effective_grade != "not_rated" and r.effective_line_fen > 0]
    assert eligible, "the notices layer finalises a village"
    lines = db.session.scalars(sa.select(CreditLine)).all()
    # C-1: one credit line per eligible final rating, none for anything else
    assert sorted(line.rating_id for line in lines) == sorted(r.id for r in eligible)
    certs = db.session.scalars(sa.select(Certificate).order_by(Certificate.id)).all()
    assert all(c.county_id == county.id for c in certs)
    assert all(c.print_count >= 1 for c in certs)  # every card printed once

    by_status: dict[str, list[Certificate]] = {}
    for cert in certs:
        by_status.setdefault(cert.status, []).append(cert)
    assert sorted(c.suspension_category for c in by_status["suspended"]) == ["overdue", "overdue", "village_risk"]
    assert all(services.line_of(c).status == "suspended" for c in by_status["suspended"])

    [revoked] = by_status["revoked"]
    maker = db.session.get(User, revoked.revoke_requested_by)
    checker = db.session.get(User, revoked.revoked_by)
    assert maker.id != checker.id  # maker-checker: two different demo users
    assert maker.has_role("grid_officer") and checker.has_role("branch_manager")
    assert revoked.revoke_reason and services.line_of(revoked).status == "revoked"

    [old] = by_status["superseded"]
    new = db.session.get(Certificate, old.superseded_by_id)
    assert new.status == "active" and new.credit_line_id == old.credit_line_id
    assert (new.cert_no, new.token_hash) != (old.cert_no, old.token_hash)
    assert by_status["active"]

    # the public page shows each state on the next scan
    public = app.test_client()
    expected = {"active": 200, "suspended": 200, "superseded": 200, "revoked": 404}
    pages = {}
    for status, code in expected.items():
        cert = by_status[status][0]
        response = public.get(f"/V/{services.card_token(cert)}")
        assert response.status_code == code, (status, response.status_code)
        pages[status] = response.get_data(as_text=True)
    active = by_status["active"][0]
    assert active.holder_display in pages["active"] and active.cert_no in pages["active"]
    assert by_status["suspended"][0].cert_no in pages["suspended"]
    assert old.cert_no not in pages["superseded"]  # 已换发 and the hotline, nothing else

    # a second run adds nothing
    before = counts()
    states = [(c.id, c.status, c.suspension_category, c.print_count) for c in certs]
    db.session.remove()
    again = run_demo(app, "--households", SIZE)
    assert "certificates: nothing to add" in again.output, again.output
    assert counts() == before
    assert [(c.id, c.status, c.suspension_category, c.print_count)
            for c in db.session.scalars(sa.select(Certificate).order_by(Certificate.id))] == states
