"""A PII scan of every public verify response for ALL demo certificates, in every status they are in.

Each certificate's QR page (/V/<token>) and its typed-number page (/V?no=&code=) is fetched logged out. No response
may hold an ID number, a mobile number other than the configured hotlines, or a member's unmasked name; each page
of a certificate whose status shows the holder must show the expected masked name (the scan's positive control).
"""
from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from fieldapp.certificates import services
from fieldapp.certificates.models import Certificate
from fieldapp.core.masking import mask_name
from fieldapp.extensions import db
from fieldapp.households.models import Household, Member

pytestmark = pytest.mark.xdist_group("demo_verify_pii")

ID_NUMBER = re.compile(r"(?<!\d)\d{17}[\dXx](?!\d)")
MOBILE = re.compile(r"(?<!\d)1[3-9]\d{9}(?!\d)")


def test_no_public_verify_response_of_any_demo_certificate_leaks_personal_data(app):
    result = app.test_cli_runner().invoke(args=["demo", "load", "--households", "1500"])
    db.session.remove()
    assert result.exit_code == 0, result.output
    certs = db.session.scalars(sa.select(Certificate).order_by(Certificate.id)).all()
    statuses = {c.status for c in certs}
    assert len(certs) >= 5 and {"active", "suspended", "revoked", "superseded"} <= statuses, statuses
    hotlines = {app.config["CERT_HOTLINE"], app.config["NOTICE_HOTLINE"]}
    client = app.test_client()
    shown = 0
    for cert in certs:
        household = db.session.get(Household, cert.household_id)
        names = [m.name for m in db.session.scalars(sa.select(Member).where(Member.household_id == household.id))]
        token = services.card_token(cert)
        pages = [client.get(f"/V/{token}"),
                 client.get("/V", query_string={"no": cert.cert_no, "code": cert.check_code})]
        for resp in pages:
            body = resp.get_data(as_text=True)
            assert not ID_NUMBER.search(body), cert.cert_no
            assert set(MOBILE.findall(body)) <= {h for h in hotlines if MOBILE.fullmatch(h)}, cert.cert_no
            for name in names:
                if len(name) >= 2:
                    assert name not in body, (cert.cert_no, cert.status)
            if cert.status in ("active", "issued"):
                assert resp.status_code == 200 and mask_name(household.head_name) in body, cert.cert_no
                shown += 1
    assert shown > 0  # the positive control ran
