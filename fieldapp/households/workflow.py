"""Submit → accept / return (W2): the V-1 check, frozen snapshots in CreditFile versions, the branch manager's
review with comments per section (SD-1: never one's own submission), and new draft versions after acceptance.

Versions: every submission freezes a snapshot into a CreditFile row (version_no = previous + 1, or the open
draft version opened by a change after acceptance). Returned and accepted versions stay as history. A change
to an accepted file opens a draft version (version_no + 1) while the accepted one stays current until a newer
one is accepted. Every transition is an audited change of Household and CreditFile.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal

import sqlalchemy as sa
from blinker import Namespace
from flask import has_request_context
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.orm.exc import StaleDataError

from ..core import access, clock
from ..core.idnumber import IdNumberError, parse_id_number
from ..core.masking import mask_id_number, mask_phone
from ..core.web import redirect_to, render
from ..extensions import db
from . import bp, rules, services
from . import section_forms as sf
from .forms import RELATIONS
from .models import CreditFile, Household

SUBMIT_ROLES = frozenset({"grid_officer", "branch_manager", "hq_admin"})
REVIEW_READ = frozenset({"branch_manager", "hq_admin", "auditor"})
REVIEW_WRITE = frozenset({"branch_manager", "hq_admin"})  # R2 (and head office) accept or return; SD-1
DONE = "done"  # the visit outcome 完成
# Columns never copied into a snapshot: keys, housekeeping, and what SD-5 keeps out of a frozen copy.
SNAPSHOT_SKIP = {"household_id", "county_id", "created_at", "id_hash", "health", "name_pinyin", "name_initials",
                 "position", "id_last4", "mobile_last4"}


# Sent with the household after a version is accepted (ratings re-rate a household already rated).
file_accepted = Namespace().signal("file-accepted")


class TransitionRefused(Exception):
    """The file's state does not allow this step (e.g. accept a file that is not submitted)."""


def _next(current: str, event: str) -> str:
    """rules.next_file_status (the W2 table), with a refused transition as TransitionRefused."""
    try:
        return rules.next_file_status(current, event)
    except ValueError as exc:  # rules.TransitionError
        raise TransitionRefused(event) from exc


# ---------------------------------------------------------------- versions

def versions(household: Household) -> list[CreditFile]:
    """All versions of the file, newest first."""
    return list(db.session.scalars(sa.select(CreditFile).where(CreditFile.household_id == household.id)
                                   .order_by(CreditFile.version_no.desc())))


def latest(household: Household) -> CreditFile | None:
    return db.session.scalar(sa.select(CreditFile).where(CreditFile.household_id == household.id)
                             .order_by(CreditFile.version_no.desc()).limit(1))


def current_accepted(household: Household) -> CreditFile | None:
    """The accepted version in force: the newest accepted one (it stays current while a newer draft is worked on)."""
    return db.session.scalar(sa.select(CreditFile).where(CreditFile.household_id == household.id,
                                                         CreditFile.status == "accepted")
                             .order_by(CreditFile.version_no.desc()).limit(1))


def review_comments(household: Household) -> dict[str, str]:
    """The branch manager's comments by section ("general" for the whole file) while the file is returned."""
    last = latest(household)
    if last is None or last.status != "returned":
        return {}
    return {k: v for k, v in (last.review_comments or {}).items() if isinstance(v, str) and v}


@dataclass
class FileSummary:
    """What the household page says about the file's versions: "accepted v2; changes in draft v3"."""

    household_id: int
    status: str
    accepted_no: int | None = None
    working_no: int | None = None  # the newest version when it is not the accepted one
    working_status: str | None = None
    comments: dict = field(default_factory=dict)
    can_submit: bool = False
    text: str = ""


STATUS_WORDS = {"draft": rules.N_("draft"), "submitted": rules.N_("submitted"), "returned": rules.N_("returned"),
                "accepted": rules.N_("accepted")}


def file_summary(household: Household) -> FileSummary:
    accepted = current_accepted(household)
    last = latest(household)
    summary = FileSummary(household_id=household.id, status=household.file_status,
                          accepted_no=accepted.version_no if accepted else None,
                          comments=review_comments(household))
    if last is not None and (accepted is None or last.version_no != accepted.version_no):
        summary.working_no, summary.working_status = last.version_no, last.status
    parts = []
    if accepted is not None:
        parts.append(_("accepted v%(n)d", n=accepted.version_no))
    if summary.working_no is not None:
        word = _(STATUS_WORDS.get(summary.working_status, summary.working_status))
        if accepted is not None and summary.working_status == "draft":
            parts.append(_("changes in draft v%(n)d", n=summary.working_no))
        else:
            parts.append(_("%(status)s v%(n)d", status=word, n=summary.working_no))
    summary.text = "; ".join(parts)
    summary.can_submit = household.status == "active" and _allowed(household.file_status, "submit")
    return summary


