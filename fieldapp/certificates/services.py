"""Certificate use cases (domain W5, §2.7): issue a line and its certificate from a final rating, suspend and resume,
revoke (maker-checker), reissue, yearly re-confirmation, expiry by date, printing, and the lookups the public verify
page needs (by QR token, by number and check code) with its public-only view of a certificate.

The QR token is never stored: only its HMAC-SHA256 (the unique lookup key) and an AES-GCM sealed copy for reprints,
both under a key derived with HKDF (label b"certificate-token-v1") from CERT_TOKEN_KEY, or SECRET_KEY by default.
Functions flush, never commit (the view, the job worker or the tick commits). Every decision is asked of rules.py.
"""
from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from flask import current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from ..core import audit, clock, jobs
from ..core.clock import utcnow_naive
from ..core.masking import mask_name
from ..extensions import db
from ..households.models import Household
from ..org.models import Branch, County, Grid, GridArea, Village
from ..ratings import rules as rating_rules
from ..ratings.models import Rating
from ..ratings.services import Refused
from . import rules
from .models import Certificate, CreditLine

__all__ = [
    "Refused", "settings", "token_hash", "seal_token", "unseal_token", "card_token", "verify_url", "find_by_token",
    "find_by_number", "issue_problem", "issue", "line_of", "current_certificate", "certificates_of", "suspend",
    "resume", "request_revoke", "withdraw_revoke", "revoke_problem", "approve_revoke", "reissue", "reconfirm",
    "refresh", "expire_due", "print_cards", "public_view", "PublicCertificate", "ratings_to_issue",
    "start_issue_batch", "branch_of",
]

TOKEN_LABEL = b"certificate-token-v1"
SEAL_MAGIC = b"FCT1"
MAX_ATTEMPTS = 8  # a unique clash on the number (two issuers at once) or, in theory, on the token: try again


# ---------------------------------------------------------------- settings and keys

@dataclass(frozen=True)
class Settings:
    valid_years: int
    hotline: str
    bank: str
    base_url: str


def settings() -> Settings:
    c = current_app.config
    return Settings(valid_years=int(c.get("CERT_VALID_YEARS", rules.DEFAULT_VALID_YEARS)),
                    hotline=str(c.get("CERT_HOTLINE") or c.get("NOTICE_HOTLINE") or ""),
                    bank=str(c.get("BANK_NAME", "")), base_url=str(c["PUBLIC_BASE_URL"]))


_KEY_CACHE: dict[bytes, tuple[bytes, bytes]] = {}


def _keys() -> tuple[bytes, bytes]:
    """(HMAC key, AES key) for tokens: HKDF of CERT_TOKEN_KEY, else of SECRET_KEY, under the certificate label."""
    secret = current_app.config.get("CERT_TOKEN_KEY") or current_app.config["SECRET_KEY"]
    material = secret.encode() if isinstance(secret, str) else bytes(secret)
    slot = hashlib.sha256(material).digest()
    if slot not in _KEY_CACHE:
        derived = HKDF(algorithm=hashes.SHA256(), length=64, salt=b"fieldapp-certificates",
                       info=TOKEN_LABEL).derive(material)
        _KEY_CACHE[slot] = (derived[:32], derived[32:])
    return _KEY_CACHE[slot]


def token_hash(token: str) -> str:
    """HMAC-SHA256 (hex) of a canonical token: the only form in which tokens are looked up."""
    return hmac.new(_keys()[0], token.encode("ascii"), hashlib.sha256).hexdigest()


def seal_token(token: str) -> bytes:
    """The token encrypted and authenticated (AES-GCM, random nonce) for reprinting the card."""
    nonce = os.urandom(12)
    return SEAL_MAGIC + nonce + AESGCM(_keys()[1]).encrypt(nonce, token.encode("ascii"), TOKEN_LABEL)


