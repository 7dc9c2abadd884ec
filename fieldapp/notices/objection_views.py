"""Staff pages of objections: the list of a notice (with paper and oral objections recorded by the village
secretary), one objection's investigation, decision, re-rating approval, withdrawal, and the reply letter (N-6..N-11).
"""
from __future__ import annotations

import sqlalchemy as sa
from flask import make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from ..accounts.models import User
from ..core import access, clock, pdf
from ..core.idempotency import idempotent
from ..core.masking import mask_name, mask_phone
from ..core.money import format_yuan
from ..core.web import redirect_to, render
from ..extensions import db
from ..households.models import Household
from ..org.models import Village
from ..ratings import rules as rating_rules
from ..ratings.models import Rating
from ..visits.services import PURPOSE_LABELS
from . import bp, objections, services
from .models import Notice, NoticeItem, Objection
from .objection_forms import (ApproveReratingForm, AssignForm, DecideForm, InvestigateForm, PaperObjectionForm,
                              RepliedForm, WithdrawForm)

# Who sees objections (staff names and grounds): the bank's roles of the area and the village secretary; auditors
# read. Panel members and mediators do not.
READ = frozenset({"hq_admin", "branch_manager", "grid_officer", "village_secretary", "auditor"})
RECORD = frozenset({"village_secretary", "grid_officer", "branch_manager"})   # paper / oral objections
HANDLE = frozenset({"grid_officer", "branch_manager"})                        # assign, investigate, decide, withdraw
APPROVE = frozenset({"branch_manager", "hq_admin"})                           # the re-rating (SD-1 checker)
REPLY = frozenset({"village_secretary", "grid_officer", "branch_manager"})    # print and hand over the reply
FULL_PHONE = frozenset({"grid_officer", "branch_manager"})                    # §4.3: R2/R3 call the objector back


def _notice(notice_id: int) -> Notice:
    return access.village_get_or_404(Notice, notice_id)


def _objection(objection_id: int) -> Objection:
    return access.get_or_404(Objection, objection_id)


def _names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


def _households(ids) -> dict[int, Household]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return {h.id: h for h in db.session.scalars(sa.select(Household).where(Household.id.in_(ids)))}


def _labels() -> dict:
    return {"grounds": objections.GROUNDS_LABELS, "status": objections.STATUS_LABELS,
            "decision": objections.DECISION_LABELS, "via": objections.VIA_LABELS,
            "relation": objections.RELATION_LABELS, "channel": objections.CHANNEL_LABELS}


# ---------------------------------------------------------------- the list of a notice

def _staff_items(notice: Notice):
    """Objectable items with the household's full name (staff may see it) beside the masked one."""
    items = objections.objectable_items(notice)
    people = _households(i.household_id for i in items)
    return [(item, people.get(item.household_id)) for item in items]


def _record_form(notice: Notice, form: PaperObjectionForm | None = None) -> PaperObjectionForm:
    if form is None:
        form = PaperObjectionForm(formdata=None)
        form.received_on.data = clock.today()
    form.item.choices = [("", _("— choose —"))] + [
        (str(item.id), f"{h.head_name if h else item.display_name} · {item.group_name}")
        for item, h in _staff_items(notice)]
    return form


def _list_page(notice: Notice, form: PaperObjectionForm | None = None, status: int = 200, error: str | None = None):
    if services.refresh(notice) and request.method == "GET":
        db.session.commit()
    rows = list(db.session.scalars(access.scoped(
        sa.select(Objection).where(Objection.notice_id == notice.id), Objection)
        .order_by(Objection.received_at.desc(), Objection.id.desc())))
    people = _households(o.household_id for o in rows)
    village = db.session.get(Village, notice.village_id)
    may_record = (current_user.has_role(*RECORD) and notice.status in objections.PUBLIC_NOTICE_STATUSES)
    return render("notices/objection_list.html", "notices/_objection_list.html", status=status, notice=notice,
                  village=village, rows=rows, people=people, labels=_labels(), may_record=may_record,
                  form=_record_form(notice, form) if may_record else None, error=error)


@bp.get("/notices/<int:notice_id>/objections")
@access.policy(read=READ)
def objection_list(notice_id: int):
    """异议: every objection on the notice with status, grounds, household and window (complaints marked)."""
    return _list_page(_notice(notice_id))