def _allowed(status: str, event: str) -> bool:
    return event in rules.allowed_events(status)


def may_change(household: Household) -> bool:
    """Sections can change unless the file is with the branch manager: a submitted file is locked (W2)."""
    return household.file_status != "submitted"


def note_change(household: Household) -> None:
    """A section changed. Editing a new, draft or returned file is no transition; an accepted file opens a new
    draft version (version_no + 1) while the accepted one stays current (W2 "accepted --change--> draft")."""
    if not _allowed(household.file_status, "change"):
        return
    status = _next(household.file_status, "change")
    last = latest(household)
    if last is None or last.status != "draft":
        db.session.add(CreditFile(household_id=household.id, version_no=(last.version_no if last else 0) + 1,
                                  status="draft", created_by=_user_id()))
    household.file_status = status


def _user_id() -> int | None:
    if not has_request_context():
        return None
    return current_user.id if current_user.is_authenticated else None


# ---------------------------------------------------------------- the V-1 check and the snapshot

def _head(household: Household):
    return next((m for m in household.members if m.is_head), None)


def submission_problems(household: Household) -> list[str]:
    """V-1 problem codes (rules.PROBLEM_MESSAGES): head ID, a completed visit, consents, every section."""
    from ..visits.models import Consent, Visit
    head = _head(household)
    head_ok = False
    if head is not None and head.id_number:
        try:
            parse_id_number(head.id_number, clock.today())
            head_ok = True
        except IdNumberError:
            head_ok = False
    done = db.session.scalar(sa.select(sa.func.count()).select_from(Visit).where(
        Visit.household_id == household.id, Visit.outcome == DONE)) or 0
    rows = db.session.execute(sa.select(Consent.kind, Consent.method).where(
        Consent.household_id == household.id, Consent.revoked_at.is_(None))).all()
    given = {kind for kind, method in rows if method != "refused"}
    refused = any(method == "refused" and kind in rules.REQUIRED_CONSENTS for kind, method in rows)
    return rules.submission_problems(head_ok, done > 0, given, refused, services.section_states(household))


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _row_dict(row) -> dict:
    out = {}
    for attr in sa.inspect(type(row)).column_attrs:
        if attr.key in SNAPSHOT_SKIP:
            continue
        out[attr.key] = _plain(getattr(row, attr.key))
    return out


def freeze(household: Household, rows: dict[str, list], visit_ids: list[int], consents: list[dict],
           states: dict[str, str]) -> dict:
    """The snapshot of a file from its rows by section (ORM objects): plain JSON, member ID numbers masked."""
    sections: dict[str, list] = {}
    for name in rules.SECTION_ORDER:
        items = []
        for row in rows.get(name, []):
            item = _row_dict(row)
            if name == "members" and item.get("id_number"):
                item["id_number"] = mask_id_number(item["id_number"])
            if name == "members" and item.get("mobile"):
                item["mobile"] = mask_phone(item["mobile"])
            items.append(item)
        sections[name] = items
    return {"household": {"code": household.code, "head_name": household.head_name,
                          "declared_none": sorted(household.declared_none or [])},
            "states": states, "sections": sections, "visit_ids": visit_ids,
            "consents": consents, "taken_at": clock.utcnow_naive().isoformat()}


def snapshot(household: Household) -> dict:
    """Every sub-record as plain JSON (member ID numbers masked), frozen at submission."""
    from ..visits.models import Consent, Visit
    rows = {}
    for name in rules.SECTION_ORDER:
        model = services.SECTION_MODELS[name]
        rows[name] = list(db.session.scalars(sa.select(model).where(model.household_id == household.id)
                                             .order_by(model.id)))
    visits = list(db.session.scalars(sa.select(Visit.id).where(Visit.household_id == household.id,
                                                               Visit.outcome == DONE).order_by(Visit.id)))
    consents = [{"kind": k, "method": m} for k, m in db.session.execute(
        sa.select(Consent.kind, Consent.method).where(Consent.household_id == household.id,
                                                      Consent.revoked_at.is_(None)).order_by(Consent.id))]
    return freeze(household, rows, visits, consents, services.section_states(household))


