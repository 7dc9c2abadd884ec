"""Access-matrix rows for the staff certificate pages (fieldapp/certificates/views.py), plus helpers that make final
ratings and certificates through the real services.

Every role's in-scope certificate or household is in 金星村 (v1: seen by head office, the branch manager, the grid
officer and the auditor); out of scope it is in 桃源村 (v3, another branch's grid) for the branch manager and the grid
officer, in 乌兰嘎查 (county B) for head office and the auditor. Writing routes get a fresh certificate in the state
their step needs, version 1, for each role allowed to call them.
"""
from __future__ import annotations

import sqlalchemy as sa

from fieldapp.certificates import services as certificates
from fieldapp.certificates.models import Certificate
from fieldapp.extensions import db
from fieldapp.households.models import Household
from fieldapp.ratings.models import Rating
from tests.support.matrix import Route

READ = {"hq_admin", "branch_manager", "grid_officer", "auditor"}
WRITE = {"hq_admin", "branch_manager", "grid_officer"}
APPROVE = {"branch_manager", "hq_admin"}

_SEQ = [0]


def _next() -> int:
    _SEQ[0] += 1
    return _SEQ[0]


def new_household(village, *, head: str | None = None, group: int = 0) -> Household:
    """A new household of `village` (its `group`-th group by id) with one member, the head."""
    from tests.support.world import add_household, make_id
    n = _next()
    grp = sorted(village.groups, key=lambda g: g.id)[group]
    return add_household(village, grp, f"H-C{village.id}-{n:04d}",
                         [(head or f"授信户{n:03d}", "head", make_id("532931", "19800101", 100 + n % 800))])


def final_rating(w, household: Household, **file) -> Rating:
    """A rating proposed by the grid officer, reviewed, approved by the branch manager, then set to "final" directly:
    the public-notice steps between approval and final (W4) are tested in the notices tests, not repeated here.
    Committed."""
    from fieldapp.ratings import services as ratings
    from tests.support.routes_ratings import reviewed_rating
    rating = reviewed_rating(household, w.officer, **file)
    if rating.status == "reviewed":
        ratings.approve(rating, w.hq if ratings.approval_role_needed(rating) == "hq_admin" else w.manager)
    if rating.status == "approved":
        rating.status = "final"  # shortcut: notice opened, closed and finalised
    db.session.commit()
    return db.session.get(Rating, rating.id)


def issued(w, village=None, *, household: Household | None = None, user=None, **file) -> Certificate:
    """A new household of `village` (default v1) with a final rating and its issued certificate. Committed."""
    household = household or new_household(village or w.v1)
    rating = final_rating(w, household, **file)
    cert = certificates.issue(rating, user=user or w.officer)
    db.session.commit()
    return cert


def _version_one(cert: Certificate) -> int:
    db.session.execute(sa.update(Certificate).where(Certificate.id == cert.id).values(version=1))
    db.session.commit()
    return cert.id


def _outside(w, role):
    return {"hq_admin": w.vb, "auditor": w.vb}.get(role, w.v3)


def _cached(w, village) -> int:
    cache = w.__dict__.setdefault("_matrix_certs", {})
    if village.id not in cache:
        cache[village.id] = _version_one(issued(w, village))
    return cache[village.id]


def cert_ids(w, role):
    return _cached(w, w.v1), _cached(w, _outside(w, role))


def _fresh(w, role, allowed, prepare=None) -> tuple[int, int]:
    """A fresh certificate (prepared for the step) for a role that may call the route; the cached one otherwise."""
    if role not in allowed:
        return cert_ids(w, role)
    cert = issued(w, w.v1)
    if prepare is not None:
        prepare(w, cert)
        db.session.commit()
    return _version_one(cert), _cached(w, _outside(w, role))


def fresh_ids(w, role):
    return _fresh(w, role, WRITE)


def suspended_ids(w, role):
    return _fresh(w, role, WRITE, lambda w, c: certificates.suspend(c, "overdue", "逾期45天", w.officer))


def revoke_requested_ids(w, role):
    return _fresh(w, role, APPROVE, lambda w, c: certificates.request_revoke(c, "骗取授信", w.officer))


def household_ids(w, role):
    cache = w.__dict__.setdefault("_matrix_households", {})
    for village in (w.v1, _outside(w, role)):
        if village.id not in cache:
            cache[village.id] = db.session.get(Certificate, _cached(w, village)).household_id
    return cache[w.v1.id], cache[_outside(w, role).id]


def issuable_ids(w, role):
    """A household with a final rating and no certificate yet, for each role that may issue."""
    if role not in WRITE:
        return household_ids(w, role)
    household = new_household(w.v1)
    final_rating(w, household)
    return household.id, household_ids(w, role)[1]


def village_ids(w, role):
    _cached(w, w.v1)  # at least one card to print
    return w.v1.id, _outside(w, role).id


ROUTES = {
    "certificates.household_certificate": Route("GET", "/households/{id}/certificate", READ, ids=household_ids),
    "certificates.household_issue": Route("POST", "/households/{id}/certificate/issue", WRITE, ok=303,
                                          ids=issuable_ids, data={"idem_key": "issue-{role}-{id}"}),
    "certificates.suspend": Route("POST", "/certificates/{id}/suspend", WRITE, ok=303, ids=fresh_ids,
                                  data={"version": "1", "category": "village_risk", "reason": "村级熔断"}),
    "certificates.resume": Route("POST", "/certificates/{id}/resume", WRITE, ok=303, ids=suspended_ids,
                                 data={"version": "1"}),
    "certificates.revoke_request": Route("POST", "/certificates/{id}/revoke-request", WRITE, ok=303, ids=fresh_ids,
                                         data={"version": "1", "reason": "户籍注销"}),
    "certificates.revoke_withdraw": Route("POST", "/certificates/{id}/revoke-withdraw", WRITE, ok=303,
                                          ids=lambda w, role: _fresh(w, role, WRITE, lambda w, c: (
                                              certificates.request_revoke(c, "误报", w.officer))),
                                          data={"version": "1"}),
    "certificates.revoke_approve": Route("POST", "/certificates/{id}/revoke-approve", APPROVE, ok=303,
                                         ids=revoke_requested_ids, data={"version": "1"}),
    "certificates.reconfirm": Route("POST", "/certificates/{id}/reconfirm", APPROVE, ok=303,
                                    ids=lambda w, role: _fresh(w, role, APPROVE), data={"version": "1"}),
    "certificates.reissue": Route("POST", "/certificates/{id}/reissue", WRITE, ok=303, ids=fresh_ids,
                                  data={"version": "1", "reason": "遗失补办", "idem_key": "reissue-{role}-{id}"}),
    "certificates.card_pdf": Route("GET", "/certificates/{id}/card.pdf", WRITE, ids=cert_ids),
    "certificates.village_certificates": Route("GET", "/villages/{id}/certificates", READ, ids=village_ids),
    "certificates.village_issue": Route("POST", "/villages/{id}/certificates/issue", WRITE, ok=303, ids=village_ids,
                                        data={"idem_key": "vissue-{role}-{id}"}),
    "certificates.village_cards_pdf": Route("GET", "/villages/{id}/certificates/cards.pdf", WRITE, ids=village_ids),
}
