"""The village review meeting (评议会) pages: schedule, set up, vote on one's own phone (背靠背), paper tally, close
and the announced results.

Secrecy: before the close no route here renders another member's ballot or any count of answers. The meeting page
shows per member only present/absent and how many of their ballots are in; a member's vote pages show only their
own ballots; the results page says nothing until the meeting is closed.
"""
from __future__ import annotations

from flask import abort, make_response, render_template, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..accounts.models import User
from ..core import access, audit, clock, pdf
from ..core.idempotency import idempotent
from ..core.money import format_yuan
from ..core.web import redirect_to, render
from ..extensions import db
from ..org.models import Village
from . import bp, meetings, rules
from .meeting_forms import (BALLOT_LABELS, MeetingForm, MemberForm, RecusalForm, StepForm, TellersForm,
                            VersionOnlyForm, ballot_form, paper_form)
from .models import Ballot, ReviewMeeting
from .services import Refused

READ = frozenset({"hq_admin", "branch_manager", "grid_officer", "village_secretary", "panel_member", "auditor"})
SCHEDULE = frozenset({"grid_officer", "branch_manager"})
SETUP = frozenset({"grid_officer", "branch_manager", "village_secretary"})
CHAIR = frozenset({"village_secretary"})  # and the meeting's own chair_user_id, checked in meetings.py
VOTE = frozenset({"panel_member", "village_secretary"})  # and a present committee seat linked to the user
STATUS_FOR = {"read_only": 409, "voting": 409, "not_voting": 409, "stale": 409, "not_chair": 403, "absent": 403,
              "not_member": 404}


def _labels() -> dict:
    return {"agenda": meetings.AGENDA_LABELS, "role": meetings.MEMBER_ROLE_LABELS,
            "relation": meetings.RELATION_LABELS, "mode": meetings.MODE_LABELS, "status": meetings.STATUS_LABELS,
            "checklist": rules.CHECKLIST_LABELS, "veto": rules.VETO_LABELS, "grade": rules.GRADE_LABELS,
            "income": rules.INCOME_BAND_LABELS, "debt": rules.DEBT_BAND_LABELS, "ballot": BALLOT_LABELS}


def _page(template: str, fragment: str | None = None, status: int = 200, **ctx):
    return render(template, fragment, status=status, ml=_labels(), checklist=rules.CHECKLIST,
                  committee_vetoes=rules.COMMITTEE_VETOES, format_yuan=format_yuan, **ctx)


def _meeting(meeting_id: int) -> ReviewMeeting:
    return access.village_get_or_404(ReviewMeeting, meeting_id)


def _village(village_id: int) -> Village:
    return access.get_or_404(Village, village_id)