def submit_version(household: Household) -> CreditFile:
    """Freeze the file into a submitted version; the caller has checked submission_problems()."""
    status = _next(household.file_status, "submit")
    last = latest(household)
    if last is not None and last.status == "draft":
        version = last  # the draft version a change after acceptance opened
    else:
        version = CreditFile(household_id=household.id, version_no=(last.version_no if last else 0) + 1,
                             created_by=_user_id())
        db.session.add(version)
    version.status = "submitted"
    version.snapshot = snapshot(household)
    version.submitted_at = clock.utcnow_naive()
    version.submitted_by = _user_id()
    version.review_comments = {}
    household.file_status = status
    services.touch(household)
    db.session.flush()
    return version


def decide(household: Household, version: CreditFile, decision: str, comments: dict[str, str]) -> None:
    """Accept or return the submitted version (the caller checked SD-1 and that a return has a comment)."""
    status = _next(household.file_status, "accept" if decision == "accept" else "return")
    version.status = "accepted" if decision == "accept" else "returned"
    version.reviewed_at = clock.utcnow_naive()
    version.reviewed_by = _user_id()
    version.review_comments = dict(comments)
    household.file_status = status
    services.touch(household)
    db.session.flush()
    if decision == "accept":
        file_accepted.send(household)


# ---------------------------------------------------------------- review display

@dataclass
class SnapshotSection:
    name: str
    title: str
    state: str
    rows: list = field(default_factory=list)  # RowView-like: title, facts, warnings
    comment: str = ""


def _from_json(model, data: dict):
    """A transient (never added) row rebuilt from a snapshot item, so it can be described like a live one."""
    values = {}
    for attr in sa.inspect(model).column_attrs:
        if attr.key not in data:
            continue
        value = data[attr.key]
        column = attr.columns[0]
        kind = column.type
        if value is not None:
            # snapshots hold dates and decimals as strings (JSON)
            if isinstance(kind, sa.DateTime) and isinstance(value, str):
                value = datetime.fromisoformat(value)
            elif isinstance(kind, sa.Date) and isinstance(value, str):
                value = date.fromisoformat(value)
            elif isinstance(kind, sa.Numeric) and not isinstance(kind, sa.Float) and not isinstance(value, Decimal):
                value = Decimal(str(value))
        values[attr.key] = value
    return model(**values)


def snapshot_sections(version: CreditFile, comments: dict | None = None) -> list[SnapshotSection]:
    """The frozen file by section, as strings for the review page."""
    from .sections import CREDITOR_FULL, describe
    snap = version.snapshot or {}
    states = snap.get("states", {})
    comments = comments or {}
    full = current_user.has_role(*CREDITOR_FULL)
    members = {m.get("id"): m.get("name") for m in snap.get("sections", {}).get("members", [])}
    out = []
    for name in rules.SECTION_ORDER:
        items = snap.get("sections", {}).get(name, [])
        section = SnapshotSection(name=name, title=_(rules.SECTION_LABELS[name]), state=states.get(name, "empty"),
                                  comment=comments.get(name, ""))
        for item in items:
            if name == "members":
                relation = str(RELATIONS.get(item.get("relation"), item.get("relation") or ""))
                section.rows.append(_MemberView(
                    title=f"{item.get('name', '')} · {relation}",
                    facts=[(_("ID number"), item.get("id_number") or "—"),
                           (_("Birth date"), item.get("birth_date") or "—")]))
            else:
                row = _from_json(services.SECTION_MODELS[name], item)
                section.rows.append(describe(name, row, members, full))
        out.append(section)
    return out


@dataclass
class _MemberView:
    title: str
    facts: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    source: str = ""


@dataclass
class VersionRow:
    version_no: int
    status: str
    submitted_at: datetime | None
    reviewed_at: datetime | None
    comments: list[tuple[str, str]]


def history_rows(household: Household) -> list[VersionRow]:
    """Every version, newest first, with its review comments labelled by section."""
    out = []
    for v in versions(household):
        comments = [(_("General") if k == "general" else _(rules.SECTION_LABELS.get(k, k)), text)
                    for k, text in (v.review_comments or {}).items() if isinstance(text, str) and text]
        out.append(VersionRow(v.version_no, _(VERSION_STATUS.get(v.status, v.status)), v.submitted_at,
                              v.reviewed_at, comments))
    return out


VERSION_STATUS = {"draft": rules.N_("Draft"), "submitted": rules.N_("Submitted"), "returned": rules.N_("Returned"),
                  "accepted": rules.N_("Accepted")}


# ---------------------------------------------------------------- views

def _household(household_id: int) -> Household:
    return access.get_or_404(Household, household_id)


