"""The rating pages: a household's ratings, "why this grade" (为什么是这个等级) and its printable copy, maker-checker
override and approval (SD-1, SD-4, RT-9), the approvals queue, and bonus recommendations (RT-3, §2.14).

Who sees what (§1.1, SD-5): the "why" page shows income, debts and the names behind the points, so it is for bank
staff only (grid officer of the household, branch manager, head office, auditor). Village secretaries and panel
members get no rating page here: they see grade and line on the notice and their village pages, never the income.
Overrides are asked for by the grid officer or the branch manager; approval is by a branch manager within the
branch's authority, head office above it; nobody approves their own proposal or override.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from flask import make_response, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError
from werkzeug.routing import BuildError

from ..accounts.models import User
from ..accounts.views import ROLE_LABELS
from ..core import access, audit, clock, pdf
from ..core.idempotency import idempotent
from ..core.money import format_yuan
from ..core.web import redirect_to, render, wants_fragment
from ..extensions import db
from ..households import section_forms as sf
from ..households.models import Household
from ..households.workflow import current_accepted
from ..org.models import Village
from . import bp, rules, services
from .forms import BONUS_KIND_LABELS, ApproveForm, BonusForm, OverrideForm, WithdrawBonusForm
from .models import BonusRecommendation, Rating, ScoringModel

RATING_READ = frozenset({"hq_admin", "branch_manager", "grid_officer", "auditor"})
OVERRIDE_WRITE = frozenset({"grid_officer", "branch_manager"})
APPROVE_WRITE = frozenset({"branch_manager", "hq_admin"})
BONUS_WRITE = frozenset({"hq_admin", "branch_manager", "grid_officer"})
PER_PAGE = 20
MAX_PAGE = 100_000

MEETING_ENDPOINT = "ratings.meeting"  # the meeting page (meeting_views.py); linked when it exists


@bp.app_context_processor
def _rating_globals():
    return {"rating_labels": {"grade": rules.GRADE_LABELS, "status": rules.STATUS_LABELS,
                              "tier": rules.RATE_TIER_LABELS, "bonus_kind": BONUS_KIND_LABELS},
            "household_rating": _household_rating_summary}


def _household_rating_summary(household_id: int) -> dict | None:
    """Grade, line and status of the household's live rating, for its household page (None: not rated)."""
    rating = services.live_rating(household_id)
    if rating is None:
        return None
    return {"id": rating.id, "grade": grade_label(rating.effective_grade), "line": yuan(rating.effective_line_fen),
            "status": status_label(rating.status)}


# ---------------------------------------------------------------- display helpers

def yuan(fen: int | None) -> str:
    return "—" if fen is None else _("%(amount)s yuan", amount=format_yuan(int(fen)))


def grade_label(code: str | None) -> str:
    return _(rules.GRADE_LABELS[code]) if code in rules.GRADE_LABELS else (code or "—")


def status_label(code: str) -> str:
    return _(rules.STATUS_LABELS[code]) if code in rules.STATUS_LABELS else code


def _user_name(user_id: int | None) -> str | None:
    if user_id is None:
        return None
    user = db.session.get(User, user_id)
    return user.name if user is not None else None


def _points(value) -> str:
    """"15", "7.5": one decimal place only when there is one."""
    d = Decimal(str(value))
    return f"{d.normalize():f}" if d == d.to_integral_value() else f"{d.quantize(Decimal('0.1'))}"


def _meeting_url(meeting_id: int | None) -> str | None:
    if meeting_id is None:
        return None
    try:
        return url_for(MEETING_ENDPOINT, meeting_id=meeting_id)
    except BuildError:
        return None


@dataclass
class IndicatorRow:
    code: str
    label: str
    points: str
    max_points: int
    pending: bool
    facts: list[tuple[str, str]] = field(default_factory=list)


@dataclass
class BonusRow:
    code: str
    label: str
    points: int
    recommendations: list[BonusRecommendation] = field(default_factory=list)


