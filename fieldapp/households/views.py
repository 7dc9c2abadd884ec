"""The grid officer's worklist and search, the household page, members, ID reveal, moves (迁出) and splits (分户),
a household found on a visit (走访新发现), and the village secretary's summary of their village."""
from __future__ import annotations

from flask import abort, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..core import access, audit
from ..core.idempotency import idempotent
from ..core.web import redirect_to, render, wants_fragment
from ..extensions import db
from ..org import services as org_services
from ..org.models import Village
from . import bp, rules, services, workflow
from .forms import (
    EDUCATION, LABOUR, RELATIONS, EditMemberForm, MoveForm, NewHouseholdForm, NewMemberForm, SplitForm,
)
from .models import FILE_STATUSES, Household

# Who may use the credit file (domain §1.1, SD-5, SD-6): village roles see only their village's summary,
# panel members get their review sheet later; auditors read but never write.
CREDIT_READ = frozenset({"hq_admin", "branch_manager", "grid_officer", "auditor"})
CREDIT_WRITE = frozenset({"hq_admin", "branch_manager", "grid_officer"})
REVEAL_ID = frozenset({"grid_officer", "branch_manager"})  # SD-6: full ID numbers for R2/R3 only, audited
VILLAGE_SUMMARY = frozenset({"village_secretary", "hq_admin", "branch_manager", "grid_officer", "auditor"})

FILE_STATUS_LABELS = {
    "new": _l("New"), "draft": _l("Draft"), "submitted": _l("Submitted"), "returned": _l("Returned"),
    "accepted": _l("Accepted"), "pending_revisit": _l("Pending revisit"),
}
OUTCOME_LABELS = {
    "done": _l("Completed"), "not_home": _l("Nobody at home"), "refused": _l("Refused"),
    "unreachable": _l("Away, out of contact"),
}
EVENT_LABELS = {
    "moved_out": _l("Moved out of the area"), "moved_group": _l("Moved to another group"),
    "split_into": _l("Split: a new household was formed"), "split_from": _l("Formed by splitting from a household"),
}
HOUSEHOLD_STATUS_LABELS = {"active": _l("Active"), "moved_out": _l("Moved out"), "split": _l("Split")}
SEX_LABELS = {"M": _l("Male"), "F": _l("Female")}
N_ = rules.N_
ERRORS = {  # English msgids, translated when shown (some take parameters)
    "duplicate_id": N_("This ID number is already registered (in %(village)s, household of %(head)s)."),
    "second_head": N_("This household already has a head. Choose another relation."),
    "head_first": N_("Add the head of household first."),
    "head_needs_id": N_("The head of household needs an ID number."),
    "head_stays": N_("The head stays the head: a household has exactly one."),
    "remove_head": N_("The head of household cannot be removed."),
    "id_mismatch": N_("The ID number does not agree with the recorded sex or birth date. Check both."),
    "same_group": N_("The household is already in this group."),
    "split_pick": N_("Choose members of this household."),
    "split_head": N_("The head stays in this household; choose other members."),
    "split_new_head": N_("The new head must be one of the chosen members."),
    "not_active": N_("This household has moved out; it can no longer be changed."),
    "under_review": N_("This file is being reviewed. It can be changed once the branch manager accepts or "
                       "returns it."),
    "no_code": N_("No household code could be allocated; send the form again."),
}
MAX_PAGE = 100_000


@bp.context_processor
def _labels():
    return {"labels": {"file_status": FILE_STATUS_LABELS, "outcome": OUTCOME_LABELS, "event": EVENT_LABELS,
                       "status": HOUSEHOLD_STATUS_LABELS, "sex": SEX_LABELS, "relation": RELATIONS,
                       "education": EDUCATION, "labour": LABOUR, "section": rules.SECTION_LABELS}}


def _page() -> int:
    return min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)


def _message(exc: services.HouseholdError) -> str:
    return _(ERRORS[exc.code], **exc.params)


def _household(household_id: int) -> Household:
    return access.get_or_404(Household, household_id)


