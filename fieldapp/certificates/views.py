"""Staff pages of credit lines and certificates (授信证): a household's certificate with its actions (issue, suspend,
resume, revoke request and approval, reissue, yearly re-confirmation, print the card), a village's certificates with
the batch that issues them through the job queue, and the printable cards.

Who: the grid officer of the household, the branch manager and head office act; auditors read. Approving a revocation
and re-confirming a line are for the branch manager or head office; a revocation needs a second person.
Printing a card (a credential) is for the acting roles only, and every print is counted and audited.
"""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from flask import current_app, make_response, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from ..accounts.models import User
from ..core import access, clock
from ..core.idempotency import idempotent
from ..core.money import format_yuan
from ..core.web import error_response, redirect_to, render
from ..extensions import db
from ..households.models import Household
from ..org.models import Village
from ..ratings import rules as rating_rules
from ..ratings import services as ratings
from . import bp, cards, rules, services
from .forms import ReissueForm, RevokeRequestForm, StepForm, SuspendForm
from .models import Certificate, CreditLine

READ = frozenset({"hq_admin", "branch_manager", "grid_officer", "auditor"})
WRITE = frozenset({"hq_admin", "branch_manager", "grid_officer"})
APPROVE = frozenset({"branch_manager", "hq_admin"})
PER_PAGE = 50
MAX_PAGE = 100_000


@bp.app_context_processor
def _certificate_globals():
    return {"certificate_labels": {"status": rules.CERT_STATUS_LABELS, "line_status": rules.LINE_STATUS_LABELS,
                                   "suspension": rules.SUSPENSION_LABELS, "kind": rules.KIND_LABELS,
                                   "grade": rating_rules.GRADE_LABELS}}


# ---------------------------------------------------------------- helpers

def yuan(fen: int | None) -> str:
    return "—" if fen is None else _("%(amount)s yuan", amount=format_yuan(int(fen)))


def _may_write() -> bool:
    return access.can_write() and current_user.has_role(*WRITE)


def _may_approve() -> bool:
    return access.can_write() and current_user.has_role(*APPROVE)


def _cert(cert_id: int) -> Certificate:
    return access.get_or_404(Certificate, cert_id)


def _refresh(cert: Certificate) -> None:
    """Expiry and re-confirmation on read: the page shows today's status, made durable at once."""
    if cert.status not in rules.LIVE_CERT_STATUSES:
        return
    try:
        if services.refresh(cert):
            db.session.commit()
    except StaleDataError:  # the tick did it meanwhile
        db.session.rollback()
        db.session.refresh(cert)


