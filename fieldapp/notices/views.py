"""Staff pages of public notices (公示): a village's notices, a new batch, the notice page (schedule, open with the
posting photo, cancel), the printable A4 sheet and its HTML view, private notice letters (N-5) and their delivery.

Who: the grid officer of the village and the branch manager draft, schedule, open and cancel; head office and
auditors read; the village secretary of the village reads, prints and records the delivery of private letters.
Panel members and mediators see no notice pages here (they read the public page like everyone).
"""
from __future__ import annotations

import base64
import io
from dataclasses import dataclass
from pathlib import Path

import qrcode
import qrcode.constants
import sqlalchemy as sa
from flask import abort, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from ..accounts.models import User
from ..core import access, audit, clock, pdf
from ..core.idempotency import idempotent
from ..core.masking import mask_name
from ..core.money import format_yuan
from ..core.web import redirect_to, render
from ..extensions import db
from ..households.models import Household
from ..org.models import County, Village
from ..ratings import rules as rating_rules
from ..visits import store
from . import bp, rules, services
from .forms import CancelForm, DeliveryForm, NoticeForm, OpenForm, StepForm
from .models import Notice, NoticeItem, Objection, PrivateNotice

READ = frozenset({"hq_admin", "branch_manager", "grid_officer", "village_secretary", "auditor"})
WRITE = frozenset({"grid_officer", "branch_manager"})
POST = WRITE | {"village_secretary"}  # the secretary posts the sheet on the village board and opens the notice
DELIVER = frozenset({"grid_officer", "branch_manager", "village_secretary"})
PER_PAGE = 50
MAX_PAGE = 100_000
OBJECTIONS_URL = "/notices/{id}/objections"  # the objection pages (objection_views.py)
SHEET_CSS = str(Path(__file__).resolve().parent.parent / "static" / "notice_sheet.css")


@bp.app_context_processor
def _notice_globals():
    return {"notice_labels": {"status": rules.STATUS_LABELS, "item_status": rules.ITEM_STATUS_LABELS,
                              "grade": rating_rules.GRADE_LABELS, "program": rating_rules.PRODUCT_LABELS,
                              "reason": rules.PRIVATE_REASON_LABELS}}


# ---------------------------------------------------------------- helpers

def yuan(fen: int | None) -> str:
    return "—" if fen is None else _("%(amount)s yuan", amount=format_yuan(int(fen)))


def _village(village_id: int) -> Village:
    return access.get_or_404(Village, village_id)


def _notice(notice_id: int) -> Notice:
    return access.village_get_or_404(Notice, notice_id)


def _may_write() -> bool:
    return access.can_write() and current_user.has_role(*WRITE)


def _may_post() -> bool:
    """Who may open a notice with the photo of the posted sheet: its drafters and the village secretary (R4 posts)."""
    return access.can_write() and current_user.has_role(*POST)


def _may_deliver() -> bool:
    return access.can_write() and current_user.has_role(*DELIVER)


def _refresh(notice: Notice) -> None:
    """Close on read: a notice whose window ended is closed (and what can be final is finalised) before it is shown."""
    if notice.status in services.CLOSABLE:
        try:
            if services.refresh(notice):
                db.session.commit()
        except StaleDataError:  # the tick did it meanwhile
            db.session.rollback()
            db.session.refresh(notice)