def _blocked(h: Household) -> str | None:
    """Why this household's file can't change now (moved out, or with the branch manager), or None."""
    if h.status != "active":
        return _(ERRORS["not_active"])
    if not workflow.may_change(h):
        return _(ERRORS["under_review"])
    return None


def _changed(h: Household) -> None:
    """After a change to the file: the file state moves on (W2), then everything is written in one flush."""
    with db.session.no_autoflush:
        workflow.note_change(h)
    db.session.flush()


def _member(household: Household, member_id: int):
    member = services.member_of(household, member_id)
    if member is None:
        abort(404)
    return member


# ---------------------------------------------------------------- worklist and search

@bp.get("/worklist")
@access.policy(read=CREDIT_READ)
def worklist():
    """The officer's day: returned files, then my villages with coverage (completed visits / households)."""
    area = access.current_area()
    coverage = services.coverage_by_village(area)
    villages = [(row, coverage.get(row.village.id) or services.Coverage()) for row in org_services.visible_villages()]
    return render("households/worklist.html", "households/_worklist_villages.html", villages=villages,
                  returned=services.returned_households(area), q="", query=None, hits=None)


@bp.get("/households/search")
@access.policy(read=CREDIT_READ)
def search():
    """Find a household by name, pinyin, initials, or the last 4 of an ID or mobile number (one query)."""
    area = access.current_area()  # computed even for an empty box, so a search costs exactly one statement more
    q = (request.args.get("q") or "").strip()[:50]
    query, hits = services.search_households(q, area)
    return render("households/worklist.html", "households/_search_results.html", q=q, query=query, hits=hits,
                  villages=None, returned=None)


@bp.get("/worklist/villages/<int:village_id>")
@access.policy(read=CREDIT_READ)
def village(village_id: int):
    """A village's households I see: returned first, then due visits; filter by file state, group, due."""
    v = access.get_or_404(Village, village_id)
    groups = access.groups_visible_in(v)
    state = request.args.get("state", "")
    group = request.args.get("group", type=int)
    filters = services.VillageFilters(state=state if state in FILE_STATUSES else "",
                                      group=group if group in {g.id for g in groups} else None,
                                      due=request.args.get("due") == "1")
    households = services.village_households(v, filters, _page())
    coverage = services.coverage_by_village(access.current_area(), v.id).get(v.id) or services.Coverage()
    return render("households/village.html", "households/_household_rows.html", village=v, groups=groups,
                  group_names={g.id: g.name for g in groups}, filters=filters, households=households,
                  coverage=coverage, statuses=FILE_STATUSES, can_create=current_user.has_role(*CREDIT_WRITE),
                  due_ids={h.id for h in households.items if services.is_due(h)})


# ---------------------------------------------------------------- the household page

def _household_context(h: Household, revealed: dict | None = None) -> dict:
    states = services.section_states(h)
    village_name, group_name = services.place_names(h)
    return dict(household=h, village_name=village_name, group_name=group_name, states=states,
                sections=[s for s in rules.SECTION_ORDER if s in states],
                percent=services.completeness(states), visits=services.recent_visits(h),
                history=services.history(h), members=services.member_rows(h), revealed=revealed or {},
                can_reveal=current_user.has_role(*REVEAL_ID), geo=services.geo_uri(h), editable=_blocked(h) is None,
                collapse_after=services.COLLAPSE_AFTER, file=workflow.file_summary(h),
                comments=workflow.review_comments(h), **_visit_context(h))


def _visit_context(h: Household) -> dict:
    """Photos and consents shown on the household page (ID-document photos only to those who may see them)."""
    from ..visits import services as visit_services
    may_see_photos = current_user.has_role("grid_officer", "branch_manager", "hq_admin", "auditor")
    photos = visit_services.household_photos(
        h, include_sensitive=visit_services.may_view_sensitive(current_user)) if may_see_photos else []
    return dict(photos=photos, may_see_photos=may_see_photos, consents=visit_services.consent_state(h.id))


@bp.get("/households/<int:household_id>")
@access.policy(read=CREDIT_READ)
def show(household_id: int):
    """One household: state, completeness, sections, members (IDs masked), visits and history."""
    h = _household(household_id)
    return render("households/household.html", "households/_household.html", **_household_context(h))