def _problem_links(household: Household, problems: list[str]) -> list[tuple[str, str | None]]:
    """(message, link) per problem: sections link to their screen, the rest to the household page."""
    from flask import url_for
    out = []
    for code in problems:
        link = None
        if code.startswith("section:"):
            name = code.split(":", 1)[1]
            link = (url_for("households.members", household_id=household.id) if name == "members"
                    else url_for("households.section", household_id=household.id, name=name))
        else:
            link = url_for("households.show", household_id=household.id)
        out.append((_(rules.problem_message(code)), link))
    return out


@bp.post("/households/<int:household_id>/submit")
@access.policy(read=SUBMIT_ROLES, write=SUBMIT_ROLES)
def submit(household_id: int):
    """Submit the file for review: V-1 checked first (422 with a checklist), then frozen into a new version."""
    h = _household(household_id)
    form = sf.SubmitForm()
    if h.file_status == "submitted":
        return redirect_to("households.show", _("This file is already with the branch manager."), household_id=h.id)
    error = None
    problems: list[str] = []
    if h.status != "active":
        error = _("This household has moved out; it can no longer be changed.")
    elif h.file_status == "accepted":
        error = _("There is nothing new to submit: the accepted version is current.")
    elif not form.validate_on_submit():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    else:
        problems = submission_problems(h)
        if not problems and not _allowed(h.file_status, "submit"):
            # V-1 holds but the file never got its visit transition (new / pending revisit): record the visit
            error = _("Record the completed visit on the visit page first; then submit.")
        elif not problems:
            try:
                version = submit_version(h)
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                h = _household(household_id)
                return render("households/submit.html", "households/_submit_problems.html", status=409,
                              household=h, problems=[], error=_(
                                  "Someone else changed this file at the same moment. Check it and submit again."))
            return redirect_to("households.show", _("Submitted for review as version %(n)d.", n=version.version_no),
                               household_id=h.id)
    db.session.rollback()
    return render("households/submit.html", "households/_submit_problems.html", status=422, household=h,
                  problems=_problem_links(h, problems), error=error)


def _review_page(h: Household, form=None, status: int = 200, error: str | None = None, conflict: bool = False):
    version = latest(h)
    under_review = version is not None and version.status == "submitted"
    if form is None:
        form = sf.ReviewForm(formdata=None)
        if version is not None:
            form.version.data = str(version.version)
    elif version is not None:
        form.version.data = str(version.version)
    own = under_review and version.submitted_by == current_user.id
    shown = version if under_review else (current_accepted(h) or version)
    comments = (shown.review_comments or {}) if shown is not None and shown.status == "returned" else {}
    return render("households/review.html", "households/_review.html", status=status, household=h,
                  version=shown, under_review=under_review, own=own, form=form, error=error, conflict=conflict,
                  sections=snapshot_sections(shown, comments) if shown is not None and shown.snapshot else [],
                  history=history_rows(h), may_decide=current_user.has_role(*REVIEW_WRITE) and under_review and not own,
                  file=file_summary(h))


@bp.get("/households/<int:household_id>/review")
@access.policy(read=REVIEW_READ)
def review(household_id: int):
    """The submitted snapshot by section, with a comment box per section, for the branch manager."""
    return _review_page(_household(household_id))


@bp.post("/households/<int:household_id>/review")
@access.policy(read=REVIEW_READ, write=REVIEW_WRITE)
def review_decide(household_id: int):
    """Accept, or return with comments per section (at least one). Nobody reviews their own submission (SD-1)."""
    h = _household(household_id)
    version = latest(h)
    form = sf.ReviewForm()
    if version is None or version.status != "submitted":
        db.session.rollback()
        return _review_page(h, form, status=409, error=_("This file is not waiting for review (anymore)."))
    if version.submitted_by == current_user.id:
        db.session.rollback()
        return _review_page(h, form, status=403, error=_(
            "You submitted this file, so another manager must review it."))
    if form.validate_on_submit():
        comments = form.comments()
        if form.version.number != version.version:
            db.session.rollback()
            return _review_page(h, form, status=409, conflict=True, error=_(
                "Someone else reviewed or changed this file meanwhile. Check it again."))
        if form.decision.data == "return" and not comments:
            form.comment_general.errors.append(_("Say what needs fixing: write at least one comment."))
        else:
            try:
                decide(h, version, form.decision.data, comments)
                db.session.commit()
            except (StaleDataError, TransitionRefused):
                db.session.rollback()
                return _review_page(_household(household_id), form, status=409, conflict=True, error=_(
                    "Someone else reviewed or changed this file meanwhile. Check it again."))
            message = (_("Accepted version %(n)d.", n=version.version_no) if form.decision.data == "accept"
                       else _("Returned version %(n)d with comments.", n=version.version_no))
            return redirect_to("households.show", message, household_id=h.id)
    db.session.rollback()
    return _review_page(_household(household_id), form, status=422)