def _indicator_facts(code: str, facts: dict) -> list[tuple[str, str]]:
    """The facts behind one indicator's points, as (label, value) lines."""
    out: list[tuple[str, str]] = []
    if code == "family":
        names = "、".join(facts.get("labour_names") or [])
        out.append((_("Members aged 18–60 able to work"),
                    f"{facts.get('labour_count', 0)}" + (f" ({names})" if names else "")))
        out.append((_("Members of the household"), str(facts.get("members", 0))))
    elif code == "assets":
        out.append((_("Estimated value"), yuan(facts.get("asset_value_fen", 0))))
        for asset_type, fen in facts.get("asset_breakdown") or []:
            out.append((str(sf.ASSET_TYPES.get(asset_type, asset_type)), yuan(fen)))
        for species, heads, fen in facts.get("livestock_breakdown") or []:
            out.append((str(sf.SPECIES.get(species, species)),
                        _("%(heads)d head, %(value)s", heads=int(heads), value=yuan(fen))))
    elif code == "income":
        if facts.get("income_year"):
            out.append((_("Year"), str(facts["income_year"])))
        out.append((_("Verified net income (document or village-confirmed)"), yuan(facts.get("verified_income_fen"))))
        out.append((_("Self-declared net income"), yuan(facts.get("declared_income_fen"))))
        factor = Decimal(str(facts.get("declared_income_factor", "0.7")))
        out.append((_("Self-declared income counts at"), f"{factor * 100:.0f}%"))
        out.append((_("Net income counted"), yuan(facts.get("net_income_fen"))))
    elif code == "liabilities":
        out.append((_("Outstanding debts"), yuan(facts.get("debt_fen"))))
        out.append((_("Net income counted"), yuan(facts.get("net_income_fen"))))
        ratio = facts.get("ratio")
        out.append((_("Debts ÷ net income"), ratio if ratio is not None else (
            _("no debts") if not facts.get("debt_fen") else _("no income to set against them"))))
        if facts.get("guarantee_fen"):
            out.append((_("Guarantees given (not counted as debt)"), yuan(facts["guarantee_fen"])))
    elif code == "history":
        out.append((_("Has borrowed before"), _("Yes") if facts.get("has_borrowed") else _("No")))
        out.append((_("Overdue episodes (deducted below)"), str(facts.get("overdue_episodes", 0))))
    elif code == "character":
        if facts.get("voters"):
            out.append((_("Committee members voting"), str(facts["voters"])))
            out.append((_("“Yes” answers on the 12-point checklist"),
                        _("%(yes)d of %(votes)d", yes=int(facts.get("yes", 0)), votes=int(facts.get("votes", 0)))))
        for flag in facts.get("committee_flags") or []:
            out.append((_("Shown to the committee"), _(rules.VETO_LABELS.get(flag, flag))))
    return out


def _scored_at(rating: Rating) -> datetime:
    return rating.reviewed_at or rating.proposed_at


def _recommendations_counted(rating: Rating) -> list[BonusRecommendation]:
    """The recommendations in force when the rating was (last) scored: those are the bonuses it counts."""
    at = _scored_at(rating)
    return list(db.session.scalars(sa.select(BonusRecommendation).where(
        BonusRecommendation.household_id == rating.household_id, BonusRecommendation.recorded_at <= at,
        sa.or_(BonusRecommendation.withdrawn_at.is_(None), BonusRecommendation.withdrawn_at > at))
        .order_by(BonusRecommendation.id)))


def _line_terms(breakdown: dict, grade: str) -> list[dict]:
    """The three RT-7 terms, the binding one(s) marked."""
    parts = breakdown.get("line_parts") or {}
    product = parts.get("product", "standard")
    terms = [
        {"code": "grade_cap", "label": _("Cap for the grade %(grade)s", grade=grade_label(grade)),
         "fen": parts.get("grade_cap_fen", 0)},
        {"code": "product_cap", "label": _("Cap of the product: %(product)s",
                                           product=_(rules.PRODUCT_LABELS.get(product, product))),
         "fen": parts.get("product_cap_fen", 0)},
        {"code": "income", "label": _("2 × net income counted − outstanding debts"),
         "fen": parts.get("income_formula_fen", 0)},
    ]
    if grade == "not_rated":
        return [dict(t, value=yuan(t["fen"]), binding=False) for t in terms[1:]]
    low = min(t["fen"] for t in terms)
    return [dict(t, value=yuan(t["fen"]), binding=t["fen"] == low) for t in terms]