@bp.post("/households/<int:household_id>/members/<int:member_id>/reveal")
@access.policy(read=REVEAL_ID, write=REVEAL_ID)
def reveal_id(household_id: int, member_id: int):
    """Show one member's full ID number on this household's page (SD-6), recorded in the audit log."""
    h = _household(household_id)
    m = _member(h, member_id)
    if not m.id_number:
        abort(404)
    audit.record("view_sensitive", "members", m.id, reason="id_number")
    db.session.commit()
    return render("households/household.html", "households/_id_number.html", member_id=m.id,
                  full_id=m.id_number, **_household_context(h, revealed={m.id: m.id_number}))


# ---------------------------------------------------------------- members

def _new_member_form(h: Household) -> NewMemberForm:
    form = NewMemberForm(formdata=None)
    form.relation.data = "spouse" if any(m.is_head for m in h.members) else "head"
    return form


def _members_page(h: Household, form: NewMemberForm, status: int = 200, message: str | None = None,
                  error: str | None = None):
    blocked = _blocked(h)
    return render("households/members.html", "households/_member_list.html", status=status, household=h,
                  members=services.member_rows(h), form=form, message=message, error=error,
                  editable=blocked is None, blocked=blocked, collapse_after=services.COLLAPSE_AFTER)


def _member_input(form) -> services.MemberInput:
    return services.MemberInput(
        name=form.name.data, relation=form.relation.data, id_info=form.id_info, mobile=form.mobile_number,
        ethnicity=form.ethnicity.data or None, education=form.education.data or None,
        labour_capacity=form.labour_capacity.data or None, health=form.health.data or None,
        occupation=form.occupation.data or None, party_member=bool(form.party_member.data),
        migrant_location=form.migrant_location.data or None)


def _attach(form, exc: services.HouseholdError) -> str | None:
    """Put a refused change's message on its field; return it when it belongs to no field."""
    target = getattr(form, exc.field, None) if exc.field else None
    if target is None:
        return _message(exc)
    target.errors = list(target.errors) + [_message(exc)]
    return None


def _duplicate_error(form) -> None:
    form.id_number.errors = list(form.id_number.errors) + [_("This ID number is already registered.")]


@bp.get("/households/<int:household_id>/members")
@access.policy(read=CREDIT_READ)
def members(household_id: int):
    """Head and members: added and removed in place; a long list folds after the 20th."""
    h = _household(household_id)
    return _members_page(h, _new_member_form(h))


@bp.post("/households/<int:household_id>/members/new")
@access.policy(read=CREDIT_WRITE, write=CREDIT_WRITE)
@idempotent
def member_add(household_id: int):
    """Add a member (idempotent: a repeated key adds once). Bad input: 422 and nothing saved."""
    h = _household(household_id)
    form = NewMemberForm()
    error = _blocked(h)
    if error is None and form.validate_on_submit():
        try:
            services.add_member(h, _member_input(form))
            _changed(h)
        except services.HouseholdError as exc:
            error = _attach(form, exc)
        except IntegrityError:  # the same ID number added at the same moment elsewhere
            db.session.rollback()
            _duplicate_error(form)
        else:
            if wants_fragment():
                return _members_page(h, _new_member_form(h), message=_("Member added."))
            return redirect_to("households.members", _("Member added."), household_id=h.id)
    return _members_page(h, form, status=422, error=error)


def _edit_form_for(h: Household, m) -> EditMemberForm:
    form = EditMemberForm(formdata=None)
    form.name.data, form.relation.data = m.name, m.relation
    form.ethnicity.data, form.education.data = m.ethnicity, m.education or ""
    form.labour_capacity.data, form.health.data = m.labour_capacity or "", m.health
    form.occupation.data, form.party_member.data = m.occupation, m.party_member
    form.migrant_location.data, form.mobile.data = m.migrant_location, m.mobile
    form.version.data = str(h.version)
    return form


def _member_edit_page(h: Household, m, form, status: int = 200, conflict=None, error: str | None = None):
    row = next(r for r in services.member_rows(h) if r.id == m.id)
    return render("households/members.html", "households/_member_form.html", status=status, household=h,
                  member=row, form=form, conflict=conflict, error=error, editing=True)