def unseal_token(blob: bytes) -> str:
    """The token inside `blob`; ValueError if it is not ours or was altered."""
    blob = bytes(blob or b"")
    if not blob.startswith(SEAL_MAGIC) or len(blob) < len(SEAL_MAGIC) + 12 + 16:
        raise ValueError("not a sealed certificate token")
    nonce = blob[len(SEAL_MAGIC):len(SEAL_MAGIC) + 12]
    try:
        return AESGCM(_keys()[1]).decrypt(nonce, blob[len(SEAL_MAGIC) + 12:], TOKEN_LABEL).decode("ascii")
    except InvalidTag as exc:
        raise ValueError("sealed certificate token failed authentication") from exc


def card_token(cert: Certificate) -> str:
    """The certificate's QR token, for printing its card."""
    return unseal_token(cert.token_sealed)


def verify_url(token: str) -> str:
    """The absolute URL in the QR code: PUBLIC_BASE_URL + /V/ + TOKEN, scheme and host upper case (alphanumeric QR)."""
    return rules.verify_url(settings().base_url, token)


# ---------------------------------------------------------------- lookups (the public verify page)

def find_by_token(token: str) -> Certificate | None:
    """The certificate whose QR holds `token` (as scanned or typed), or None; malformed input costs no query."""
    canonical = rules.normalise_token(token)
    if canonical is None:
        return None
    return db.session.scalar(sa.select(Certificate).where(Certificate.token_hash == token_hash(canonical)))


def find_by_number(cert_no: str, check_code: str) -> Certificate | None:
    """The certificate with this number whose check code matches (both as typed), or None."""
    number = rules.normalise_cert_no(cert_no)
    code = rules.normalise_check_code(check_code)
    if number is None or code is None:
        return None
    cert = db.session.scalar(sa.select(Certificate).where(Certificate.cert_no == number))
    if cert is None or not hmac.compare_digest(cert.check_code.encode(), code.encode()):
        return None
    return cert


# ---------------------------------------------------------------- reading

def line_of(cert: Certificate) -> CreditLine:
    return db.session.get(CreditLine, cert.credit_line_id)


def certificates_of(household_id: int) -> list[Certificate]:
    """Every certificate of the household, newest first (history)."""
    return list(db.session.scalars(sa.select(Certificate).where(Certificate.household_id == household_id)
                                   .order_by(Certificate.id.desc())))


def current_certificate(household_id: int) -> Certificate | None:
    """The household's newest certificate that has not been replaced (it may be suspended, expired or revoked)."""
    return db.session.scalar(sa.select(Certificate).where(Certificate.household_id == household_id,
                                                          Certificate.status != "superseded")
                             .order_by(Certificate.id.desc()).limit(1))


def branch_of(household: Household) -> Branch | None:
    """The branch whose grid covers the household's group (a grid of the single group first, then the village)."""
    stmt = (sa.select(Branch).join(Grid, Grid.branch_id == Branch.id).join(GridArea, GridArea.grid_id == Grid.id)
            .where(GridArea.village_id == household.village_id,
                   sa.or_(GridArea.group_id.is_(None), GridArea.group_id == household.group_id))
            .order_by(GridArea.group_id.is_(None), Grid.level, Grid.code).limit(1))
    return db.session.scalar(stmt)


# ---------------------------------------------------------------- transitions

def _move(obj, event: str, kind: str, *, category: str | None = None, reason: str | None = None) -> None:
    try:
        obj.status = rules.next_status(obj.status, event, kind)
    except rules.TransitionRefused as exc:
        labels = rules.CERT_STATUS_LABELS if kind == "certificate" else rules.LINE_STATUS_LABELS
        raise Refused(_("This certificate cannot take that step now (it is %(status)s).",
                        status=_(labels.get(exc.current, exc.current))), code="transition") from exc
    obj.suspension_category = category if obj.status == "suspended" else None
    obj.status_reason = (reason or "").strip()[:300] or None
    obj.status_changed_at = utcnow_naive()