def why_context(rating: Rating) -> dict:
    """Everything the "why this grade" page and its printed copy show, formatted here (not in Jinja)."""
    b = rating.breakdown or {}
    household = db.session.get(Household, rating.household_id)
    village = db.session.get(Village, rating.village_id)
    indicators = []
    for item in b.get("indicators", []):
        code = item.get("code")
        indicators.append(IndicatorRow(code=code, label=_(rules.INDICATOR_LABELS.get(code, code)),
                                       points=_points(item.get("points", 0)), max_points=int(item.get("max_points", 0)),
                                       pending=bool(item.get("pending")),
                                       facts=_indicator_facts(code, item.get("facts") or {})))
    recs = _recommendations_counted(rating)
    bonuses = []
    for code, points in b.get("bonus_items", []):
        label = _(rules.BONUS_LABELS.get(code, code))
        bonuses.append(BonusRow(code=code, label=label, points=int(points),
                                recommendations=[r for r in recs if r.kind == code]))
    bonus_raw = sum(row.points for row in bonuses)
    deductions = [(_(rules.DEDUCTION_LABELS.get(code, code)), int(points))
                  for code, points in b.get("deduction_items", [])]
    vetoes = [_(rules.VETO_LABELS.get(code, code)) for code in (rating.vetoes or [])]
    override = None
    if rating.override_by is not None:
        override = {
            "by": _user_name(rating.override_by), "at": rating.override_at, "reason": rating.override_reason,
            "grade_from": grade_label(rating.grade), "line_from": yuan(rating.suggested_line_fen),
            "grade_to": grade_label(rating.override_grade) if rating.override_grade else None,
            "line_to": yuan(rating.override_line_fen) if rating.override_line_fen is not None else None,
        }
    approval = None
    if rating.approved_by is not None:
        approval = {"by": _user_name(rating.approved_by),
                    "role": str(ROLE_LABELS.get(rating.approved_role, rating.approved_role or "")),
                    "at": rating.approved_at, "comment": rating.approval_comment,
                    "grade": grade_label(rating.approved_grade), "line": yuan(rating.approved_line_fen),
                    "valid_from": rating.valid_from, "valid_to": rating.valid_to}
    params = db.session.get(ScoringModel, rating.model_id).params
    pending_line = rating.override_line_fen if rating.override_line_fen is not None else rating.suggested_line_fen
    return dict(
        rating=rating, household=household, village=village, indicators=indicators, base=_points(rating.base_score),
        bonuses=bonuses, bonus=int(rating.bonus or 0), bonus_cap=params.get("bonus_cap"), bonus_raw=bonus_raw,
        bonus_capped=bonus_raw > int(rating.bonus or 0), deductions=deductions,
        deduction=_points(rating.deduction or 0),
        final_score=_points(rating.final_score), vetoes=vetoes, grade=grade_label(rating.grade),
        line=yuan(rating.suggested_line_fen), line_terms=_line_terms(b, rating.grade),
        line_step=yuan(int(Decimal(str(params.get("line_step", 1000))) * 100)),
        tier=_(rules.RATE_TIER_LABELS.get(rating.rate_tier, rating.rate_tier)),
        status_text=status_label(rating.status), meeting_url=_meeting_url(rating.meeting_id),
        proposer=_user_name(rating.proposed_by), override=override, approval=approval,
        character_pending=bool(b.get("pending")),
        needs_hq=services.approval_role_needed(rating, pending_line) == "hq_admin",
        effective_grade=grade_label(rating.effective_grade), effective_line=yuan(rating.effective_line_fen),
    )


# ---------------------------------------------------------------- a household's ratings