@bp.post("/notices/<int:notice_id>/objections")
@access.policy(read=READ, write=RECORD)
@idempotent
def objection_record(notice_id: int):
    """Record a paper or oral objection (the village secretary takes it down): same fields as the public form."""
    notice = _notice(notice_id)
    services.refresh(notice)
    form = _record_form(notice, PaperObjectionForm())
    if not form.validate_on_submit():
        return _list_page(notice, form, status=422)
    item = services.item_of(notice, form.item_id) if form.item_id else None
    if item is None or item.status in ("changed", "withdrawn"):
        form.item.errors.append(_("Choose the household."))
        return _list_page(notice, form, status=422)
    try:
        objection = objections.file_objection(
            notice, item, name=form.objector_name, phone=form.phone.data or None, relation=form.relation.data,
            grounds=form.grounds.data, text=form.text.data, via=form.received_via.data, user=current_user,
            received_on=form.received_on.data)
    except objections.Refused as refused:
        return _list_page(notice, form, status=422, error=refused.message)
    # no commit: @idempotent commits the objection with its key
    return redirect_to("notices.objection_detail", _("Recorded with receipt number %(no)s.", no=objection.receipt_no),
                       objection_id=objection.id)


# ---------------------------------------------------------------- one objection

def _rating_summary(rating: Rating | None) -> dict | None:
    if rating is None:
        return None
    return {"rating": rating, "grade": _(rating_rules.GRADE_LABELS.get(rating.effective_grade, rating.effective_grade)),
            "line": _("%(amount)s yuan", amount=format_yuan(rating.effective_line_fen)),
            "score": rating.final_score}


def _visit_choices(objection: Objection) -> list[tuple[str, str]]:
    staff = _names(v.staff_id for v in objections.recent_visits(objection))
    choices = [("", _("— no visit yet —"))]
    for visit in objections.recent_visits(objection):
        when = clock.to_local(visit.started_at).strftime("%Y-%m-%d")
        purpose = PURPOSE_LABELS.get(visit.purpose, visit.purpose)
        choices.append((str(visit.id), f"{when} · {purpose} · {staff.get(visit.staff_id, '')}"))
    return choices


def _forms(objection: Objection, **given) -> dict:
    version = str(objection.version)
    assign = given.get("assign_form") or AssignForm(formdata=None)
    assign.officer.choices = [(str(u.id), u.name) for u in objections.village_officers(objection)]
    if assign.officer.data in (None, "", "None"):
        default = objection.assigned_to or objections.default_officer_id(objection)
        assign.officer.data = str(default) if default else ""
    investigate = given.get("investigate_form") or InvestigateForm(formdata=None)
    investigate.visit.choices = _visit_choices(objection)
    if investigate.visit.data in (None, "None") and objection.visit_id:
        investigate.visit.data = str(objection.visit_id)
    decide = given.get("decide_form") or DecideForm(formdata=None)
    approve = given.get("approve_form") or ApproveReratingForm(formdata=None)
    withdraw = given.get("withdraw_form") or WithdrawForm(formdata=None)
    replied = given.get("replied_form") or RepliedForm(formdata=None)
    if replied.replied_on.data is None and not replied.errors:
        replied.replied_on.data = clock.today()
    forms = {"assign_form": assign, "investigate_form": investigate, "decide_form": decide, "approve_form": approve,
             "withdraw_form": withdraw, "replied_form": replied}
    for name, form in forms.items():
        if name not in given:
            form.version.data = version
    return forms


def _detail_context(objection: Objection) -> dict:
    item = objections.item_of(objection)
    notice = db.session.get(Notice, objection.notice_id)
    household = objections.household_of(objection)
    old = db.session.get(Rating, item.rating_id) if item is not None else None
    new = db.session.get(Rating, objection.rerating_id) if objection.rerating_id else None
    pending = objections.pending_rerating(objection)
    is_open = objection.status in objections.OPEN_STATUSES
    user = current_user
    phone = objection.objector_phone
    if phone and not user.has_role(*FULL_PHONE):
        phone = mask_phone(phone)
    supplement = None
    if item is not None and item.status == "changed":
        supplement = db.session.scalar(
            sa.select(Notice).join(NoticeItem, NoticeItem.notice_id == Notice.id)
            .where(Notice.parent_id == notice.id, NoticeItem.household_id == objection.household_id)
            .order_by(Notice.id.desc()).limit(1))
    names = _names([objection.assigned_to, objection.decided_by, objection.recorded_by])
    approval_problem = objections.approval_problem(objection, user) if pending is not None else None
    return {
        "objection": objection, "item": item, "notice": notice, "household": household, "phone": phone,
        "old": _rating_summary(old), "new": _rating_summary(new), "pending": pending, "is_open": is_open,
        "supplement": supplement, "names": names, "labels": _labels(),
        "gets_reply": objections.gets_reply(objection), "visit_id": objection.visit_id,
        "may_handle": user.has_role(*HANDLE) and is_open,
        "may_decide": user.has_role(*HANDLE) and is_open,
        "may_withdraw": user.has_role(*HANDLE) and is_open,
        "may_approve": pending is not None and user.has_role(*APPROVE) and approval_problem is None,
        "approval_problem": approval_problem,
        "may_reply": (user.has_role(*REPLY) and objections.gets_reply(objection) and objection.status == "decided"
                      and pending is None),
        "may_print": user.has_role(*REPLY) and objections.gets_reply(objection)
                     and objection.status in ("decided", "replied") and pending is None,
    }