def _user_name(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    return user.name if user else None


def _versioned(cls, version: int, **kwargs):
    form = cls(formdata=None, **kwargs)
    form.version.data = str(version)
    return form


def _pdf_response(body: bytes, filename: str):
    response = make_response(body)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    response.cache_control.no_store = True
    return response


# ---------------------------------------------------------------- a household's certificate

@dataclass
class HistoryRow:
    cert: Certificate
    status: str
    replaced_by: str | None


def _context(household: Household, **extra) -> dict:
    cert = services.current_certificate(household.id)
    if cert is not None:
        _refresh(cert)
    line = db.session.get(CreditLine, cert.credit_line_id) if cert is not None else None
    rating = ratings.live_rating(household.id)
    history = []
    numbers = {}
    for old in services.certificates_of(household.id):
        if cert is not None and old.id == cert.id:
            continue
        if old.superseded_by_id and old.superseded_by_id not in numbers:
            numbers[old.superseded_by_id] = db.session.scalar(
                sa.select(Certificate.cert_no).where(Certificate.id == old.superseded_by_id))
        history.append(HistoryRow(old, _(rules.CERT_STATUS_LABELS.get(old.status, old.status)),
                                  numbers.get(old.superseded_by_id)))
    live = cert is not None and cert.status in rules.LIVE_CERT_STATUSES
    version = cert.version if cert is not None else 0
    ctx = dict(
        household=household, village=db.session.get(Village, household.village_id), cert=cert, line=line,
        rating=rating, history=history, live=live, today=clock.today(),
        issue_problem=services.issue_problem(rating) if rating is not None else _(
            "This household has no rating yet."),
        status_text=_(rules.CERT_STATUS_LABELS.get(cert.status, cert.status)) if cert else None,
        category_text=_(rules.SUSPENSION_LABELS.get(cert.suspension_category, cert.suspension_category))
        if cert is not None and cert.suspension_category else None,
        line_status_text=_(rules.LINE_STATUS_LABELS.get(line.status, line.status)) if line else None,
        grade_text=_(rating_rules.GRADE_LABELS.get(cert.grade, cert.grade)) if cert else None,
        line_text=yuan(cert.line_fen) if cert else None, limit_text=yuan(line.limit_fen) if line else None,
        issued_by=_user_name(cert.issued_by) if cert else None,
        requested_by=_user_name(cert.revoke_requested_by) if cert else None,
        revoked_by=_user_name(cert.revoked_by) if cert else None,
        may_write=_may_write(), may_approve=_may_approve(),
        suspend_form=_versioned(SuspendForm, version), resume_form=_versioned(StepForm, version),
        revoke_form=_versioned(RevokeRequestForm, version), approve_form=_versioned(StepForm, version),
        withdraw_form=_versioned(StepForm, version), reissue_form=_versioned(ReissueForm, version),
        reconfirm_form=_versioned(StepForm, version), error=None, conflict=False,
        approve_problem=services.revoke_problem(cert, current_user) if cert is not None else None,
    )
    ctx.update(extra)
    return ctx


def _page(household: Household, status: int = 200, **extra):
    return render("certificates/household.html", "certificates/_household.html", status=status,
                  **_context(household, **extra))


def _household_of(cert_id: int) -> Household:
    cert = _cert(cert_id)
    return db.session.get(Household, cert.household_id)


def _conflict(cert_id: int, **forms):
    """Someone else changed the certificate: 409 with it as it is now, the form kept with the current version."""
    db.session.rollback()
    cert = _cert(cert_id)
    for form in forms.values():
        form.version.data = str(cert.version)
    return _page(db.session.get(Household, cert.household_id), status=409, conflict=True, error=_(
        "Someone else changed this certificate while you were looking at it (it is now: %(status)s). "
        "Check it before you send again.", status=_(rules.CERT_STATUS_LABELS.get(cert.status, cert.status))),
        **forms)


def _refused(cert_id: int, exc: services.Refused, **forms):
    db.session.rollback()
    household = _household_of(cert_id)
    return _page(household, status=409 if exc.code == "transition" else 422, error=exc.message, **forms)


def _invalid(cert_id: int, form, name: str):
    errors = " ".join(str(e) for es in form.errors.values() for e in es)
    return _page(_household_of(cert_id), status=422, error=errors, **{name: form})


@bp.get("/households/<int:household_id>/certificate")
@access.policy(read=READ)
def household_certificate(household_id: int):
    """The household's credit line and certificate: status, number, check code, line, validity, the actions its
    status allows, and the earlier certificates."""
    household = access.get_or_404(Household, household_id)
    return _page(household)


@bp.post("/households/<int:household_id>/certificate/issue")
@access.policy(read=WRITE, write=WRITE)
@idempotent
def household_issue(household_id: int):
    """Issue the line and certificate for the household's final rating (idempotent per rating and per key)."""
    household = access.get_or_404(Household, household_id)
    rating = ratings.live_rating(household.id)
    if rating is None:
        return _page(household, status=422, error=_("This household has no rating yet."))
    try:
        cert = services.issue(rating, user=current_user)
    except services.Refused as exc:
        db.session.rollback()
        return _page(access.get_or_404(Household, household_id), status=422, error=exc.message)
    return redirect_to("certificates.household_certificate", _("Certificate %(number)s issued.", number=cert.cert_no),
                       household_id=household.id)


def _step(cert_id: int, form_cls, name: str, action, message: str):
    """A versioned POST on one certificate: validate, check the version, act, commit, redirect (or 409/422)."""
    cert = _cert(cert_id)
    form = form_cls()
    if not form.validate_on_submit():
        return _invalid(cert_id, form, name)
    if form.version.number != cert.version:
        return _conflict(cert_id, **{name: form})
    try:
        action(cert, form)
        db.session.commit()
    except services.Refused as exc:
        return _refused(cert_id, exc, **{name: form})
    except StaleDataError:
        return _conflict(cert_id, **{name: form})
    return redirect_to("certificates.household_certificate", message, household_id=cert.household_id)


@bp.post("/certificates/<int:cert_id>/suspend")
@access.policy(read=WRITE, write=WRITE)
def suspend(cert_id: int):
    """Suspend the certificate and its line for a reason category (the next scan shows 暂停 and the category)."""
    return _step(cert_id, SuspendForm, "suspend_form",
                 lambda cert, form: services.suspend(cert, form.category.data, form.reason.data, current_user),
                 _("Certificate suspended."))


@bp.post("/certificates/<int:cert_id>/resume")
@access.policy(read=WRITE, write=WRITE)
def resume(cert_id: int):
    return _step(cert_id, StepForm, "resume_form", lambda cert, form: services.resume(cert, current_user),
                 _("Suspension lifted."))


@bp.post("/certificates/<int:cert_id>/revoke-request")
@access.policy(read=WRITE, write=WRITE)
def revoke_request(cert_id: int):
    """Ask for revocation with the reason; a branch manager or head office (another person) approves it."""
    return _step(cert_id, RevokeRequestForm, "revoke_form",
                 lambda cert, form: services.request_revoke(cert, form.reason.data, current_user),
                 _("Revocation requested. Someone else must now approve it."))


@bp.post("/certificates/<int:cert_id>/revoke-withdraw")
@access.policy(read=WRITE, write=WRITE)
def revoke_withdraw(cert_id: int):
    return _step(cert_id, StepForm, "withdraw_form", lambda cert, form: services.withdraw_revoke(cert, current_user),
                 _("Revocation request withdrawn."))


@bp.post("/certificates/<int:cert_id>/revoke-approve")
@access.policy(read=APPROVE, write=APPROVE)
def revoke_approve(cert_id: int):
    """Approve a revocation someone else asked for: the QR shows 证书无效 from the next scan."""
    return _step(cert_id, StepForm, "approve_form", lambda cert, form: services.approve_revoke(cert, current_user),
                 _("Certificate revoked."))


@bp.post("/certificates/<int:cert_id>/reconfirm")
@access.policy(read=APPROVE, write=APPROVE)
def reconfirm(cert_id: int):
    """The yearly re-confirmation of the rating: the line runs another 12 months before it needs the next one."""
    return _step(cert_id, StepForm, "reconfirm_form",
                 lambda cert, form: services.reconfirm(services.line_of(cert), current_user),
                 _("Credit line re-confirmed for another year."))


@bp.post("/certificates/<int:cert_id>/reissue")
@access.policy(read=WRITE, write=WRITE)
@idempotent
def reissue(cert_id: int):
    """A new card: new number, token and check code; the old card's QR shows 已换发 (idempotent per key)."""
    cert = _cert(cert_id)
    form = ReissueForm()
    if not form.validate_on_submit():
        return _invalid(cert_id, form, "reissue_form")
    if form.version.number != cert.version:
        return _conflict(cert_id, reissue_form=form)
    try:
        new = services.reissue(cert, current_user, form.reason.data)
        db.session.flush()
    except services.Refused as exc:
        return _refused(cert_id, exc, reissue_form=form)
    except StaleDataError:
        return _conflict(cert_id, reissue_form=form)
    return redirect_to("certificates.household_certificate",
                       _("New certificate %(number)s issued; print its card.", number=new.cert_no),
                       household_id=cert.household_id)


@bp.get("/certificates/<int:cert_id>/card.pdf")
@access.policy(read=WRITE)
def card_pdf(cert_id: int):
    """The card, front and back (85.6 × 54 mm pages). Every print is counted and audited."""
    cert = _cert(cert_id)
    _refresh(cert)
    if cert.status not in rules.LIVE_CERT_STATUSES:
        return error_response(409, _("This certificate is %(status)s: its card is not printed any more.",
                                     status=_(rules.CERT_STATUS_LABELS.get(cert.status, cert.status))))
    body = cards.card_pdf(cert)
    services.print_cards([cert], current_user)
    db.session.commit()
    return _pdf_response(body, f"certificate-{cert.cert_no}.pdf")


# ---------------------------------------------------------------- a village's certificates

@dataclass
class Row:
    cert: Certificate
    head_name: str
    group_name: str
    status: str
    category: str | None
    line: str
    grade: str


def _village_certs(village_id: int) -> sa.Select:
    return access.scoped(sa.select(Certificate).where(Certificate.village_id == village_id,
                                                      Certificate.status != "superseded"), Certificate)


def ratings_to_issue(village: Village) -> list[int]:
    """The village's final ratings without a line, limited to what the user covers (a grid may hold single groups)."""
    from ..ratings.models import Rating
    ids = services.ratings_to_issue(village.id)
    if access.sees_whole_village(village) or not ids:
        return ids
    visible = set(db.session.scalars(access.scoped(sa.select(Rating.id).where(Rating.id.in_(ids)), Rating)))
    return [i for i in ids if i in visible]


@bp.get("/villages/<int:village_id>/certificates")
@access.policy(read=READ)
def village_certificates(village_id: int):
    """The village's certificates (current ones) with counts by status, the batch issue and the card sheets."""
    from ..org.models import VillageGroup
    village = access.get_or_404(Village, village_id)
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    counts = dict(db.session.execute(
        _village_certs(village.id).with_only_columns(Certificate.status, sa.func.count())
        .group_by(Certificate.status)).all())
    stmt = _village_certs(village.id).order_by(Certificate.cert_no)
    result = db.paginate(stmt, page=page, per_page=PER_PAGE, error_out=False)
    names = {}
    if result.items:
        names = {hid: (head, group) for hid, head, group in db.session.execute(
            sa.select(Household.id, Household.head_name, VillageGroup.name)
            .outerjoin(VillageGroup, VillageGroup.id == Household.group_id)
            .where(Household.id.in_([c.household_id for c in result.items])))}
    rows = []
    for c in result.items:
        head, group = names.get(c.household_id, ("", ""))
        rows.append(Row(cert=c, head_name=head or "", group_name=group or "",
                        status=_(rules.CERT_STATUS_LABELS.get(c.status, c.status)),
                        category=_(rules.SUSPENSION_LABELS[c.suspension_category])
                        if c.suspension_category in rules.SUSPENSION_LABELS else None,
                        line=yuan(c.line_fen), grade=_(rating_rules.GRADE_LABELS.get(c.grade, c.grade))))
    may_write = _may_write()
    printable = sum(counts.get(s, 0) for s in PRINTABLE)
    per_pdf = _cards_per_pdf()
    return render("certificates/village.html", "certificates/_village_rows.html", village=village, result=result,
                  rows=rows, counts=[(code, _(rules.CERT_STATUS_LABELS[code]), counts[code])
                                     for code in rules.CERT_STATUSES if counts.get(code)],
                  to_issue=len(ratings_to_issue(village)) if may_write else 0, may_write=may_write,
                  printable=printable, per_pdf=per_pdf,
                  card_parts=[(n, start + 1, min(start + per_pdf, printable))
                              for n, start in enumerate(range(0, printable, per_pdf), start=1)])


def _cards_per_pdf() -> int:
    """Cards in one printed PDF: a whole number of A4 sheets of 10 (WeasyPrint holds every page of a document in
    memory, about 1.5 MB a card, so a village's 1,000 cards print as parts rather than one 1.4 GB render)."""
    per = int(current_app.config.get("CARDS_PER_PDF", 100))
    return max(cards.PER_SHEET, per - per % cards.PER_SHEET)


@bp.post("/villages/<int:village_id>/certificates/issue")
@access.policy(read=WRITE, write=WRITE)
@idempotent
def village_issue(village_id: int):
    """Issue certificates for every final rating of the village without one, as a resumable job."""
    village = access.get_or_404(Village, village_id)
    ids = ratings_to_issue(village)
    if not ids:
        return redirect_to("certificates.village_certificates",
                           _("Every final rating of this village already has its certificate."),
                           village_id=village.id)
    job = services.start_issue_batch(village.id, user_id=current_user.id, idem=request.form.get("idem_key"),
                                     rating_ids=ids)
    return redirect_to("core.job", _("Issuing started: %(count)d certificates.", count=len(ids)), job_id=job.id)


PRINTABLE = ("issued", "active")


@bp.get("/villages/<int:village_id>/certificates/cards.pdf")
@access.policy(read=WRITE)
def village_cards_pdf(village_id: int):
    """The village's valid cards on A4 sheets of 10 with crop marks, fronts then mirrored backs for duplex, in parts
    of CARDS_PER_PDF cards (?part=2 …, in card number order); ?new=1: the next part of cards never printed. Each
    card's print is counted and audited."""
    village = access.get_or_404(Village, village_id)
    stmt = _village_certs(village.id).where(Certificate.status.in_(PRINTABLE))
    new_only = request.args.get("new") == "1"
    if new_only:
        stmt = stmt.where(Certificate.print_count == 0)
    certs = list(db.session.scalars(stmt.order_by(Certificate.cert_no)))
    if not certs:
        return error_response(404, _("There is no card to print in this village."))
    per_pdf = _cards_per_pdf()
    parts = -(-len(certs) // per_pdf)
    part = 1 if new_only else request.args.get("part", default=1, type=int)
    if not 1 <= part <= parts:
        return error_response(404, _("This village's cards print in %(parts)d parts: there is no part %(part)s.",
                                     parts=parts, part=request.args.get("part", "")))
    chunk = certs[(part - 1) * per_pdf:part * per_pdf]
    title = village.name if parts == 1 or new_only else f"{village.name} ({part}/{parts})"
    body, _pages = cards.sheets_pdf(chunk, title=title)
    services.print_cards(chunk, current_user)
    db.session.commit()
    suffix = f"-new-{chunk[0].cert_no}" if new_only and parts > 1 else (f"-{part}" if parts > 1 else "")
    return _pdf_response(body, f"certificates-{village.id}{suffix}.pdf")