@bp.route("/households/<int:household_id>/members/<int:member_id>", methods=["GET", "POST"])
@access.policy(read=CREDIT_WRITE, write=CREDIT_WRITE)
def member_edit(household_id: int, member_id: int):
    """Edit a member; the ID number is entered only to change it. A stale form: 409 with the saved values."""
    h = _household(household_id)
    m = _member(h, member_id)
    if request.method == "GET":
        return _member_edit_page(h, m, _edit_form_for(h, m))
    form = EditMemberForm()
    error = _blocked(h)
    conflict = False
    if error is None and form.validate_on_submit():
        if form.version.number != h.version:
            conflict = True
        else:
            try:
                services.edit_member(h, m, _member_input(form))
                _changed(h)
                db.session.commit()
            except services.HouseholdError as exc:
                db.session.rollback()
                error = _attach(form, exc)
            except StaleDataError:
                db.session.rollback()
                conflict = True
            except IntegrityError:
                db.session.rollback()
                _duplicate_error(form)
            else:
                return redirect_to("households.members", _("Saved."), household_id=h.id)
    if conflict:
        db.session.rollback()
        h = _household(household_id)
        m = _member(h, member_id)
        form.version.data = str(h.version)
        return _member_edit_page(h, m, form, status=409, conflict=next(
            r for r in services.member_rows(h) if r.id == m.id))
    db.session.rollback()
    return _member_edit_page(h, m, form, status=422, error=error)


@bp.post("/households/<int:household_id>/members/<int:member_id>/remove")
@access.policy(read=CREDIT_WRITE, write=CREDIT_WRITE)
def member_remove(household_id: int, member_id: int):
    """Remove a member in place; the head cannot be removed."""
    h = _household(household_id)
    m = _member(h, member_id)
    error = _blocked(h)
    if error is None:
        try:
            services.remove_member(h, m)
            _changed(h)
        except services.HouseholdError as exc:
            error = _message(exc)
    if error is not None:
        db.session.rollback()
        return _members_page(h, _new_member_form(h), status=422, error=error)
    db.session.commit()
    if wants_fragment():
        return _members_page(h, _new_member_form(h), message=_("Member removed."))
    return redirect_to("households.members", _("Member removed."), household_id=h.id)


# ---------------------------------------------------------------- move (迁出) and split (分户)

def _group_options(h: Household, include_current: bool) -> tuple[list, dict]:
    choices = services.group_choices()
    by_value = {f"g:{c.group_id}": c for c in choices if include_current or c.group_id != h.group_id}
    return [(value, c.label) for value, c in by_value.items()], by_value


@bp.route("/households/<int:household_id>/move", methods=["GET", "POST"])
@access.policy(read=CREDIT_WRITE, write=CREDIT_WRITE)
def move(household_id: int):
    """Move the household to another group in my area, or out of the area; the history keeps both ends."""
    h = _household(household_id)
    options, by_value = _group_options(h, include_current=False)
    form = MoveForm() if request.method == "POST" else MoveForm(formdata=None)
    form.target.choices = [("out", _("Out of the area"))] + options
    if request.method == "GET":
        form.version.data = str(h.version)
        return render("households/move.html", "households/_move_form.html", household=h, form=form,
                      conflict=False, error=None)
    error, conflict = None, False
    if h.status != "active":
        error = _(ERRORS["not_active"])
    elif form.validate_on_submit():
        if form.version.number != h.version:
            conflict = True
        else:
            try:
                services.move_household(h, by_value.get(form.target.data), form.destination.data or "",
                                        current_user.id)
                db.session.commit()
            except services.HouseholdError as exc:
                db.session.rollback()
                error = _attach(form, exc)
            except StaleDataError:
                db.session.rollback()
                conflict = True
            else:
                message = _("Moved out of the area.") if h.status == "moved_out" else _("Household moved.")
                return redirect_to("households.show", message, household_id=h.id)
    db.session.rollback()
    if conflict:
        h = _household(household_id)
        form.version.data = str(h.version)
    return render("households/move.html", "households/_move_form.html", status=409 if conflict else 422,
                  household=h, form=form, conflict=conflict, error=error)