@bp.get("/households/<int:household_id>/rating")
@access.policy(read=RATING_READ)
def household_rating(household_id: int):
    """The live rating (or why there is none yet) and the earlier ones, each with its model and file version."""
    h = access.get_or_404(Household, household_id)
    ratings = services.ratings_of(h.id)
    live = services.live_rating(h.id)
    reason = None
    if live is None:
        reason = (_("Not rated yet: only an accepted credit file can be rated, and this household has none.")
                  if current_accepted(h) is None else
                  _("Not rated yet: the file is accepted but no rating has been proposed. "
                    "Ratings are proposed when the village is rated."))
    history = [r for r in ratings if live is None or r.id != live.id]
    return render("ratings/rating_household.html", "ratings/_rating_household.html", household=h, live=live,
                  reason=reason, history=history, yuan=yuan, grade_label=grade_label, status_label=status_label)


# ---------------------------------------------------------------- why this grade

def _override_form(rating: Rating) -> OverrideForm:
    form = OverrideForm(formdata=None)
    form.version.data = str(rating.version)
    return form


def _approve_form(rating: Rating) -> ApproveForm:
    form = ApproveForm(formdata=None)
    form.version.data = str(rating.version)
    return form


def _decision_context(rating: Rating, *, override_form=None, approve_form=None, error: str | None = None,
                      conflict: bool = False, message: str | None = None) -> dict:
    writable = access.can_write() and rating.status == "reviewed"
    return dict(
        may_override=writable and current_user.has_role(*OVERRIDE_WRITE),
        may_approve=writable and current_user.has_role(*APPROVE_WRITE),
        override_form=override_form or _override_form(rating), approve_form=approve_form or _approve_form(rating),
        error=error, conflict=conflict, message=message)


def _why_page(rating: Rating, status: int = 200, **decision):
    return render("ratings/rating.html", "ratings/_rating_decision.html", status=status,
                  **why_context(rating), **_decision_context(rating, **decision))


def _rating(rating_id: int) -> Rating:
    return access.get_or_404(Rating, rating_id)


@bp.get("/ratings/<int:rating_id>")
@access.policy(read=RATING_READ)
def why(rating_id: int):
    """为什么是这个等级: every indicator's points with the facts behind them, bonuses with their recommenders,
    deductions, vetoes, the line and which term bound it, and who proposed, overrode and approved."""
    return _why_page(_rating(rating_id))


@bp.get("/ratings/<int:rating_id>/print")
@access.policy(read=RATING_READ)
def why_print(rating_id: int):
    """The "why" page for the household file: an A4 PDF marked 内部 (no ID numbers), or its HTML with ?format=html."""
    rating = _rating(rating_id)
    context = why_context(rating)
    context["printed_at"] = clock.utcnow_naive()
    context["printed_by"] = current_user.name
    if request.args.get("format") == "html":
        return render_template("ratings/why_print.html", for_pdf=False, **context)
    html = render_template("ratings/why_print.html", for_pdf=True, **context)
    body = pdf.render_pdf(html)
    audit.record("print", "Rating", rating.id, reason="why_this_grade")
    db.session.commit()
    response = make_response(body)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="rating-{rating.id}.pdf"'
    return response


# ---------------------------------------------------------------- maker-checker

def _conflict(rating_id: int, *, override_form=None, approve_form=None):
    """Someone else changed the rating: 409 showing it as it is now (their override or approval included)."""
    db.session.rollback()
    rating = _rating(rating_id)
    for form in (override_form, approve_form):
        if form is not None:
            form.version.data = str(rating.version)
    return _why_page(rating, status=409, override_form=override_form, approve_form=approve_form, conflict=True,
                     error=_("Someone else changed this rating while you were looking at it. "
                             "Here it is as it stands now; check it before you send again."))


