"""Access-matrix rows for the public certificate check (fieldapp/certificates/verify.py), and helpers that issue real
certificates through the real services: a household with an approved rating taken through the notice to final,
then `services.issue`.

Every role, logged in or not, sees the same public page: a valid card's token answers 200, an unknown one the neutral
404 page (the matrix's "out of scope").
"""
from __future__ import annotations

from types import SimpleNamespace

from fieldapp.certificates import services
from fieldapp.certificates.models import Certificate
from fieldapp.extensions import db
from fieldapp.ratings import services as ratings
from fieldapp.ratings.models import Rating
from tests.support.matrix import ROLES, Route

UNKNOWN_TOKEN = "ABCDEFGHJKMNPQRSTUVWXYZ234"  # well-formed (26 symbols of the alphabet), issued to nobody


def final_rating(w, household) -> Rating:
    """An approved rating of `household` (grid officer proposes, branch manager approves) taken through the notice
    to final with the ratings service's own transitions. Committed."""
    from tests.support.routes_notices import approved_rating
    rating = approved_rating(w, household)
    ratings.transition(rating, "notice")
    ratings.transition(rating, "finalise")
    db.session.commit()
    return db.session.get(Rating, rating.id)


def issued(w, household=None, *, village=None, head: str | None = None, group: int = 0) -> SimpleNamespace:
    """A certificate issued by the real service for `household` (or a new household of `village`, default 金星村,
    headed by `head`). Returns (cert, token, household) as a namespace. Committed."""
    from tests.support.routes_notices import new_household
    if household is None:
        household = new_household(village or w.v1, head=head, group=group)
    cert = services.issue(final_rating(w, household), user=w.manager)
    db.session.commit()
    return SimpleNamespace(cert=cert, token=services.card_token(cert), household=household)


def in_certificate(w) -> SimpleNamespace:
    cache = w.__dict__.setdefault("_verify_matrix", {})
    if "card" not in cache:
        cache["card"] = issued(w, head="欧阳验证")
    return cache["card"]


def token_ids(w, role):
    return in_certificate(w).token, UNKNOWN_TOKEN


def sweep_certificate(w) -> tuple[int, str]:
    """For the browser sweep: a valid certificate of 金星村; returns (its id, its QR token). Commits."""
    card = issued(w, head="司马扫码")
    return card.cert.id, card.token


ROUTES = {
    "certificates.verify": Route("GET", "/V/{id}", set(ROLES), ids=token_ids, public=True),
    "certificates.verify_lookup": Route("GET", "/V", set(ROLES), public=True),
}


def fresh(cert: Certificate) -> Certificate:
    db.session.expire_all()
    return db.session.get(Certificate, cert.id)
