"""The public certificate check (授信证查验, domain W5 C-6/C-7, §4.3): /V/<TOKEN> from the card's QR code, and /V with
the certificate number and its 6-character check code typed by hand. No login, no script, `noindex`, `no-store`.

What a page shows depends on the certificate's status after `services.refresh` (expiry and re-confirmation on read):
active shows the masked card; suspended only the reason category; expired the valid-to date; superseded only that it
was replaced. Revoked, unknown and malformed tokens (and a wrong number or check code) all get ONE neutral "invalid"
page, the same bytes apart from the time of the check and the same status code, so an answer never tells which case
it was.

Throttling is per IP: VERIFY_RATE_LIMIT counts every check; VERIFY_MISS_RATE_LIMIT, much lower, counts only misses
(the neutral page), and once it is spent the IP gets 429 for any check until the window moves on.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import current_app, make_response, render_template, request, url_for

from ..core import access, clock
from ..extensions import db, limiter
from . import bp, rules, services
from .models import Certificate

VERIFY_ENDPOINTS = frozenset({"certificates.verify", "certificates.verify_lookup"})
MISS_STATUS = 404  # the neutral page's status, for revoked, unknown and malformed alike
LONGEST_INPUT = 64  # longer input is no token, number or check code: a miss without a lookup


def _all_limit() -> str:
    return current_app.config.get("VERIFY_RATE_LIMIT", "60 per minute")


def _miss_limit() -> str:
    return current_app.config.get("VERIFY_MISS_RATE_LIMIT", "10 per minute")


def _is_miss(response) -> bool:
    return response.status_code == MISS_STATUS


# Shared across both routes: a scan and a typed lookup spend the same per-IP budgets. The miss limit is tested
# before the view runs and only charged (after it) when the answer was the neutral page.
_every_check = limiter.shared_limit(_all_limit, scope="certificate-verify")
_misses = limiter.shared_limit(_miss_limit, scope="certificate-verify-miss", deduct_when=_is_miss)


@bp.after_request
def _public_headers(response):
    """Every verify answer (429 and error pages included): never stored, never indexed."""
    if request.endpoint in VERIFY_ENDPOINTS:
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Robots-Tag"] = "noindex, nofollow"
    return response


# ---------------------------------------------------------------- lookups

def _lookup_token(raw: str) -> Certificate | None:
    """By the QR token (any case; malformed input costs no query)."""
    if not raw or len(raw) > LONGEST_INPUT:
        return None
    return services.find_by_token(raw)


def _lookup_number(cert_no: str, check_code: str) -> Certificate | None:
    """By number and check code as typed (full-width characters, dashes, spaces and case are forgiven)."""
    if len(cert_no) > LONGEST_INPUT or len(check_code) > LONGEST_INPUT:
        return None
    return services.find_by_number(cert_no, check_code)


def _shown(cert: Certificate | None) -> Certificate | None:
    """The certificate brought up to date on read (expiry, lapsed re-confirmation; committed), or None when the page
    must be the neutral one (not found, or revoked)."""
    if cert is None:
        return None
    if services.refresh(cert):
        db.session.commit()
    if rules.public_status(cert.status) == "invalid":
        return None
    return cert


# ---------------------------------------------------------------- page pieces

def _checked_at() -> tuple[str, str]:
    """The time of this check in the village's time zone: (display text, ISO value for <time datetime>)."""
    moment = clock.now().astimezone(clock.LOCAL_TZ).replace(microsecond=0)
    return moment.strftime("%Y-%m-%d %H:%M:%S"), moment.isoformat()


def official_domain() -> str:
    """The host people should trust, from PUBLIC_BASE_URL (what the QR codes hold)."""
    base = current_app.config.get("PUBLIC_BASE_URL", "")
    return urlsplit(base).hostname or base


def tel(number: str) -> str:
    """A tap-to-call href value: digits (and a leading +) only."""
    number = (number or "").strip()
    return ("+" if number.startswith("+") else "") + re.sub(r"\D", "", number)


def _open_notice_path(village_id: int) -> str | None:
    """The village's open public notice (公示), if one is open now."""
    from ..notices.models import Notice
    token = db.session.scalar(
        sa.select(Notice.public_token).where(Notice.village_id == village_id, Notice.status == "open")
        .order_by(Notice.id.desc()).limit(1))
    return url_for("notices.public_notice", token=token) if token else None


def _common() -> dict:
    shown, iso = _checked_at()
    return {"checked_at": shown, "checked_iso": iso, "domain": official_domain()}


def _page(template: str, status: int = 200, **context):
    return make_response(render_template(template, **_common(), **context), status)


def _invalid():
    """The one neutral answer for revoked, unknown, malformed, and a wrong number or check code. Nothing in it
    depends on the request (the language link returns to /V), only the time of the check changes."""
    hotline = services.settings().hotline
    return _page("certificates/verify_invalid.html", status=MISS_STATUS, hotline=hotline, hotline_tel=tel(hotline),
                 current_path="/V")


def _answer(cert: Certificate | None):
    cert = _shown(cert)
    if cert is None:
        return _invalid()
    view = services.public_view(cert)
    # the village's notice only beside a valid card: a suspended or expired page does not even name the village
    notice = _open_notice_path(view.village_id) if view.status == "valid" else None
    return _page("certificates/verify.html", view=view, hotline_tel=tel(view.hotline), notice_path=notice)


# ---------------------------------------------------------------- routes

@bp.get("/v/<path:cert_token>")  # registered second: url_for builds the upper-case form
@bp.get("/V/<path:cert_token>")
@_every_check
@_misses
@access.public
def verify(cert_token: str):
    """The page the card's QR code opens: the certificate's status in big words and its public fields."""
    return _answer(_lookup_token(cert_token))


@bp.get("/v")
@bp.get("/V")
@_every_check
@_misses
@access.public
def verify_lookup():
    """Check by hand: the certificate number and the check code printed on the card; the same status page."""
    if "no" not in request.args and "code" not in request.args:
        return _page("certificates/verify_lookup.html", cert_no="", code="", missing=False)
    cert_no, code = request.args.get("no", "").strip(), request.args.get("code", "").strip()
    if not cert_no or not code:
        return _page("certificates/verify_lookup.html", status=422, cert_no=cert_no[:LONGEST_INPUT],
                     code=code[:LONGEST_INPUT], missing=True)
    return _answer(_lookup_number(cert_no, code))