def _user_names(*ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    return {u.id: u.name for u in db.session.query(User).filter(User.id.in_(ids))} if ids else {}


def _sees_items(meeting: ReviewMeeting) -> bool:
    """Panel members see the households only of meetings they sit on (R6); the other roles of the village do."""
    if current_user.has_role("hq_admin", "branch_manager", "grid_officer", "village_secretary", "auditor"):
        return True
    return meetings.membership(meeting, current_user.id) is not None


def _sees_progress(meeting: ReviewMeeting) -> bool:
    """Who has voted how many times: for the chair and bank staff; a voting member sees only their own progress."""
    return (meeting.chair_user_id == current_user.id
            or current_user.has_role("hq_admin", "branch_manager", "grid_officer", "auditor"))


def _may_setup() -> bool:
    return access.can_write() and current_user.has_role(*SETUP)


def _meeting_context(meeting: ReviewMeeting, **extra) -> dict:
    village = db.session.get(Village, meeting.village_id)
    sees = _sees_items(meeting)
    rows = meetings.sheet_rows(meeting) if sees else []
    pairs_list = meetings.recusals(meeting) if sees else []
    members_by_id = {m.id: m for m in meeting.members}
    head_names = {r.item.household_id: r.head_name for r in rows}
    scheduled = meeting.status == "scheduled"
    setup = _may_setup() and meeting.status in ("scheduled", "voting")
    version = str(meeting.version)
    ctx = dict(
        meeting=meeting, village=village, rows=rows, sees_items=sees, recusal_rows=[
            (members_by_id.get(r.member_id), head_names.get(r.household_id, ""), r) for r in pairs_list],
        names=_user_names(meeting.chair_user_id, meeting.officer_user_id,
                          *[m.user_id for m in meeting.members]),
        is_chair=meeting.chair_user_id == current_user.id and access.can_write(),
        seat=meetings.membership(meeting, current_user.id), may_setup=setup, scheduled=scheduled,
        progress=meetings.progress(meeting) if meeting.status == "voting" and _sees_progress(meeting) else [],
        open_problems=meetings.open_problems(meeting) if scheduled else [],
        close_problems=meetings.close_problems(meeting) if meeting.status == "voting" else [],
        next_step=meetings.next_step(meeting), manual_steps=meetings.MANUAL_BEFORE_VOTING,
        quorum=rules.quorum_needed(len(meeting.members)),
        present=sum(1 for m in meeting.members if m.present),
        error=None,
    )
    if setup:
        member_form = MemberForm(formdata=None)
        member_form.user.choices = [("", _("No account: votes on paper only"))] + [
            (str(u.id), u.name) for u in meetings.voter_choices(meeting.village_id)]
        recusal_form = RecusalForm(formdata=None)
        _recusal_choices(meeting, recusal_form, rows)
        tellers = TellersForm(formdata=None, monitor=meeting.monitor_name, counter=meeting.counter_name,
                              version=version)
        step = StepForm(formdata=None, step=meetings.next_step(meeting), version=version)
        ctx.update(member_form=member_form, recusal_form=recusal_form, tellers_form=tellers, step_form=step)
    ctx.update(extra)
    return ctx


def _recusal_choices(meeting: ReviewMeeting, form: RecusalForm, rows) -> None:
    form.member.choices = [("", _("Choose…"))] + [(str(m.id), m.name) for m in meeting.members]
    form.household.choices = [("", _("Choose…"))] + [(str(r.item.household_id), r.head_name) for r in rows]


def _meeting_page(meeting: ReviewMeeting, status: int = 200, **extra):
    return _page("ratings/meeting.html", "ratings/_meeting.html", status=status, **_meeting_context(meeting, **extra))


def _refused(meeting_id: int, exc: Refused, **extra):
    """Re-render the meeting as it is now with the refusal's message (409 over, 403 not the chair, else 422)."""
    db.session.rollback()
    meeting = _meeting(meeting_id)
    return _meeting_page(meeting, status=STATUS_FOR.get(exc.code, 422), error=exc.message, **extra)


def _stale(meeting_id: int):
    db.session.rollback()
    meeting = _meeting(meeting_id)
    return _meeting_page(meeting, status=409, conflict=True, error=_(
        "Someone else changed this meeting meanwhile. Here it is as it is now; check it and send your change again."))


def _version_ok(meeting: ReviewMeeting, form) -> bool:
    return form.version.number is not None and form.version.number == meeting.version


def _done(meeting: ReviewMeeting, message: str):
    return redirect_to("ratings.meeting", message, meeting_id=meeting.id)


# ---------------------------------------------------------------- list and schedule

@bp.get("/villages/<int:village_id>/meetings")
@access.policy(read=READ)
def meeting_list(village_id: int):
    """The village's review meetings (评议会), newest first."""
    village = _village(village_id)
    return _page("ratings/meeting_list.html", None, village=village, meetings=meetings.meetings_of(village.id),
                 may_schedule=access.can_write() and current_user.has_role(*SCHEDULE))


def _meeting_form(village: Village, form: MeetingForm) -> MeetingForm:
    chairs = [(str(u.id), u.name) for u in meetings.chair_choices(village.id)]
    form.chair.choices = chairs if len(chairs) == 1 else [("", _("Choose…"))] + chairs
    if len(chairs) == 1 and not form.chair.data:
        form.chair.data = chairs[0][0]  # the village's only secretary chairs by default
    return form


@bp.route("/villages/<int:village_id>/meetings/new", methods=["GET", "POST"])
@access.policy(read=SCHEDULE, write=SCHEDULE)
@idempotent
def meeting_new(village_id: int):
    """Schedule a review meeting: date, place, phones or paper, chaired by a village secretary of the village."""
    village = _village(village_id)
    if request.method == "GET":
        form = _meeting_form(village, MeetingForm(formdata=None, held_on=clock.today()))
        return _page("ratings/meeting_new.html", "ratings/_meeting_form.html", village=village, form=form, error=None)
    form = _meeting_form(village, MeetingForm())
    error = None
    if form.validate_on_submit():
        try:
            meeting = meetings.schedule(village, held_on=form.held_on.data, location=form.location.data or "",
                                        mode=form.mode.data, chair_user_id=int(form.chair.data),
                                        user_id=current_user.id)
        except (Refused, ValueError) as exc:
            error = getattr(exc, "message", None) or _("Choose the chair.")
        else:
            return redirect_to("ratings.meeting", _("Meeting scheduled with %(n)d households.", n=len(meeting.items)),
                               meeting_id=meeting.id)
    return _page("ratings/meeting_new.html", "ratings/_meeting_form.html", status=422, village=village, form=form,
                 error=error)


# ---------------------------------------------------------------- the meeting page

@bp.get("/meetings/<int:meeting_id>")
@access.policy(read=READ)
def meeting(meeting_id: int):
    """The meeting: agenda, households, committee and attendance, recusals, tellers; while voting only who has
    voted how many times (never what); after the close a link to the announced results."""
    return _meeting_page(_meeting(meeting_id))


@bp.get("/meetings/<int:meeting_id>/progress")
@access.policy(read=READ)
def meeting_progress(meeting_id: int):
    """Polled while voting: per member present or not and ballots in, e.g. "7/12" (counts only)."""
    meeting = _meeting(meeting_id)
    return _page("ratings/meeting.html", "ratings/_meeting_progress.html", **_meeting_context(meeting))


def _setup_action(meeting_id: int, action, message: str, *, form=None, commit: bool = True):
    meeting = _meeting(meeting_id)
    if form is not None:
        if not form.validate_on_submit():
            db.session.rollback()
            return _meeting_page(meeting, status=422, error=" ".join(
                str(e) for errors in form.errors.values() for e in errors))
        if hasattr(form, "version") and not _version_ok(meeting, form):
            return _stale(meeting_id)
    try:
        result = action(meeting)
        if commit:
            db.session.commit()
    except Refused as exc:
        return _refused(meeting_id, exc)
    except (StaleDataError, IntegrityError):
        return _stale(meeting_id)
    return _done(meeting, message(result) if callable(message) else message)


@bp.post("/meetings/<int:meeting_id>/refresh")
@access.policy(read=SETUP, write=SETUP)
def meeting_refresh(meeting_id: int):
    """Add households whose ratings were proposed since the meeting was scheduled."""
    return _setup_action(meeting_id, meetings.refresh_items,
                         lambda n: _("%(n)d households added.", n=n), form=VersionOnlyForm())


@bp.post("/meetings/<int:meeting_id>/members")
@access.policy(read=SETUP, write=SETUP)
@idempotent
def meeting_member_add(meeting_id: int):
    """Add a committee member (idempotent): name, role, party member, and the account they vote with."""
    meeting = _meeting(meeting_id)
    form = MemberForm()
    form.user.choices = [("", "")] + [(str(u.id), u.name) for u in meetings.voter_choices(meeting.village_id)]
    if not form.validate_on_submit():
        return _meeting_page(meeting, status=422, error=" ".join(
            str(e) for errors in form.errors.values() for e in errors))
    user_id = int(form.user.data) if (form.user.data or "").isdigit() else None
    try:
        meetings.add_member(meeting, name=form.name.data or "", role=form.role.data,
                            party_member=bool(form.party_member.data), user_id=user_id)
    except Refused as exc:
        return _refused(meeting_id, exc)
    return _done(meeting, _("Member added."))


@bp.post("/meetings/<int:meeting_id>/members/<int:member_id>/remove")
@access.policy(read=SETUP, write=SETUP)
def meeting_member_remove(meeting_id: int, member_id: int):
    """Take a member off the committee (before voting opens)."""
    meeting = _meeting(meeting_id)
    member = meetings.member_of(meeting, member_id)
    if member is None:
        abort(404)
    return _setup_action(meeting_id, lambda m: meetings.remove_member(m, member), _("Member removed."))


@bp.post("/meetings/<int:meeting_id>/attendance")
@access.policy(read=SETUP, write=SETUP)
def meeting_attendance(meeting_id: int):
    """Who is present (RV-1: the quorum is checked when voting opens)."""
    present = {int(v) for v in request.form.getlist("present") if v.isdigit()}
    return _setup_action(meeting_id, lambda m: meetings.set_attendance(m, present), _("Attendance saved."),
                         form=VersionOnlyForm())


@bp.post("/meetings/<int:meeting_id>/recusals")
@access.policy(read=SETUP, write=SETUP)
@idempotent
def meeting_recusal_add(meeting_id: int):
    """SD-2: a member related to a household steps aside for it (before they vote on it)."""
    meeting = _meeting(meeting_id)
    form = RecusalForm()
    rows = meetings.sheet_rows(meeting)
    _recusal_choices(meeting, form, rows)
    if not form.validate_on_submit():
        return _meeting_page(meeting, status=422, error=" ".join(
            str(e) for errors in form.errors.values() for e in errors))
    member = meetings.member_of(meeting, int(form.member.data)) if form.member.data.isdigit() else None
    if member is None or not form.household.data.isdigit():
        return _meeting_page(meeting, status=422, error=_("Choose the member and the household."))
    try:
        meetings.add_recusal(meeting, member=member, household_id=int(form.household.data),
                             relation=form.relation.data, note=form.note.data, user_id=current_user.id)
    except Refused as exc:
        return _refused(meeting_id, exc)
    return _done(meeting, _("Recusal recorded."))


@bp.post("/meetings/<int:meeting_id>/tellers")
@access.policy(read=SETUP, write=SETUP)
def meeting_tellers(meeting_id: int):
    """The two named people who monitor and count the votes (RV-4)."""
    form = TellersForm()
    return _setup_action(meeting_id, lambda m: meetings.set_tellers(m, monitor=form.monitor.data,
                                                                     counter=form.counter.data),
                         _("Tellers saved."), form=form)


@bp.post("/meetings/<int:meeting_id>/agenda")
@access.policy(read=SETUP, write=SETUP)
def meeting_step(meeting_id: int):
    """Record the next agenda step (seed-001 order), with the time and who recorded it."""
    form = StepForm()
    return _setup_action(meeting_id, lambda m: meetings.record_step(m, form.step.data, user_id=current_user.id,
                                                                     note=form.step_note.data),
                         _("Agenda step recorded."), form=form)


@bp.post("/meetings/<int:meeting_id>/open")
@access.policy(read=CHAIR, write=CHAIR)
def meeting_open(meeting_id: int):
    """The chair opens voting: composition (RV-2), quorum (RV-1) and the agenda so far are checked."""
    return _setup_action(meeting_id, lambda m: meetings.open_voting(m, current_user), _("Voting is open."),
                         form=VersionOnlyForm())


@bp.post("/meetings/<int:meeting_id>/close")
@access.policy(read=CHAIR, write=CHAIR)
def meeting_close(meeting_id: int):
    """The chair closes the meeting: votes are counted, ratings rescored and the results announced."""
    return _setup_action(meeting_id, lambda m: meetings.close(m, current_user),
                         _("Meeting closed; the results are announced."), form=VersionOnlyForm())


@bp.post("/meetings/<int:meeting_id>/cancel")
@access.policy(read=SETUP, write=SETUP)
def meeting_cancel(meeting_id: int):
    """Cancel a meeting that has not started voting."""
    return _setup_action(meeting_id, meetings.cancel, _("Meeting cancelled."), form=VersionOnlyForm())


# ---------------------------------------------------------------- voting on one's own phone

def _seat(meeting: ReviewMeeting):
    try:
        return meetings.voter_seat(meeting, current_user)
    except Refused as exc:
        if exc.code == "not_member":
            abort(404)
        abort(make_response(_page("ratings/meeting_vote.html", None, status=403, meeting=meeting, seat=None,
                                  rows=[], own={}, recused=set(), error=exc.message)))


@bp.get("/meetings/<int:meeting_id>/vote")
@access.policy(read=VOTE)
def meeting_vote(meeting_id: int):
    """My votes: the households (bands, no IDs, no balances) and MY progress only."""
    meeting = _meeting(meeting_id)
    seat = _seat(meeting)
    rows = meetings.sheet_rows(meeting)
    pairs = meetings.recused_pairs(meeting)
    recused = {hid for mid, hid in pairs if mid == seat.id}
    own = meetings.own_ballots(meeting, seat)
    due = sum(1 for r in rows if r.item.household_id not in recused)
    return _page("ratings/meeting_vote.html", "ratings/_meeting_vote_list.html", meeting=meeting, seat=seat,
                 rows=rows, own=own, recused=recused, due=due, cast=len(own), error=None)


def _ballot_page(meeting, seat, row, form, status=200, error=None, conflict=None):
    return _page("ratings/meeting_ballot.html", "ratings/_ballot_form.html", status=status, meeting=meeting,
                 seat=seat, row=row, form=form, error=error, conflict=conflict)


def _ballot_data(ballot: Ballot | None) -> dict:
    data = {"version": str(ballot.version if ballot else 0)}
    if ballot is not None:
        data.update({f"q_{code}": value for code, value in (ballot.answers or {}).items()})
        data.update({f"veto_{code}": True for code in (ballot.vetoes or [])})
    return data


@bp.route("/meetings/<int:meeting_id>/vote/<int:item_id>", methods=["GET", "POST"])
@access.policy(read=VOTE, write=VOTE)
def meeting_ballot(meeting_id: int, item_id: int):
    """My ballot on one household: the 12 checklist questions and the veto flags; re-voting replaces it."""
    meeting = _meeting(meeting_id)
    seat = _seat(meeting)
    item = meetings.item_of(meeting, item_id)
    if item is None:
        abort(404)
    row = next(r for r in meetings.sheet_rows(meeting) if r.item.id == item.id)
    mine = meetings.own_ballots(meeting, seat).get(item.id)
    if meetings.is_recused(meeting, seat, item):
        return _ballot_page(meeting, seat, row, None, status=403 if request.method == "POST" else 200, error=_(
            "You stepped aside for this household (related to it), so you do not vote on it."))
    if request.method == "GET":
        return _ballot_page(meeting, seat, row, ballot_form(data=_ballot_data(mine)))
    form = ballot_form()
    if meeting.status != "voting":
        db.session.rollback()
        over = meeting.status in ("closed", "cancelled")
        message = (_("This meeting is over: nothing can be changed any more.") if over
                   else _("Voting has not started yet."))
        return _ballot_page(meeting, seat, row, form, status=409, error=message)
    if not form.validate_on_submit():
        return _ballot_page(meeting, seat, row, form, status=422, error=_("Answer every question: yes, no or abstain."))
    answers = {code: getattr(form, f"q_{code}").data for code in rules.CHECKLIST}
    vetoes = [code for code in rules.COMMITTEE_VETOES if getattr(form, f"veto_{code}").data]
    try:
        meetings.cast_ballot(meeting, item, seat, answers=answers, vetoes=vetoes, version=form.version.number)
        db.session.commit()
    except (Refused, StaleDataError, IntegrityError) as exc:
        db.session.rollback()
        code = getattr(exc, "code", "stale")
        meeting = _meeting(meeting_id)
        seat = meetings.membership(meeting, current_user.id)
        mine = meetings.own_ballots(meeting, seat).get(item.id)
        if code == "stale":
            form.version.data = str(mine.version if mine else 0)
            return _ballot_page(meeting, seat, row, form, status=409, conflict=mine, error=_(
                "Your vote on this household changed meanwhile (another screen?). Your saved vote is shown "
                "below; send the form again to replace it."))
        return _ballot_page(meeting, seat, row, form, status=STATUS_FOR.get(code, 422), error=exc.message)
    return redirect_to("ratings.meeting_vote", _("Your vote on %(name)s is saved.", name=row.head_name),
                       meeting_id=meeting.id)


# ---------------------------------------------------------------- paper: blank sheet and tally

@bp.get("/meetings/<int:meeting_id>/sheet.pdf")
@access.policy(read=READ)
def meeting_sheet(meeting_id: int):
    """The blank review sheet (内部): full head names, group, size, bands, proposed grade, checklist and veto
    columns to tick; never ID numbers. ?format=html shows the HTML it is printed from."""
    meeting = _meeting(meeting_id)
    if not _sees_items(meeting):
        abort(404)
    village = db.session.get(Village, meeting.village_id)
    ctx = dict(meeting=meeting, village=village, rows=meetings.sheet_rows(meeting), ml=_labels(),
               checklist=rules.CHECKLIST, committee_vetoes=rules.COMMITTEE_VETOES, format_yuan=format_yuan,
               names=_user_names(meeting.chair_user_id), printed_at=clock.utcnow_naive(),
               members=[m for m in meeting.members])
    if request.args.get("format") == "html":
        return render_template("ratings/review_sheet.html", for_pdf=False, **ctx)
    body = pdf.render_pdf(render_template("ratings/review_sheet.html", for_pdf=True, **ctx))
    audit.record("print", "ReviewMeeting", meeting.id, reason="review_sheet")
    db.session.commit()
    response = make_response(body)
    response.mimetype = "application/pdf"
    response.headers["Content-Disposition"] = f'inline; filename="review-sheet-{meeting.id}.pdf"'
    return response


@bp.route("/meetings/<int:meeting_id>/paper/<int:item_id>", methods=["GET", "POST"])
@access.policy(read=CHAIR, write=CHAIR)
def meeting_paper(meeting_id: int, item_id: int):
    """The chair enters one household's tally from the paper sheets (counts checked against the voters)."""
    meeting = _meeting(meeting_id)
    if meeting.chair_user_id != current_user.id:
        abort(403)
    item = meetings.item_of(meeting, item_id)
    if item is None:
        abort(404)
    row = next(r for r in meetings.sheet_rows(meeting) if r.item.id == item.id)
    eligible = len(meetings.eligible_members(meeting, item))
    ctx = dict(meeting=meeting, row=row, eligible=eligible, entered=bool(item.paper_tally))
    if request.method == "GET":
        # never prefilled with what was entered: the counts stay off every screen until the close
        form = paper_form(data={"version": str(meeting.version), "voters": eligible})
        return _page("ratings/meeting_paper.html", "ratings/_meeting_paper_form.html", form=form, error=None, **ctx)
    form = paper_form()
    refusal = meetings.paper_refusal(meeting)
    if refusal is not None:
        db.session.rollback()
        return _page("ratings/meeting_paper.html", "ratings/_meeting_paper_form.html",
                     status=STATUS_FOR.get(refusal.code, 409), form=form, error=refusal.message, **ctx)
    if not form.validate_on_submit():
        return _page("ratings/meeting_paper.html", "ratings/_meeting_paper_form.html", status=422, form=form,
                     error=None, **ctx)
    if not _version_ok(meeting, form):
        db.session.rollback()
        return _page("ratings/meeting_paper.html", "ratings/_meeting_paper_form.html", status=409, form=form,
                     error=_("Someone else changed this meeting meanwhile. Reload and enter the tally again."), **ctx)
    try:
        meetings.enter_paper_tally(meeting, item, current_user, voters=form.voters.data,
                                   yes={c: getattr(form, f"yes_{c}").data for c in rules.CHECKLIST},
                                   veto_votes={c: getattr(form, f"veto_{c}").data for c in rules.COMMITTEE_VETOES})
        db.session.commit()
    except Refused as exc:
        db.session.rollback()
        return _page("ratings/meeting_paper.html", "ratings/_meeting_paper_form.html",
                     status=STATUS_FOR.get(exc.code, 422), form=form, error=exc.message, **ctx)
    return _done(meeting, _("Tally entered for %(name)s.", name=row.head_name))


# ---------------------------------------------------------------- results (after the close only)

@bp.get("/meetings/<int:meeting_id>/results")
@access.policy(read=READ)
def meeting_results(meeting_id: int):
    """The announced results: per household yes counts, voters, vetoes and the resulting score and grade."""
    meeting = _meeting(meeting_id)
    rows = meetings.results(meeting) if meeting.status == "closed" and _sees_items(meeting) else None
    return _page("ratings/meeting_results.html", None, meeting=meeting,
                 village=db.session.get(Village, meeting.village_id), results=rows)