def _line_follows(line: CreditLine, event: str, *, category: str | None = None, reason: str | None = None) -> None:
    """Apply `event` to the line when its status allows it (the line mirrors its live certificate)."""
    if (line.status, event) in rules.LINE_TRANSITIONS:
        _move(line, event, "line", category=category, reason=reason)
    elif line.status == "suspended" and event == "suspend":
        line.suspension_category, line.status_reason = category, (reason or "").strip()[:300] or None


def refresh(cert: Certificate, today: date | None = None) -> bool:
    """Make the date-driven state durable (C-2, C-3): expired after valid_to; suspended as rating_expired after
    reconfirm_by; active again once re-confirmed. Flushes nothing itself; returns whether anything changed."""
    today = today or clock.today()
    line = line_of(cert)
    changed = False
    for obj, kind in ((line, "line"), (cert, "certificate")):
        change = rules.date_change(obj.status, obj.suspension_category, obj.valid_to, line.reconfirm_by, today)
        if change is None:
            continue
        if (obj.status, change.event) not in (rules.CERT_TRANSITIONS if kind == "certificate"
                                              else rules.LINE_TRANSITIONS):
            continue
        reason = {"expire": "valid_to passed", "suspend": "yearly re-confirmation lapsed",
                  "resume": "re-confirmed"}[change.event]
        _move(obj, change.event, kind, category=change.category, reason=reason)
        changed = True
    return changed


@jobs.tick_task("certificates.expire")
def expire_due() -> int:
    """Every live certificate whose dates moved it (expired, re-confirmation lapsed or restored)."""
    today = clock.today()
    stmt = (sa.select(Certificate).join(CreditLine, CreditLine.id == Certificate.credit_line_id)
            .where(Certificate.status.in_(rules.LIVE_CERT_STATUSES),
                   sa.or_(Certificate.valid_to < today, CreditLine.valid_to < today, CreditLine.reconfirm_by < today,
                          sa.and_(Certificate.status == "suspended",
                                  Certificate.suspension_category == "rating_expired"),
                          sa.and_(CreditLine.status == "suspended",
                                  CreditLine.suspension_category == "rating_expired")))
            .order_by(Certificate.id))
    count = 0
    for cert in db.session.scalars(stmt).all():
        if refresh(cert, today):
            count += 1
    db.session.flush()
    return count


# ---------------------------------------------------------------- issuing (C-1, C-2)

def issue_problem(rating: Rating) -> str | None:
    """Why no certificate can be issued for `rating` (None when one can)."""
    if not rules.may_issue(rating.status, rating.effective_grade):
        return _("A certificate is issued only for a final rating with a grade (not for 'not rated').")
    if rating.effective_line_fen <= 0:
        return _("This rating grants no credit line, so there is nothing to certify.")
    return None


def _next_cert_no(county: County, branch: Branch | None, year: int) -> str:
    prefix = rules.cert_no_prefix(county.admin_code, branch.code if branch else None, year)
    # a range on the unique index (the serial is zero-padded), not a LIKE that would scan every number
    last = db.session.scalar(sa.select(Certificate.cert_no)
                             .where(Certificate.cert_no.between(prefix + "000000", prefix + "999999"))
                             .order_by(Certificate.cert_no.desc()).limit(1))
    return rules.cert_no(county.admin_code, branch.code if branch else None, year,
                         rules.serial_of(last) + 1 if last else 1)


def _new_certificate(line: CreditLine, household: Household, *, grade: str, user_id: int | None,
                     status: str = "active", category: str | None = None, reason: str | None = None) -> Certificate:
    """A new certificate of `line` with a fresh number, token and check code (retried on a unique clash)."""
    county = db.session.get(County, household.county_id)
    branch = branch_of(household)
    today = clock.today()
    for _attempt in range(MAX_ATTEMPTS):
        token = rules.new_token()
        cert = Certificate(
            county_id=household.county_id, village_id=household.village_id, group_id=household.group_id,
            household_id=household.id, credit_line_id=line.id, rating_id=line.rating_id,
            branch_id=branch.id if branch else None, cert_no=_next_cert_no(county, branch, today.year),
            check_code=rules.new_check_code(), token_hash=token_hash(token), token_sealed=seal_token(token),
            kind="credit", holder_display=mask_name(household.head_name or ""), grade=grade, line_fen=line.limit_fen,
            issued_at=utcnow_naive(), issued_by=user_id, valid_to=line.valid_to, status="issued",
            status_changed_at=utcnow_naive())
        try:
            with db.session.begin_nested():
                db.session.add(cert)
        except IntegrityError:
            continue  # someone took this number meanwhile: the next one
        if status == "suspended":
            _move(cert, "suspend", "certificate", category=category, reason=reason)
        else:
            _move(cert, "activate", "certificate")
        return cert
    raise Refused(_("No certificate number could be allocated; try again."), code="number")