@bp.route("/households/<int:household_id>/split", methods=["GET", "POST"])
@access.policy(read=CREDIT_WRITE, write=CREDIT_WRITE)
@idempotent
def split(household_id: int):
    """分户: chosen members form a new household in a group of my area (idempotent)."""
    h = _household(household_id)
    options, by_value = _group_options(h, include_current=True)
    candidates = [m for m in h.members if not m.is_head]
    form = SplitForm() if request.method == "POST" else SplitForm(formdata=None)
    form.members.choices = [(m.id, m.name) for m in candidates]
    form.new_head.choices = [("", _("The first member chosen"))] + [(str(m.id), m.name) for m in candidates]
    form.target.choices = [("same", _("Same group as now"))] + options
    if request.method == "GET":
        return render("households/split.html", "households/_split_form.html", household=h, form=form, error=None)
    error = _blocked(h)
    if error is None and form.validate_on_submit():
        try:
            new_head = int(form.new_head.data) if form.new_head.data else None
            new = services.split_household(h, form.members.data, new_head, by_value.get(form.target.data),
                                           current_user.id)
        except services.HouseholdError as exc:
            error = _attach(form, exc)
        else:
            _changed(h)
            return redirect_to("households.show", _("New household created."), household_id=new.id)
    return render("households/split.html", "households/_split_form.html", status=422, household=h, form=form,
                  error=error)


# ---------------------------------------------------------------- a household found on a visit (走访新发现)

def _new_household_form(v: Village, submitted: bool) -> tuple[NewHouseholdForm, dict]:
    """The form with the village's groups I see as choices (required unless the village has none)."""
    groups = access.groups_visible_in(v)
    form = NewHouseholdForm() if submitted else NewHouseholdForm(formdata=None)
    form.group_id.choices = [("", _("Choose a group"))] + [(str(g.id), g.name) for g in groups]
    form.group_required = bool(v.groups) or not access.sees_whole_village(v)
    if not submitted and len(groups) == 1:
        form.group_id.data = str(groups[0].id)
    return form, {g.id: g for g in groups}


def _new_household_page(v: Village, form: NewHouseholdForm, status: int = 200, error: str | None = None):
    return render("households/new.html", "households/_new_form.html", status=status, village=v, form=form,
                  error=error)


@bp.route("/worklist/villages/<int:village_id>/households/new", methods=["GET", "POST"])
@access.policy(read=CREDIT_WRITE, write=CREDIT_WRITE)
@idempotent
def new(village_id: int):
    """A household met door to door that is not on the roster: a fresh file with its head (idempotent)."""
    v = access.get_or_404(Village, village_id)
    form, groups = _new_household_form(v, submitted=request.method == "POST")
    if request.method == "GET":
        return _new_household_page(v, form)
    error = None
    if form.validate_on_submit():
        data = services.NewHousehold(head_name=form.head_name.data, id_info=form.id_info, mobile=form.mobile_number,
                                     group=groups.get(form.group), address=form.address.data or None)
        try:
            h = services.create_household(v, data)
        except services.HouseholdError as exc:
            error = _attach(form, exc)
        except IntegrityError:  # the same ID number registered at the same moment elsewhere
            db.session.rollback()
            _duplicate_error(form)
        else:
            return redirect_to("households.show", _("New household created."), household_id=h.id)
    return _new_household_page(v, form, status=422, error=error)


# ---------------------------------------------------------------- the village secretary's summary

@bp.get("/villages/<int:village_id>/households")
@access.policy(read=VILLAGE_SUMMARY)
def village_summary(village_id: int):
    """A village's households for village roles (§4.3): names, group, file state, last visit; never ID numbers,
    debts or photos; phones masked."""
    v = access.get_or_404(Village, village_id)
    groups = {g.id: g.name for g in access.groups_visible_in(v)}
    households = services.village_summary(v, _page())
    return render("households/summary.html", "households/_summary_rows.html", village=v, households=households,
                  rows=[services.summary_row(h, groups) for h in households.items])