def qr_data_uri(text: str, box_size: int = 6) -> str:
    """A PNG QR code of `text` as a data: URI (the PDF renderer fetches nothing remote)."""
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=box_size, border=4)
    code.add_data(text)
    code.make(fit=True)
    buf = io.BytesIO()
    code.make_image(fill_color="black", back_color="white").save(buf, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _pdf_response(body: bytes, filename: str):
    response = make_response(body)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="{filename}"'
    return response


# ---------------------------------------------------------------- a village's notices

@bp.get("/villages/<int:village_id>/notices")
@access.policy(read=READ)
def village_notices(village_id: int):
    """The village's notices, newest first, each with its status and window."""
    village = _village(village_id)
    notices = list(db.session.scalars(sa.select(Notice).where(Notice.village_id == village.id)
                                      .order_by(Notice.id.desc())))
    for notice in notices:
        _refresh(notice)
    counts = dict(db.session.execute(
        sa.select(NoticeItem.notice_id, sa.func.count()).where(NoticeItem.notice_id.in_([n.id for n in notices]))
        .group_by(NoticeItem.notice_id)).all()) if notices else {}
    return render("notices/village.html", "notices/_village_list.html", village=village, notices=notices,
                  counts=counts, may_write=_may_write(), today=clock.today(), days_left=rules.days_left)


def _new_form() -> NoticeForm:
    s = services.settings()
    form = NoticeForm(formdata=None, starts_on=clock.today(), duration_days=s.days, hotline=s.hotline)
    return form


def _new_page(village: Village, form: NoticeForm, status: int = 200, error: str | None = None):
    s = services.settings()
    eligible = services.eligible_ratings(village)
    private = services.private_ratings(village)
    return render("notices/new.html", "notices/_new_form.html", status=status, village=village, form=form,
                  error=error, eligible=len(eligible), private=len(private), min_days=s.min_days,
                  max_days=s.max_days)


@bp.get("/villages/<int:village_id>/notices/new")
@access.policy(read=WRITE)
def notice_new(village_id: int):
    """The form for a new notice: first day, 5–15 days (7 by default), where it is posted, the hotline."""
    return _new_page(_village(village_id), _new_form())


@bp.post("/villages/<int:village_id>/notices/new")
@access.policy(read=WRITE, write=WRITE)
@idempotent
def notice_create(village_id: int):
    """Draft the notice from the approved, consented ratings (idempotent: a repeated key drafts once)."""
    village = _village(village_id)
    form = NoticeForm()
    if not form.validate_on_submit():
        return _new_page(village, form, status=422)
    try:
        notice = services.create_notice(village, user=current_user,
                                        starts_on=form.starts_on.data or clock.today(),
                                        duration_days=form.duration_days.data, posting_place=form.posting_place.data,
                                        hotline=form.hotline.data, title=form.title.data or None)
    except services.Refused as exc:
        if exc.code == "duration":
            form.duration_days.errors = list(form.duration_days.errors) + [exc.message]
        elif exc.code == "start":
            form.starts_on.errors = list(form.starts_on.errors) + [exc.message]
        return _new_page(village, form, status=422, error=exc.message)
    return redirect_to("notices.notice", _("Notice drafted: %(count)d households listed.", count=len(notice.items)),
                       notice_id=notice.id)


# ---------------------------------------------------------------- one notice

@dataclass
class ItemRow:
    item: NoticeItem
    grade: str
    line: str
    program: str
    status: str
    objections: int
    open_objections: int


def _item_rows(notice: Notice, page: int):
    stmt = sa.select(NoticeItem).where(NoticeItem.notice_id == notice.id).order_by(NoticeItem.position, NoticeItem.id)
    result = db.paginate(stmt, page=page, per_page=PER_PAGE, error_out=False)
    ids = [i.id for i in result.items]
    total, open_ = {}, {}
    if ids:
        for item_id, status, within, n in db.session.execute(
                sa.select(Objection.item_id, Objection.status, Objection.within_window, sa.func.count())
                .where(Objection.item_id.in_(ids))
                .group_by(Objection.item_id, Objection.status, Objection.within_window)):
            total[item_id] = total.get(item_id, 0) + n
            if status in rules.OPEN_OBJECTION_STATUSES and within:
                open_[item_id] = open_.get(item_id, 0) + n
    rows = [ItemRow(item=i, grade=_(rating_rules.GRADE_LABELS.get(i.grade, i.grade)), line=yuan(i.line_fen),
                    program=_(rating_rules.PRODUCT_LABELS.get(i.program, i.program)),
                    status=_(rules.ITEM_STATUS_LABELS.get(i.status, i.status)), objections=total.get(i.id, 0),
                    open_objections=open_.get(i.id, 0)) for i in result.items]
    return result, rows


def _private_rows(notice: Notice) -> list[tuple[PrivateNotice, str]]:
    stmt = access.scoped(sa.select(PrivateNotice).where(PrivateNotice.notice_id == notice.id), PrivateNotice)
    rows = []
    privates = list(db.session.scalars(stmt.order_by(PrivateNotice.id)))
    names = dict(db.session.execute(sa.select(Household.id, Household.head_name).where(
        Household.id.in_([p.household_id for p in privates]))).all()) if privates else {}
    for p in privates:
        rows.append((p, mask_name(names.get(p.household_id, ""))))
    return rows


def _user_name(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    return user.name if user else None


def _version_form(cls, notice: Notice, **kwargs):
    form = cls(formdata=None, **kwargs)
    form.version.data = str(notice.version)
    return form


def _notice_context(notice: Notice, **extra) -> dict:
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    result, rows = _item_rows(notice, page)
    today = clock.today()
    ctx = dict(
        notice=notice, village=db.session.get(Village, notice.village_id), result=result, rows=rows,
        private_rows=_private_rows(notice), today=today, days_left=rules.days_left(notice.ends_on, today),
        is_open=notice.status == "open" and rules.is_open_on(notice.starts_on, notice.ends_on, today),
        status_text=_(rules.STATUS_LABELS.get(notice.status, notice.status)), public_url=services.public_url(notice),
        objections_url=OBJECTIONS_URL.format(id=notice.id), posted_by=_user_name(notice.posted_by),
        parent=db.session.get(Notice, notice.parent_id) if notice.parent_id else None,
        supplements=list(db.session.scalars(sa.select(Notice).where(Notice.parent_id == notice.id)
                                            .order_by(Notice.id))),
        may_write=_may_write(), may_post=_may_post(), may_deliver=_may_deliver(), events=rules.allowed_events(notice.status),
        schedule_form=_version_form(StepForm, notice), open_form=_version_form(OpenForm, notice),
        cancel_form=_version_form(CancelForm, notice), error=None, conflict=False, message=None,
        radius_m=round(services.settings().radius_m), total_items=result.total,
    )
    ctx.update(extra)
    return ctx


def _notice_page(notice: Notice, status: int = 200, **extra):
    return render("notices/notice.html", "notices/_notice.html", status=status, **_notice_context(notice, **extra))


def _conflict(notice_id: int, **forms):
    """Someone else changed the notice: 409 with the notice as it is now (their step shown), the form kept."""
    db.session.rollback()
    notice = _notice(notice_id)
    for form in forms.values():
        form.version.data = str(notice.version)
    return _notice_page(notice, status=409, conflict=True, error=_(
        "Someone else changed this notice while you were looking at it (it is now: %(status)s). "
        "Check it before you send again.", status=_(rules.STATUS_LABELS.get(notice.status, notice.status))), **forms)


def _refused(notice_id: int, exc: services.Refused, **forms):
    db.session.rollback()
    notice = _notice(notice_id)
    return _notice_page(notice, status=409 if exc.code == "transition" else 422, error=exc.message, **forms)


@bp.get("/notices/<int:notice_id>")
@access.policy(read=READ)
def notice(notice_id: int):
    """The notice: status, window and days left, its items with their objections, private notices, and the next
    steps (schedule, open with the posting photo, cancel)."""
    n = _notice(notice_id)
    _refresh(n)
    return _notice_page(n)


@bp.post("/notices/<int:notice_id>/schedule")
@access.policy(read=WRITE, write=WRITE)
def notice_schedule(notice_id: int):
    n = _notice(notice_id)
    form = StepForm()
    if not form.validate_on_submit():
        return _notice_page(n, status=422, error=" ".join(str(e) for es in form.errors.values() for e in es))
    if form.version.number != n.version:
        return _conflict(notice_id)
    try:
        services.schedule(n)
        db.session.commit()
    except services.Refused as exc:
        return _refused(notice_id, exc)
    except StaleDataError:
        return _conflict(notice_id)
    return redirect_to("notices.notice", _("Scheduled. Print the sheet, post it, then open the notice with a photo "
                                           "of it on the board."), notice_id=n.id)


@bp.post("/notices/<int:notice_id>/open")
@access.policy(read=POST, write=POST)
def notice_open(notice_id: int):
    """N-3: open with the photo of the posted sheet, taken inside the village; freezes what was posted."""
    n = _notice(notice_id)
    form = OpenForm()
    if not form.validate_on_submit():
        return _notice_page(n, status=422, open_form=form,
                            error=" ".join(str(e) for es in form.errors.values() for e in es))
    if form.version.number != n.version:
        return _conflict(notice_id, open_form=form)
    upload = form.photo.data
    raw = upload.read() if upload is not None and hasattr(upload, "read") else b""
    lat, lng, acc = form.gps()
    try:
        services.open_notice(n, user=current_user, photo=raw, lat=lat, lng=lng, accuracy_m=acc)
        db.session.commit()
    except services.Refused as exc:
        return _refused(notice_id, exc, open_form=form)
    except StaleDataError:
        return _conflict(notice_id, open_form=form)
    return redirect_to("notices.notice", _("The notice is open until the end of %(day)s.",
                                           day=n.ends_on.isoformat()), notice_id=n.id)


@bp.post("/notices/<int:notice_id>/cancel")
@access.policy(read=WRITE, write=WRITE)
def notice_cancel(notice_id: int):
    n = _notice(notice_id)
    form = CancelForm()
    if not form.validate_on_submit():
        return _notice_page(n, status=422, cancel_form=form,
                            error=" ".join(str(e) for es in form.errors.values() for e in es))
    if form.version.number != n.version:
        return _conflict(notice_id, cancel_form=form)
    try:
        services.cancel(n, form.reason.data)
        db.session.commit()
    except services.Refused as exc:
        return _refused(notice_id, exc, cancel_form=form)
    except StaleDataError:
        return _conflict(notice_id, cancel_form=form)
    return redirect_to("notices.notice", _("Notice cancelled."), notice_id=n.id)


@bp.get("/notices/<int:notice_id>/posting-photo")
@access.policy(read=READ)
def posting_photo(notice_id: int):
    """The photo of the posted sheet (thumbnail with ?thumb=1)."""
    n = _notice(notice_id)
    thumb = request.args.get("thumb") == "1"
    sha = n.posting_thumb_sha if thumb and n.posting_thumb_sha else n.posting_photo_sha
    if not sha:
        abort(404)
    try:
        data = store.get_photo(sha, False)
    except store.PhotoMissing:
        abort(404)
    response = make_response(data)
    response.mimetype = "image/jpeg"
    response.cache_control.private = True
    response.cache_control.max_age = 86400
    return response


# ---------------------------------------------------------------- the printed sheet

def _sheet_html(n: Notice, *, for_pdf: bool) -> str:
    ctx = services.sheet_context(n)
    county = db.session.get(County, n.county_id)
    rows = [dict(it, grade_text=_(rating_rules.GRADE_LABELS.get(it["grade"], it["grade"])),
                 line_text=yuan(it["line_fen"]),
                 program_text=_(rating_rules.PRODUCT_LABELS.get(it["program"], it["program"])))
            for it in ctx["items"]]
    return render_template("notices/sheet.html", for_pdf=for_pdf, notice=n, rows=rows, county=county,
                           qr=qr_data_uri(ctx["url"]), printed_at=clock.utcnow_naive(), **ctx)


@bp.get("/notices/<int:notice_id>/sheet")
@access.policy(read=READ)
def sheet(notice_id: int):
    """The printable sheet as a page (the same content as the PDF)."""
    n = _notice(notice_id)
    return _sheet_html(n, for_pdf=False)


@bp.get("/notices/<int:notice_id>/sheet.pdf")
@access.policy(read=READ)
def sheet_pdf(notice_id: int):
    """The A4 sheet: masked names only; the frozen snapshot once the notice is open; page x of y on every page."""
    n = _notice(notice_id)
    body = pdf.render_pdf(_sheet_html(n, for_pdf=True), stylesheets=[SHEET_CSS])
    audit.record("print", "Notice", n.id, reason="notice_sheet")
    db.session.commit()
    return _pdf_response(body, f"notice-{n.id}.pdf")


# ---------------------------------------------------------------- private notices (N-5)

def _private(notice: Notice, private_id: int) -> PrivateNotice:
    p = access.get_or_404(PrivateNotice, private_id)
    if p.notice_id != notice.id:
        abort(404)
    return p


@bp.get("/notices/<int:notice_id>/private/<int:private_id>.pdf")
@access.policy(read=READ)
def private_letter(notice_id: int, private_id: int):
    """The private letter handed to a household not listed: the reason in words, its right to object, the hotline.
    Names masked, as on everything handed out."""
    n = _notice(notice_id)
    p = _private(n, private_id)
    household = db.session.get(Household, p.household_id)
    header = services.snapshot_of(n)["notice"]
    reasons = [_(rules.PRIVATE_REASON_LABELS.get(code, code)) for code in (p.reasons or [])]
    html = render_template("notices/private_letter.html", notice=n, private=p, header=header,
                           name=mask_name(household.head_name if household else ""), reasons=reasons,
                           printed_at=clock.utcnow_naive())
    body = pdf.render_pdf(html, stylesheets=[SHEET_CSS])
    if p.printed_at is None:
        p.printed_at = clock.utcnow_naive()
    audit.record("print", "PrivateNotice", p.id, reason="private_notice")
    db.session.commit()
    return _pdf_response(body, f"private-notice-{p.id}.pdf")


@bp.post("/notices/<int:notice_id>/private/<int:private_id>/delivered")
@access.policy(read=DELIVER, write=DELIVER)
def private_delivered(notice_id: int, private_id: int):
    """Record that the private letter was handed to the household (who, where)."""
    n = _notice(notice_id)
    p = _private(n, private_id)
    form = DeliveryForm()
    if not form.validate_on_submit():
        return _notice_page(n, status=422, error=" ".join(str(e) for es in form.errors.values() for e in es))
    if form.version.number != p.version:
        db.session.rollback()
        return _notice_page(_notice(notice_id), status=409, conflict=True, error=_(
            "Someone else recorded this letter meanwhile. Check it before you send again."))
    try:
        services.record_delivery(p, user=current_user, note=form.note.data)
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        return _notice_page(_notice(notice_id), status=409, conflict=True, error=_(
            "Someone else recorded this letter meanwhile. Check it before you send again."))
    return redirect_to("notices.notice", _("Delivery recorded."), notice_id=n.id)