def _user_id(user) -> int | None:
    return getattr(user, "id", user)


def issue(rating: Rating, *, user) -> Certificate:
    """C-1: the credit line and its active certificate for a final rating.

    Idempotent per rating: a rating already issued returns its current certificate. A household with a live line
    from an earlier rating has that line re-confirmed by the new rating (new limit and re-confirmation date); when the
    grade or the line changed, its certificate is reissued (the old one shows 已换发).
    """
    problem = issue_problem(rating)
    if problem:
        raise Refused(problem, code="not_eligible")
    existing = db.session.scalar(sa.select(CreditLine).where(CreditLine.rating_id == rating.id)
                                 .order_by(CreditLine.id.desc()).limit(1))
    if existing is not None:
        cert = db.session.scalar(sa.select(Certificate).where(Certificate.credit_line_id == existing.id,
                                                              Certificate.status != "superseded")
                                 .order_by(Certificate.id.desc()).limit(1))
        if cert is not None:
            return cert
    household = db.session.get(Household, rating.household_id)
    today = clock.today()
    grade, limit = rating.effective_grade, rating.effective_line_fen
    uid = _user_id(user)
    for held in db.session.scalars(sa.select(Certificate).where(
            Certificate.household_id == household.id, Certificate.status.in_(rules.LIVE_CERT_STATUSES))).all():
        refresh(held, today)  # an old line past its end expires before the new one is granted
    live = db.session.scalar(sa.select(CreditLine).where(CreditLine.household_id == household.id,
                                                         CreditLine.status.in_(rules.LIVE_LINE_STATUSES))
                             .order_by(CreditLine.id.desc()).limit(1))
    if live is not None and live.valid_to >= today:
        return _reconfirm_with(live, rating, household, user_id=uid)
    s = settings()
    line_valid_to = rules.valid_to(today, s.valid_years)
    line = CreditLine(county_id=household.county_id, village_id=household.village_id, group_id=household.group_id,
                      household_id=household.id, rating_id=rating.id, limit_fen=limit, revolving=True,
                      valid_from=today, valid_to=line_valid_to,
                      reconfirm_by=rules.reconfirm_by(rating.valid_to, line_valid_to, today), status="pending",
                      created_by=uid, created_at=utcnow_naive(), status_changed_at=utcnow_naive())
    db.session.add(line)
    db.session.flush()
    _move(line, "activate", "line")
    cert = _new_certificate(line, household, grade=grade, user_id=uid)
    db.session.flush()
    return cert


def _reconfirm_with(line: CreditLine, rating: Rating, household: Household, *, user_id: int | None) -> Certificate:
    """A new final rating of a household with a live line: the line takes its limit and re-confirmation date."""
    today = clock.today()
    line.rating_id = rating.id
    line.limit_fen = rating.effective_line_fen
    line.reconfirm_by = rules.reconfirm_by(rating.valid_to, line.valid_to, today)
    cert = db.session.scalar(sa.select(Certificate).where(Certificate.credit_line_id == line.id,
                                                          Certificate.status.in_(rules.LIVE_CERT_STATUSES))
                             .order_by(Certificate.id.desc()).limit(1))
    if cert is not None:
        refresh(cert, today)
    if cert is None or cert.status not in rules.LIVE_CERT_STATUSES:
        cert = _new_certificate(line, household, grade=rating.effective_grade, user_id=user_id)
    elif cert.grade != rating.effective_grade or cert.line_fen != line.limit_fen:
        cert = _replace(cert, line, household, grade=rating.effective_grade, user_id=user_id,
                        reason="re-rated: grade or line changed")
    else:
        cert.rating_id = rating.id
    db.session.flush()
    return cert