@bp.post("/ratings/<int:rating_id>/override")
@access.policy(read=OVERRIDE_WRITE, write=OVERRIDE_WRITE)
def override(rating_id: int):
    """Ask for another grade and/or line than the model's: a written reason is required, and someone else approves."""
    rating = _rating(rating_id)
    form = OverrideForm()
    if not form.validate_on_submit():
        db.session.rollback()
        return _why_page(rating, status=422, override_form=form)
    if form.version.number != rating.version:
        return _conflict(rating_id, override_form=form)
    try:
        services.request_override(rating, current_user, grade=form.grade.data or None, line_fen=form.line.fen,
                                  reason=form.reason.data or "")
        db.session.commit()
    except services.Refused as exc:
        db.session.rollback()
        if exc.code == "no_reason":
            form.reason.errors = list(form.reason.errors) + [exc.message]
        return _why_page(_rating(rating_id), status=422, override_form=form, error=exc.message)
    except StaleDataError:
        return _conflict(rating_id, override_form=form)
    message = _("Change requested. Someone else must now approve it.")
    if wants_fragment():
        return _why_page(rating, message=message)
    return redirect_to("ratings.why", message, rating_id=rating.id)


@bp.post("/ratings/<int:rating_id>/approve")
@access.policy(read=APPROVE_WRITE, write=APPROVE_WRITE)
def approve(rating_id: int):
    """Approve the reviewed rating (with the requested override, if any): not the proposer's nor the override's
    requester's own, and within the approver's authority (RT-9)."""
    rating = _rating(rating_id)
    form = ApproveForm()
    from_queue = form.origin.data == "queue"
    error, status = None, 200
    if not form.validate_on_submit():
        error, status = " ".join(str(e) for errors in form.errors.values() for e in errors), 422
    elif form.version.number != rating.version:
        if from_queue:
            db.session.rollback()
            rating = _rating(rating_id)
            error, status = _("Someone else changed this rating meanwhile. Open it to see the change."), 409
        else:
            return _conflict(rating_id, approve_form=form)
    else:
        try:
            services.approve(rating, current_user, comment=form.comment.data)
            db.session.commit()
        except services.Refused as exc:
            db.session.rollback()
            rating = _rating(rating_id)
            error, status = exc.message, 422
        except StaleDataError:
            if not from_queue:
                return _conflict(rating_id, approve_form=form)
            db.session.rollback()
            rating = _rating(rating_id)
            error, status = _("Someone else changed this rating meanwhile. Open it to see the change."), 409
    message = _("Approved.") if error is None else None
    if from_queue:
        if wants_fragment():
            return render("ratings/approvals.html", "ratings/_approval_row.html", status=status,
                          **_queue_row_context(rating, error=error, message=message))
        if error is None:
            return redirect_to("ratings.approvals", message)
    if error is not None:
        return _why_page(rating, status=status, approve_form=form, error=error)
    if wants_fragment():
        return _why_page(rating, message=message)
    return redirect_to("ratings.why", message, rating_id=rating.id)


# ---------------------------------------------------------------- the approvals queue

@dataclass
class QueueRow:
    rating: Rating
    household_name: str
    village_name: str
    grade: str
    line: str
    override: bool
    needs_hq: bool


def _queue_row(rating: Rating, household_name: str | None = None, village_name: str | None = None) -> QueueRow:
    if household_name is None:
        h = db.session.get(Household, rating.household_id)
        household_name = h.head_name if h else ""
    if village_name is None:
        v = db.session.get(Village, rating.village_id)
        village_name = v.name if v else ""
    line = rating.override_line_fen if rating.override_line_fen is not None else rating.suggested_line_fen
    return QueueRow(rating=rating, household_name=household_name or "", village_name=village_name or "",
                    grade=grade_label(rating.override_grade or rating.grade), line=yuan(line),
                    override=rating.override_by is not None,
                    needs_hq=services.approval_role_needed(rating, line) == "hq_admin")


def _queue_row_context(rating: Rating, *, error: str | None = None, message: str | None = None) -> dict:
    form = _approve_form(rating)
    form.origin.data = "queue"
    return dict(row=_queue_row(rating), form=form, error=error, message=message,
                may_approve=access.can_write() and current_user.has_role(*APPROVE_WRITE))