def _detail_page(objection: Objection, status: int = 200, error: str | None = None, message: str | None = None,
                 **given):
    return render("notices/objection.html", "notices/_objection_detail.html", status=status, error=error,
                  message=message, **_detail_context(objection), **_forms(objection, **given))


def _conflict(objection_id: int, error: str | None = None):
    """Someone else changed the objection first: 409 showing it as it is now."""
    db.session.rollback()
    db.session.expire_all()
    return _detail_page(_objection(objection_id), status=409,
                        error=error or _("Someone else changed this objection meanwhile. Check it again."))


def _refused(objection_id: int, refused: objections.Refused, **given):
    if refused.code == "stale":
        return _conflict(objection_id, refused.message)
    db.session.rollback()
    db.session.expire_all()
    return _detail_page(_objection(objection_id), status=409 if refused.code == "transition" else 422,
                        error=refused.message, **given)


def _commit_or_conflict(objection_id: int, message: str):
    try:
        db.session.commit()
    except StaleDataError:
        return _conflict(objection_id)
    return redirect_to("notices.objection_detail", message, objection_id=objection_id)


@bp.get("/objections/<int:objection_id>")
@access.policy(read=READ)
def objection_detail(objection_id: int):
    """One objection: who, about whom, why; the investigation, the decision and its reason, the re-rating, the reply."""
    return _detail_page(_objection(objection_id))


@bp.post("/objections/<int:objection_id>/assign")
@access.policy(read=READ, write=HANDLE)
def objection_assign(objection_id: int):
    """Hand the investigation to one of the village's grid officers (by default the owner of the household's grid)."""
    objection = _objection(objection_id)
    form = AssignForm()
    form.officer.choices = [(str(u.id), u.name) for u in objections.village_officers(objection)]
    if not form.validate_on_submit():
        db.session.rollback()
        return _detail_page(objection, status=422, assign_form=form)
    raw = (form.officer.data or "").strip()
    officer_id = int(raw) if raw.isdigit() and len(raw) < 10 else objections.default_officer_id(objection)
    try:
        objections.assign(objection, officer_id, version=form.version.number)
    except objections.Refused as refused:
        return _refused(objection_id, refused, assign_form=form)
    return _commit_or_conflict(objection_id, _("Assigned."))


@bp.post("/objections/<int:objection_id>/investigate")
@access.policy(read=READ, write=HANDLE)
def objection_investigate(objection_id: int):
    """Start (or note) the investigation, linked to a visit of the household (N-9)."""
    objection = _objection(objection_id)
    form = InvestigateForm()
    form.visit.choices = _visit_choices(objection)
    if not form.validate_on_submit():
        db.session.rollback()
        return _detail_page(objection, status=422, investigate_form=form)
    raw = (form.visit.data or "").strip()
    visit_id = int(raw) if raw.isdigit() and len(raw) < 10 else None
    try:
        objections.investigate(objection, user=current_user, visit_id=visit_id, notes=form.notes.data,
                               version=form.version.number)
    except objections.Refused as refused:
        return _refused(objection_id, refused, investigate_form=form)
    return _commit_or_conflict(objection_id, _("Investigation recorded."))


@bp.post("/objections/<int:objection_id>/decide")
@access.policy(read=READ, write=HANDLE)
def objection_decide(objection_id: int):
    """Decide with a written reason; upheld with a change proposes the re-rating a branch manager approves."""
    objection = _objection(objection_id)
    form = DecideForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _detail_page(objection, status=422, decide_form=form)
    try:
        rerating = objections.decide(objection, user=current_user, decision=form.decision.data,
                                     reason=form.reason.data, change=form.change.data,
                                     favouritism=form.favouritism.data, version=form.version.number)
    except objections.Refused as refused:
        if refused.code == "no_reason":
            form.reason.errors.append(refused.message)
            db.session.rollback()
            db.session.expire_all()
            return _detail_page(_objection(objection_id), status=422, decide_form=form)
        return _refused(objection_id, refused, decide_form=form)
    message = (_("Decided. The re-rating waits for a branch manager's approval.") if rerating is not None
               else _("Decided."))
    return _commit_or_conflict(objection_id, message)