# ---------------------------------------------------------------- who may act

def _check_writer(user) -> None:
    if not user.has_role("grid_officer", "branch_manager", "hq_admin"):
        raise Refused(_("Only the grid officer, the branch manager or head office can change certificates."),
                      code="not_allowed")


def _live_or_refuse(cert: Certificate) -> None:
    refresh(cert)
    if cert.status not in rules.LIVE_CERT_STATUSES:
        raise Refused(_("This certificate cannot take that step now (it is %(status)s).",
                        status=_(rules.CERT_STATUS_LABELS.get(cert.status, cert.status))), code="transition")


# ---------------------------------------------------------------- suspend and resume (C-3)

def suspend(cert: Certificate, category: str, reason: str | None, user) -> None:
    """Suspend the certificate and its line for a reason category (the only detail the public page shows).

    A certificate already suspended takes the new category (e.g. overdue on top of a lapsed re-confirmation).
    """
    _check_writer(user)
    if category not in rules.MANUAL_CATEGORIES:
        raise Refused(_("Choose the reason for the suspension from the list."), code="category")
    _live_or_refuse(cert)
    line = line_of(cert)
    if cert.status == "suspended":
        cert.suspension_category, cert.status_reason = category, (reason or "").strip()[:300] or None
    else:
        _move(cert, "suspend", "certificate", category=category, reason=reason)
    _line_follows(line, "suspend", category=category, reason=reason)
    db.session.flush()


def resume(cert: Certificate, user) -> None:
    """Lift a suspension: active again, unless the yearly re-confirmation has lapsed (then 评级过期 stays)."""
    _check_writer(user)
    _live_or_refuse(cert)
    if cert.status != "suspended":
        raise Refused(_("Only a suspended certificate can be resumed."), code="transition")
    line = line_of(cert)
    status, category = rules.after_resume(line.reconfirm_by, clock.today())
    if status == "suspended":
        if cert.suspension_category == category:
            raise Refused(_("The rating has not been re-confirmed this year: re-confirm it to lift this suspension."),
                          code="lapsed")
        cert.suspension_category, cert.status_reason = category, "yearly re-confirmation lapsed"
        line.suspension_category, line.status_reason = category, "yearly re-confirmation lapsed"
    else:
        _move(cert, "resume", "certificate")
        _line_follows(line, "resume")
    db.session.flush()


# ---------------------------------------------------------------- revoke (C-4, maker-checker)

def request_revoke(cert: Certificate, reason: str, user) -> None:
    """Ask for revocation (fraud, veto found, household dissolved, borrower deceased); a second person approves."""
    _check_writer(user)
    if not (reason or "").strip():
        raise Refused(_("Give the reason for revoking the certificate."), code="no_reason")
    _live_or_refuse(cert)
    if cert.revoke_requested_by is not None:
        raise Refused(_("Revocation has already been requested; it waits for approval."), code="pending")
    cert.revoke_requested_by = _user_id(user)
    cert.revoke_requested_at = utcnow_naive()
    cert.revoke_reason = reason.strip()[:300]
    db.session.flush()


def withdraw_revoke(cert: Certificate, user) -> None:
    """Withdraw a pending revocation request (the requester or an approver)."""
    _check_writer(user)
    if cert.revoke_requested_by is None or cert.status == "revoked":
        raise Refused(_("There is no revocation request to withdraw."), code="transition")
    cert.revoke_requested_by = None
    cert.revoke_requested_at = None
    cert.revoke_reason = None
    db.session.flush()