@bp.get("/approvals")
@access.policy(read=APPROVE_WRITE)
def approvals():
    """Reviewed ratings in my area waiting for approval, overrides first, oldest first; paged."""
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    stmt = (access.scoped(sa.select(Rating), Rating).where(Rating.status == "reviewed")
            .order_by(Rating.override_by.is_(None), Rating.reviewed_at, Rating.id))
    ratings = db.paginate(stmt, page=page, per_page=PER_PAGE, error_out=False)
    names = dict(db.session.execute(sa.select(Household.id, Household.head_name).where(
        Household.id.in_([r.household_id for r in ratings.items]))).all()) if ratings.items else {}
    villages = dict(db.session.execute(sa.select(Village.id, Village.name).where(
        Village.id.in_({r.village_id for r in ratings.items}))).all()) if ratings.items else {}
    rows = []
    for r in ratings.items:
        form = _approve_form(r)
        form.origin.data = "queue"
        rows.append((_queue_row(r, names.get(r.household_id, ""), villages.get(r.village_id, "")), form))
    return render("ratings/approvals.html", "ratings/_approvals.html", ratings=ratings, rows=rows,
                  may_approve=access.can_write() and current_user.has_role(*APPROVE_WRITE))


# ---------------------------------------------------------------- bonus recommendations

def _bonus_page(h: Household, form: BonusForm | None = None, status: int = 200, error: str | None = None):
    recs = list(db.session.scalars(sa.select(BonusRecommendation).where(BonusRecommendation.household_id == h.id)
                                   .order_by(BonusRecommendation.withdrawn_at.is_not(None),
                                             BonusRecommendation.id.desc())))
    return render("ratings/bonuses.html", "ratings/_bonuses.html", status=status, household=h,
                  recommendations=recs, form=form or BonusForm(formdata=None),
                  withdraw_form=WithdrawBonusForm(formdata=None),
                  error=error, may_write=access.can_write() and current_user.has_role(*BONUS_WRITE),
                  points=services.current_model().params.get("bonuses", {}), live=services.live_rating(h.id))


@bp.get("/households/<int:household_id>/bonuses")
@access.policy(read=RATING_READ)
def bonuses(household_id: int):
    """Bonus recommendations (红色信贷示范户, 党员帮扶, awards) with who recommended them; counted at the next scoring."""
    return _bonus_page(access.get_or_404(Household, household_id))


@bp.post("/households/<int:household_id>/bonuses")
@access.policy(read=BONUS_WRITE, write=BONUS_WRITE)
@idempotent
def bonus_add(household_id: int):
    """Record a recommendation (idempotent: a repeated key records once)."""
    h = access.get_or_404(Household, household_id)
    form = BonusForm()
    if h.status != "active":
        return _bonus_page(h, form, status=422, error=_("This household has moved out; it can no longer be changed."))
    if not form.validate_on_submit():
        return _bonus_page(h, form, status=422)
    db.session.add(BonusRecommendation(
        county_id=h.county_id, village_id=h.village_id, group_id=h.group_id, household_id=h.id, kind=form.kind.data,
        detail=form.detail(), recommender=form.recommender(), recorded_by=current_user.id,
        recorded_at=clock.utcnow_naive()))
    db.session.flush()
    return redirect_to("ratings.bonuses", _("Recommendation recorded. It counts from the next scoring."),
                       household_id=h.id)


@bp.post("/bonuses/<int:bonus_id>/withdraw")
@access.policy(read=BONUS_WRITE, write=BONUS_WRITE)
def bonus_withdraw(bonus_id: int):
    """Withdraw a recommendation, with the reason (kept: the row stays in the history)."""
    rec = access.get_or_404(BonusRecommendation, bonus_id)
    h = db.session.get(Household, rec.household_id)
    form = WithdrawBonusForm()
    if rec.withdrawn_at is not None:
        return _bonus_page(h, status=409, error=_("This recommendation was already withdrawn."))
    if not form.validate_on_submit():
        return _bonus_page(h, status=422, error=" ".join(str(e) for e in form.reason.errors))
    rec.withdrawn_at = clock.utcnow_naive()
    rec.withdrawn_reason = form.reason.data
    db.session.commit()
    return redirect_to("ratings.bonuses", _("Recommendation withdrawn."), household_id=h.id)