@bp.post("/objections/<int:objection_id>/approve")
@access.policy(read=READ, write=APPROVE)
def objection_approve(objection_id: int):
    """A second person approves the re-rating (SD-1): the household goes on a supplementary notice (N-10)."""
    objection = _objection(objection_id)
    form = ApproveReratingForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _detail_page(objection, status=422, approve_form=form)
    try:
        supplement = objections.approve(objection, user=current_user, comment=form.comment.data,
                                        version=form.version.number)
    except objections.Refused as refused:
        if refused.code == "not_allowed":
            db.session.rollback()
            db.session.expire_all()
            return _detail_page(_objection(objection_id), status=403, error=refused.message)
        return _refused(objection_id, refused, approve_form=form)
    message = (_("Approved. The change is on a supplementary notice: print it and post it to open it.")
               if supplement is not None else _("Approved. The household is no longer listed; it gets a private notice."))
    return _commit_or_conflict(objection_id, message)


@bp.post("/objections/<int:objection_id>/withdraw")
@access.policy(read=READ, write=HANDLE)
def objection_withdraw(objection_id: int):
    """The objector asked to withdraw: recorded with how they asked; the household is no longer blocked."""
    objection = _objection(objection_id)
    form = WithdrawForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _detail_page(objection, status=422, withdraw_form=form)
    try:
        objections.withdraw(objection, user=current_user, note=form.note.data, version=form.version.number)
    except objections.Refused as refused:
        return _refused(objection_id, refused, withdraw_form=form)
    return _commit_or_conflict(objection_id, _("Withdrawn."))


# ---------------------------------------------------------------- the reply (N-6)

def _letter_context(objection: Objection) -> dict:
    item = objections.item_of(objection)
    notice = db.session.get(Notice, objection.notice_id)
    village = db.session.get(Village, objection.village_id)
    settings = services.settings()
    return {
        "objection": objection, "notice": notice, "village": village,
        "objector": mask_name(objection.objector_name or ""),  # handed out: masked like every sheet (§4.3)
        "household": item.display_name if item is not None else "",
        "grounds": objections.GROUNDS_LABELS.get(objection.grounds, objection.grounds),
        "decision": objections.DECISION_LABELS.get(objection.decision or "", ""),
        "bank": settings.bank, "branch": services.branch_name(village) if village else "",
        "hotline": (notice.hotline if notice else "") or settings.hotline,
        "printed_on": clock.today(),
    }


@bp.get("/objections/<int:objection_id>/reply.pdf")
@access.policy(read=REPLY)
def objection_reply_letter(objection_id: int):
    """The reply letter for a real-name objector (A4): receipt number, decision and reason, the bank's contact.
    Anonymous objections get none (N-6); ?format=html shows the same letter as a page."""
    objection = _objection(objection_id)
    if not objections.gets_reply(objection):
        return _detail_page(objection, status=409,
                            error=_("This objection is anonymous: anonymous objectors get no reply letter."))
    if objection.status not in ("decided", "replied") or objections.pending_rerating(objection) is not None:
        return _detail_page(objection, status=409, error=_("The reply letter is ready once the decision is final."))
    context = _letter_context(objection)
    if request.args.get("format") == "html":
        return render_template("notices/reply_letter.html", for_pdf=False, **context)
    body = pdf.render_pdf(render_template("notices/reply_letter.html", for_pdf=True, **context))
    objections.mark_printed(objection)
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
    response = make_response(body)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="reply-{objection.receipt_no}.pdf"'
    return response


@bp.post("/objections/<int:objection_id>/replied")
@access.policy(read=READ, write=REPLY)
def objection_replied(objection_id: int):
    """The reply letter was handed over: how and when (the objection is then answered)."""
    objection = _objection(objection_id)
    form = RepliedForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _detail_page(objection, status=422, replied_form=form)
    try:
        # no version check: printing the letter (in another tab) touches the row; the status guards a repeat
        objections.record_reply(objection, channel=form.channel.data, replied_on=form.replied_on.data)
    except objections.Refused as refused:
        return _refused(objection_id, refused, replied_form=form)
    return _commit_or_conflict(objection_id, _("Reply recorded."))