def revoke_problem(cert: Certificate, user) -> str | None:
    """Why `user` may not approve the revocation of `cert` (None when they may)."""
    if cert.revoke_requested_by is None:
        return _("Nobody has asked to revoke this certificate.")
    if cert.status not in rules.LIVE_CERT_STATUSES:
        return _("This certificate cannot take that step now (it is %(status)s).",
                 status=_(rules.CERT_STATUS_LABELS.get(cert.status, cert.status)))
    if _user_id(user) == cert.revoke_requested_by:
        return _("You asked for this revocation, so someone else must approve it (maker-checker).")
    if not user.has_role("branch_manager", "hq_admin"):
        return _("Only a branch manager or head office can approve a revocation.")
    return None


def approve_revoke(cert: Certificate, user) -> None:
    """The second person approves: the certificate and its line are revoked and the QR shows 证书无效 (C-4)."""
    refresh(cert)
    problem = revoke_problem(cert, user)
    if problem:
        raise Refused(problem, code="not_allowed")
    reason = cert.revoke_reason
    _move(cert, "revoke", "certificate", reason=reason)
    cert.revoked_by = _user_id(user)
    _line_follows(line_of(cert), "revoke", reason=reason)
    db.session.flush()


# ---------------------------------------------------------------- reissue (C-5)

def _replace(old: Certificate, line: CreditLine, household: Household, *, grade: str, user_id: int | None,
             reason: str) -> Certificate:
    status, category, why = old.status, old.suspension_category, old.status_reason
    new = _new_certificate(line, household, grade=grade, user_id=user_id,
                           status="suspended" if status == "suspended" else "active", category=category, reason=why)
    db.session.flush()
    _move(old, "supersede", "certificate", reason=reason)
    old.superseded_by_id = new.id
    return new


def reissue(cert: Certificate, user, reason: str) -> Certificate:
    """A new card (lost card, changed line): new number, token and check code; the old one shows 已换发.

    The new certificate keeps the line, its validity and a suspension in force.
    """
    _check_writer(user)
    if not (reason or "").strip():
        raise Refused(_("Give the reason for the new card (lost, damaged, line changed)."), code="no_reason")
    _live_or_refuse(cert)
    if cert.revoke_requested_by is not None:
        raise Refused(_("Revocation of this certificate has been requested: decide that first."), code="pending")
    line = line_of(cert)
    household = db.session.get(Household, cert.household_id)
    new = _replace(cert, line, household, grade=cert.grade, user_id=_user_id(user), reason=reason)
    db.session.flush()
    return new


# ---------------------------------------------------------------- yearly re-confirmation (C-2)

def reconfirm(line: CreditLine, user) -> None:
    """The rating re-confirmed for another year: reconfirm_by moves 12 months from today (never past the line's end);
    a certificate suspended only because the re-confirmation lapsed becomes active again."""
    if not user.has_role("branch_manager", "hq_admin"):
        raise Refused(_("Only a branch manager or head office can re-confirm a credit line."), code="not_allowed")
    today = clock.today()
    cert = db.session.scalar(sa.select(Certificate).where(Certificate.credit_line_id == line.id,
                                                          Certificate.status.in_(rules.LIVE_CERT_STATUSES))
                             .order_by(Certificate.id.desc()).limit(1))
    if cert is not None:
        refresh(cert, today)
    if line.status not in ("active", "suspended"):
        raise Refused(_("Only an active or suspended credit line can be re-confirmed."), code="transition")
    line.reconfirm_by = rules.reconfirmed_until(today, line.valid_to)
    if cert is not None:
        refresh(cert, today)
    audit.record("transition", "CreditLine", line.id, reason="reconfirmed",
                 changes={"reconfirm_by": line.reconfirm_by.isoformat()})
    db.session.flush()


# ---------------------------------------------------------------- printing

def print_cards(certs: list[Certificate], user) -> None:
    """Count a print of each card and audit it (reprints too)."""
    now = utcnow_naive()
    for cert in certs:
        cert.print_count = (cert.print_count or 0) + 1
        cert.last_printed_at = now
        audit.record("print", "Certificate", cert.id, reason="certificate_card",
                     changes={"cert_no": cert.cert_no, "print_count": cert.print_count})
    db.session.flush()


# ---------------------------------------------------------------- the public view (C-6)

@dataclass(frozen=True)
class PublicCertificate:
    """Only what the public verify page may show. Labels are translated for the current request's language."""

    status: str                     # rules.PUBLIC_STATUSES: valid | suspended | expired | superseded | invalid
    status_label: str
    suspension_category: str | None  # only while suspended
    suspension_label: str | None
    holder: str                     # masked (§4.3)
    village: str
    village_id: int                 # to find the village's open notice; not shown
    kind: str
    kind_label: str
    grade: str
    grade_label: str
    line_fen: int
    line_text: str                  # "Credit line 5万元" (授信5万元)
    valid_to: date
    cert_no: str
    check_code: str
    branch: str
    bank: str
    hotline: str


def public_view(cert: Certificate) -> PublicCertificate:
    """The certificate as the public page may show it (call refresh first so the status is today's)."""
    status = rules.public_status(cert.status)
    category = cert.suspension_category if status == "suspended" else None
    village = db.session.get(Village, cert.village_id)
    branch = db.session.get(Branch, cert.branch_id) if cert.branch_id else None
    s = settings()
    return PublicCertificate(
        status=status, status_label=_(rules.PUBLIC_STATUS_LABELS[status]), suspension_category=category,
        suspension_label=_(rules.SUSPENSION_LABELS[category]) if category in rules.SUSPENSION_LABELS else None,
        holder=cert.holder_display, village=village.name if village else "", village_id=cert.village_id,
        kind=cert.kind, kind_label=_(rules.KIND_LABELS.get(cert.kind, cert.kind)), grade=cert.grade,
        grade_label=_(rating_rules.GRADE_LABELS.get(cert.grade, cert.grade)), line_fen=cert.line_fen,
        line_text=_("Credit line %(amount)s", amount=rules.wan_text(cert.line_fen)), valid_to=cert.valid_to,
        cert_no=cert.cert_no, check_code=cert.check_code, branch=branch.name if branch else "", bank=s.bank,
        hotline=s.hotline)


# ---------------------------------------------------------------- batch issue per village (job queue)

def ratings_to_issue(village_id: int) -> list[int]:
    """Final ratings of the village, with a grade and a line, that have no credit line yet (ids, oldest first)."""
    effective_grade = sa.func.coalesce(Rating.approved_grade, Rating.grade)
    effective_line = sa.func.coalesce(Rating.approved_line_fen, Rating.suggested_line_fen)
    issued = sa.select(CreditLine.id).where(CreditLine.rating_id == Rating.id).exists()
    stmt = (sa.select(Rating.id).where(Rating.village_id == village_id, Rating.status == "final",
                                       Rating.live_household_id.is_not(None), effective_grade != "not_rated",
                                       effective_line > 0, ~issued)
            .order_by(Rating.id))
    return list(db.session.scalars(stmt))


def _batch_items(params: dict):
    return [str(i) for i in params.get("rating_ids", [])]


def _batch_process(params: dict, key: str) -> None:
    from ..accounts.models import User
    rating = db.session.get(Rating, int(key))
    if rating is None or issue_problem(rating):
        return  # re-rated, expired or withdrawn since the batch was queued: nothing to issue
    user = db.session.get(User, params["user_id"]) if params.get("user_id") else None
    issue(rating, user=user)


jobs.register("certificates.issue_village", _batch_items, _batch_process, chunk=25)


def start_issue_batch(village_id: int, *, user_id: int, idem: str | None = None,
                      rating_ids: list[int] | None = None) -> jobs.Job:
    """Queue issuing for the village's final ratings without a line (or the given ones); one job per request key."""
    ids = ratings_to_issue(village_id) if rating_ids is None else list(rating_ids)
    key = f"certificates:{village_id}:{idem}" if idem else None
    return jobs.enqueue("certificates.issue_village", {"village_id": village_id, "rating_ids": ids,
                                                       "user_id": user_id}, user_id=user_id, dedupe_key=key)
