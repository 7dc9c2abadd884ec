"""Organisation administration: counties, townships, villages, groups, branches, grids and assignments.

Who: sysadmin everywhere; hq_admin inside their counties (access.admin_county_ids / admin_get_or_404); a
branch_manager manages the grids of their branch and its child branches (access.admin_branch_ids /
grid_admin_get_or_404). Rows out of scope are 404. Every decision (codes, nesting, one owner, coverage, how an
assignment ends) is a rule in org/rules.py; assignments are ended, never deleted (G-4).
"""
from __future__ import annotations

from collections import defaultdict
from datetime import date

import sqlalchemy as sa
from flask import abort, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from sqlalchemy.orm import selectinload
from sqlalchemy.orm.exc import StaleDataError

from ..accounts.models import RoleGrant, User
from ..core import access, clock
from ..core.idempotency import idempotent
from ..core.web import redirect_to, render, wants_fragment
from ..extensions import db
from . import bp, rules
from .forms import (AreaForm, AssignmentForm, BranchForm, CountyForm, EndAssignmentForm, GridForm, GroupForm,
                    NewBranchForm, NewCountyForm, NewGridForm, NewGroupForm, NewTownshipForm, NewVillageForm,
                    TownshipForm, VillageForm)
from .models import (BRANCH_KINDS, GRID_STATUSES, LABEL_SETS, Assignment, Branch, County, Grid, GridArea, Township,
                     Village, VillageGroup)

GRID_ADMINS = access.ORG_ADMINS | {"branch_manager"}
COUNTY_CREATORS = frozenset({"sysadmin"})

LABEL_SET_NAMES = {"standard": _l("Standard"), "banner": _l("Banner (pastoral areas)")}
KIND_LABELS = {"outlet": _l("Outlet"), "assisted_point": _l("Assisted service point"), "atm": _l("Off-site ATM")}
STATUS_LABELS = {"draft": _l("Draft"), "active": _l("Active"), "closed": _l("Closed")}
DUTY_LABELS = {"owner": _l("Owner"), "backup": _l("Backup"), "cover": _l("Temporary cover")}
STATE_LABELS = {"current": _l("On duty"), "future": _l("Starts later"), "past": _l("Ended"),
                "cancelled": _l("Cancelled")}
LEVEL_LABELS = {1: _l("Level 1: branch grid"), 2: _l("Level 2: second-level grid")}
NESTING_PROBLEMS = {
    "level_invalid": ("level", _l("Choose level 1 or 2.")),
    "level1_has_parent": ("parent_id", _l("A level-1 grid has no parent grid.")),
    "level2_needs_parent": ("parent_id", _l("A level-2 grid needs a level-1 parent grid.")),
    "parent_is_self": ("parent_id", _l("A grid cannot be its own parent.")),
    "has_children": ("level", _l("This grid has second-level grids under it, so it must stay level 1.")),
    "parent_not_level1": ("parent_id", _l("The parent must be a level-1 grid: grids nest one level only.")),
    "parent_other_branch": ("parent_id", _l("The parent grid must belong to the same branch.")),
    "parent_closed": ("parent_id", _l("The parent grid is closed.")),
}


def _fmt(day: date | None) -> str:
    return day.isoformat() if day else _("open")


def _taken(model, column, value, exclude_id: int | None = None) -> bool:
    stmt = sa.select(model.id).where(column == value)
    if exclude_id is not None:
        stmt = stmt.where(model.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


def _admin_counties() -> list[County]:
    stmt = sa.select(County).order_by(County.admin_code)
    ids = access.admin_county_ids()
    if ids is not None:
        stmt = stmt.where(County.id.in_(ids))
    return list(db.session.scalars(stmt))


def _done(endpoint: str, message: str, fragment: str | None = None, page: str | None = None, **values):
    """After a successful change: the refreshed fragment for an in-place htmx swap, else Post/Redirect/Get.
    `ctx` is a callable building the fragment's context, so a plain redirect skips that work."""
    make_ctx = values.pop("ctx")
    if fragment and wants_fragment():
        return render(page or fragment, fragment, **{**make_ctx(), "message": message})
    return redirect_to(endpoint, message, **values)


@bp.get("/admin/org")
@access.policy(read=access.ORG_ADMINS)
def admin_index():
    """The organisation at a glance, with links to manage each part."""
    counties = _admin_counties()
    ids = [c.id for c in counties]
    branches = db.session.scalars(sa.select(Branch).where(Branch.county_id.in_(ids)).order_by(Branch.code)).all()
    grid_counts = dict(db.session.execute(
        sa.select(Grid.branch_id, sa.func.count(Grid.id)).where(Grid.county_id.in_(ids)).group_by(Grid.branch_id)
    ).all())
    return render("org/admin_index.html", None, counties=counties, branches=branches, grid_counts=grid_counts,
                  can_create_county=current_user.has_role("sysadmin"), kind_labels=KIND_LABELS)


# ---------------------------------------------------------------- counties

def _label_set_choices(form) -> None:
    form.label_set.choices = [(key, f"{LABEL_SET_NAMES.get(key, key)} ({' / '.join(words[:3])})")
                              for key, words in LABEL_SETS.items()]


def _check_county(form, county: County | None) -> bool:
    code = form.admin_code.data
    if rules.county_code_problem(code):
        form.admin_code.errors.append(_("Enter exactly %(n)d digits.", n=6))
    elif _taken(County, County.admin_code, code, county.id if county else None):
        form.admin_code.errors.append(_("This code is already in use."))
    elif county is not None and code != county.admin_code:
        outside = rules.codes_outside(code, [t.stat_code for t in county.townships])
        if outside:
            form.admin_code.errors.append(_(
                "%(count)d townships have codes under the old code (%(codes)s); the code cannot change while "
                "they do.", count=len(outside), codes=", ".join(outside[:3])))
    if rules.language_problem(form.second_language.data):
        form.second_language.errors.append(_("Use a short language code such as mn."))
    return not form.errors


@bp.route("/admin/counties/new", methods=["GET", "POST"])
@access.policy(read=COUNTY_CREATORS, write=COUNTY_CREATORS)
@idempotent
def county_new():
    """Add a county (system administrators only)."""
    form = NewCountyForm()
    _label_set_choices(form)
    if form.validate_on_submit() and _check_county(form, None):
        county = County(admin_code=form.admin_code.data, name=form.name.data, label_set=form.label_set.data,
                        second_language=form.second_language.data or None)
        db.session.add(county)
        db.session.flush()
        return redirect_to("org.county_edit", _("County created."), county_id=county.id)
    status = 422 if form.errors else 200
    return render("org/admin_county.html", "org/_admin_county_form.html", status=status, form=form, county=None)


@bp.route("/admin/counties/<int:county_id>", methods=["GET", "POST"])
@access.policy(read=access.ORG_ADMINS, write=access.ORG_ADMINS)
def county_edit(county_id: int):
    """Edit a county; lists its townships."""
    county = access.admin_get_or_404(County, county_id)
    form = CountyForm(obj=county) if request.method == "GET" else CountyForm()
    _label_set_choices(form)
    if form.validate_on_submit() and _check_county(form, county):
        county.admin_code = form.admin_code.data
        county.name = form.name.data
        county.label_set = form.label_set.data
        county.second_language = form.second_language.data or None
        db.session.commit()
        return redirect_to("org.county_edit", _("Saved."), county_id=county.id)
    status = 422 if form.errors else 200
    return render("org/admin_county.html", "org/_admin_county_form.html", status=status, form=form, county=county)


# ---------------------------------------------------------------- townships

def _check_township(form, county: County, township: Township | None) -> bool:
    code = form.stat_code.data
    problem = rules.township_code_problem(code, county.admin_code)
    if problem == "format":
        form.stat_code.errors.append(_("Enter exactly %(n)d digits.", n=9))
    elif problem == "prefix":
        form.stat_code.errors.append(_("The code must start with %(code)s, the code of %(name)s.",
                                       code=county.admin_code, name=county.name))
    elif _taken(Township, Township.stat_code, code, township.id if township else None):
        form.stat_code.errors.append(_("This code is already in use."))
    elif township is not None and code != township.stat_code:
        outside = rules.codes_outside(code, [v.stat_code for v in township.villages])
        if outside:
            form.stat_code.errors.append(_(
                "%(count)d villages have codes under the old code (%(codes)s); the code cannot change while "
                "they do.", count=len(outside), codes=", ".join(outside[:3])))
    return not form.errors


@bp.route("/admin/counties/<int:county_id>/townships/new", methods=["GET", "POST"])
@access.policy(read=access.ORG_ADMINS, write=access.ORG_ADMINS)
@idempotent
def township_new(county_id: int):
    """Add a township (苏木 in a banner) to a county."""
    county = access.admin_get_or_404(County, county_id)
    form = NewTownshipForm()
    if request.method == "GET" and not form.stat_code.data:
        form.stat_code.data = county.admin_code
    if form.validate_on_submit() and _check_township(form, county, None):
        township = Township(county_id=county.id, stat_code=form.stat_code.data, name=form.name.data,
                            service_station_name=form.service_station_name.data or None)
        db.session.add(township)
        db.session.flush()
        return redirect_to("org.township_edit", _("Saved."), township_id=township.id)
    status = 422 if form.errors else 200
    return render("org/admin_township.html", "org/_admin_township_form.html", status=status, form=form,
                  county=county, township=None)


@bp.route("/admin/townships/<int:township_id>", methods=["GET", "POST"])
@access.policy(read=access.ORG_ADMINS, write=access.ORG_ADMINS)
def township_edit(township_id: int):
    """Edit a township; lists its villages."""
    township = access.admin_get_or_404(Township, township_id)
    county = township.county
    form = TownshipForm(obj=township) if request.method == "GET" else TownshipForm()
    if form.validate_on_submit() and _check_township(form, county, township):
        township.stat_code = form.stat_code.data
        township.name = form.name.data
        township.service_station_name = form.service_station_name.data or None
        db.session.commit()
        return redirect_to("org.township_edit", _("Saved."), township_id=township.id)
    status = 422 if form.errors else 200
    return render("org/admin_township.html", "org/_admin_township_form.html", status=status, form=form,
                  county=county, township=township)


# ---------------------------------------------------------------- villages and groups

def _check_village(form, township: Township, village: Village | None) -> bool:
    code = form.stat_code.data
    problem = rules.village_code_problem(code, township.stat_code)
    if problem == "format":
        form.stat_code.errors.append(_("Enter exactly %(n)d digits.", n=12))
    elif problem == "prefix":
        form.stat_code.errors.append(_("The code must start with %(code)s, the code of %(name)s.",
                                       code=township.stat_code, name=township.name))
    elif _taken(Village, Village.stat_code, code, village.id if village else None):
        form.stat_code.errors.append(_("This code is already in use."))
    problem = rules.coordinate_problem(form.centroid_lat.data, form.centroid_lng.data)
    if problem == "pair":
        target = form.centroid_lng if form.centroid_lng.data is None else form.centroid_lat
        target.errors.append(_("Enter both latitude and longitude, or neither."))
    elif problem in ("not_finite", "lat_range"):
        form.centroid_lat.errors.append(_("Latitude is a number from -90 to 90."))
    elif problem == "lng_range":
        form.centroid_lng.errors.append(_("Longitude is a number from -180 to 180."))
    return not form.errors


def _assign_village(village: Village, form) -> None:
    village.stat_code = form.stat_code.data
    village.name = form.name.data
    village.is_poor_village = bool(form.is_poor_village.data)
    village.service_unit_name = form.service_unit_name.data or None
    village.centroid_lat = form.centroid_lat.data
    village.centroid_lng = form.centroid_lng.data


@bp.route("/admin/townships/<int:township_id>/villages/new", methods=["GET", "POST"])
@access.policy(read=access.ORG_ADMINS, write=access.ORG_ADMINS)
@idempotent
def village_new(township_id: int):
    """Add a village (嘎查 in a banner) to a township."""
    township = access.admin_get_or_404(Township, township_id)
    form = NewVillageForm()
    if request.method == "GET" and not form.stat_code.data:
        form.stat_code.data = township.stat_code
    if form.validate_on_submit() and _check_village(form, township, None):
        village = Village(county_id=township.county_id, township_id=township.id)
        _assign_village(village, form)
        db.session.add(village)
        db.session.flush()
        return redirect_to("org.village_edit", _("Saved."), village_id=village.id)
    status = 422 if form.errors else 200
    return render("org/admin_village.html", "org/_admin_village_form.html", status=status, form=form,
                  county=township.county, township=township, village=None)


def _village_ctx(village: Village, form=None, group_form=None, message=None) -> dict:
    return {"village": village, "township": village.township, "county": village.township.county,
            "form": form or VillageForm(formdata=None, obj=village),
            "groups": list(village.groups), "group_form": group_form or NewGroupForm(formdata=None),
            "message": message}


@bp.route("/admin/villages/<int:village_id>", methods=["GET", "POST"])
@access.policy(read=access.ORG_ADMINS, write=access.ORG_ADMINS)
def village_edit(village_id: int):
    """Edit a village; add and rename its groups in place."""
    village = access.admin_get_or_404(Village, village_id)
    form = VillageForm(obj=village) if request.method == "GET" else VillageForm()
    if form.validate_on_submit() and _check_village(form, village.township, village):
        _assign_village(village, form)
        db.session.commit()
        return redirect_to("org.village_edit", _("Saved."), village_id=village.id)
    status = 422 if form.errors else 200
    return render("org/admin_village.html", "org/_admin_village_form.html", status=status,
                  **_village_ctx(village, form=form))


def _group_name_taken(village_id: int, name: str, exclude_id: int | None = None) -> bool:
    stmt = sa.select(VillageGroup.id).where(VillageGroup.village_id == village_id, VillageGroup.name == name)
    if exclude_id is not None:
        stmt = stmt.where(VillageGroup.id != exclude_id)
    return db.session.scalar(stmt.limit(1)) is not None


@bp.post("/admin/villages/<int:village_id>/groups")
@access.policy(read=access.ORG_ADMINS, write=access.ORG_ADMINS)
@idempotent
def group_add(village_id: int):
    """Add a village group (村民小组)."""
    village = access.admin_get_or_404(Village, village_id)
    form = NewGroupForm()
    if form.validate_on_submit():
        if _group_name_taken(village.id, form.group_name.data):
            form.group_name.errors.append(_("This village already has a group with this name."))
        else:
            db.session.add(VillageGroup(county_id=village.county_id, village_id=village.id,
                                        name=form.group_name.data))
            db.session.flush()
            db.session.refresh(village, ["groups"])
            return _done("org.village_edit", _("Group added."), "org/_admin_groups.html", "org/admin_village.html",
                         ctx=lambda: _village_ctx(village), village_id=village.id)
    return render("org/admin_village.html", "org/_admin_groups.html", status=422,
                  **_village_ctx(village, group_form=form))


@bp.route("/admin/groups/<int:group_id>", methods=["GET", "POST"])
@access.policy(read=access.ORG_ADMINS, write=access.ORG_ADMINS)
def group_edit(group_id: int):
    """Rename a village group (in place on the village page)."""
    group = access.admin_get_or_404(VillageGroup, group_id)
    village = group.village
    prefix = f"g{group.id}"
    form = GroupForm(prefix=prefix, group_name=group.name) if request.method == "GET" else GroupForm(prefix=prefix)
    if form.validate_on_submit():
        if _group_name_taken(village.id, form.group_name.data, exclude_id=group.id):
            form.group_name.errors.append(_("This village already has a group with this name."))
        else:
            group.name = form.group_name.data
            db.session.commit()
            if wants_fragment():
                return render("org/_admin_group_row.html", "org/_admin_group_row.html", g=group)
            return redirect_to("org.village_edit", _("Group renamed."), village_id=village.id)
    status = 422 if form.errors else 200
    return render("org/admin_group.html", "org/_admin_group_form.html", status=status, form=form, group=group,
                  village=village, county=village.township.county)


# ---------------------------------------------------------------- branches

def _branch_choices(form, county_id: int | None, branch: Branch | None = None) -> None:
    form.kind.choices = [(k, str(KIND_LABELS[k])) for k in BRANCH_KINDS]
    counties = access.admin_county_ids()
    stmt = sa.select(Branch).order_by(Branch.code)
    if county_id is not None:
        stmt = stmt.where(Branch.county_id == county_id)
    elif counties is not None:
        stmt = stmt.where(Branch.county_id.in_(counties))
    if branch is not None:
        stmt = stmt.where(Branch.id != branch.id)
    form.parent_branches = {b.id: b for b in db.session.scalars(stmt)}
    form.parent_id.choices = [(0, _("None (top level)"))] + [(b.id, f"{b.code} {b.name}")
                                                             for b in form.parent_branches.values()]


def _check_branch(form, county_id: int, branch: Branch | None) -> bool:
    code = form.code.data
    if rules.org_code_problem(code):
        form.code.errors.append(_("Use 1–20 letters, digits, dot, dash or underscore."))
    elif _taken(Branch, Branch.code, code, branch.id if branch else None):
        form.code.errors.append(_("This code is already used by another branch."))
    parent_id = form.parent_id.data or None
    parent = form.parent_branches.get(parent_id) if parent_id else None
    parents = dict(db.session.execute(sa.select(Branch.id, Branch.parent_id)
                                      .where(Branch.county_id == county_id)).all())
    problem = rules.branch_parent_problem(branch.id if branch else None, county_id, parent_id,
                                          parent.county_id if parent else None, parents)
    if problem == "other_county":
        form.parent_id.errors.append(_("The parent branch must be in the same county."))
    elif problem == "cycle":
        form.parent_id.errors.append(_("A branch cannot sit under itself or one of its own sub-branches."))
    return not form.errors


@bp.route("/admin/branches/new", methods=["GET", "POST"])
@access.policy(read=access.ORG_ADMINS, write=access.ORG_ADMINS)
@idempotent
def branch_new():
    """Add a branch, service point or off-site ATM."""
    form = NewBranchForm()
    counties = _admin_counties()
    form.county_id.choices = [(c.id, f"{c.admin_code} {c.name}") for c in counties]
    _branch_choices(form, None)
    if form.validate_on_submit() and _check_branch(form, form.county_id.data, None):
        branch = Branch(county_id=form.county_id.data, code=form.code.data, name=form.name.data,
                        kind=form.kind.data, parent_id=form.parent_id.data or None)
        db.session.add(branch)
        db.session.flush()
        return redirect_to("org.branch_edit", _("Saved."), branch_id=branch.id)
    status = 422 if form.errors else 200
    return render("org/admin_branch.html", "org/_admin_branch_form.html", status=status, form=form, branch=None)


@bp.route("/admin/branches/<int:branch_id>", methods=["GET", "POST"])
@access.policy(read=access.ORG_ADMINS, write=access.ORG_ADMINS)
def branch_edit(branch_id: int):
    """Edit a branch."""
    branch = access.admin_get_or_404(Branch, branch_id)
    form = BranchForm(obj=branch) if request.method == "GET" else BranchForm()
    if request.method == "GET":
        form.parent_id.data = branch.parent_id or 0
    _branch_choices(form, branch.county_id, branch)
    if form.validate_on_submit() and _check_branch(form, branch.county_id, branch):
        branch.code = form.code.data
        branch.name = form.name.data
        branch.kind = form.kind.data
        branch.parent_id = form.parent_id.data or None
        db.session.commit()
        return redirect_to("org.branch_edit", _("Saved."), branch_id=branch.id)
    status = 422 if form.errors else 200
    return render("org/admin_branch.html", "org/_admin_branch_form.html", status=status, form=form, branch=branch)


# ---------------------------------------------------------------- grids

def _today_owners(grid_ids: list[int], today: date) -> dict[int, list[User]]:
    owners: dict[int, list[User]] = defaultdict(list)
    if not grid_ids:
        return owners
    stmt = (sa.select(Assignment).where(Assignment.grid_id.in_(grid_ids), Assignment.kind == "owner",
                                        Assignment.starts_on <= today,
                                        sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= today)))
    for a in db.session.scalars(stmt):
        owners[a.grid_id].append(a.user)
    return owners


def _scoped_branches() -> list[Branch]:
    return list(db.session.scalars(
        sa.select(Branch).where(access.admin_branch_clause(Branch.id)).order_by(Branch.code)))


@bp.get("/admin/grids")
@access.policy(read=GRID_ADMINS)
def grid_index():
    """Grids by branch (one branch with ?branch_id=), with today's owner and a warning when one is missing."""
    branches = _scoped_branches()
    branch_id = request.args.get("branch_id", type=int)
    if branch_id:
        branches = [access.grid_admin_get_or_404(Branch, branch_id)]
    ids = [b.id for b in branches]
    grids = db.session.scalars(sa.select(Grid).where(Grid.branch_id.in_(ids))
                               .order_by(Grid.code)).all() if ids else []
    owners = _today_owners([g.id for g in grids], clock.today())
    by_branch: dict[int, list[dict]] = defaultdict(list)
    children: dict[int, list[Grid]] = defaultdict(list)
    for g in grids:
        if g.parent_id is not None:
            children[g.parent_id].append(g)
    grid_ids = {g.id for g in grids}

    def row(g: Grid, nested: bool) -> dict:
        return {"grid": g, "owners": owners.get(g.id, []), "nested": nested,
                "needs_owner": g.status == "active" and not owners.get(g.id)}

    for g in grids:
        if g.parent_id is None or g.parent_id not in grid_ids:
            by_branch[g.branch_id].append(row(g, False))
            by_branch[g.branch_id].extend(row(c, True) for c in children.get(g.id, []))
    return render("org/admin_grids.html", "org/_admin_grid_rows.html", branches=branches, rows=by_branch,
                  branch_id=branch_id, all_branches=_scoped_branches(), status_labels=STATUS_LABELS,
                  can_manage_branches=current_user.has_role(*access.ORG_ADMINS))


def _grid_choices(form, grid: Grid | None) -> None:
    form.level.choices = [(lvl, str(LEVEL_LABELS[lvl])) for lvl in rules.GRID_LEVELS]
    form.status.choices = [(s, str(STATUS_LABELS[s])) for s in GRID_STATUSES]
    stmt = (sa.select(Grid).where(access.admin_branch_clause(Grid.branch_id), Grid.level == 1,
                                  Grid.status != "closed").order_by(Grid.code))
    if grid is not None:
        stmt = stmt.where(Grid.branch_id == grid.branch_id, Grid.id != grid.id)
    form.parent_grids = {g.id: g for g in db.session.scalars(stmt)}
    form.parent_id.choices = [(0, _("None"))] + [(g.id, f"{g.code} {g.name}") for g in form.parent_grids.values()]


def _covers_of_village(village_id: int, exclude_grid_id: int | None = None) -> list[rules.Cover]:
    stmt = (sa.select(GridArea, Grid).join(Grid, Grid.id == GridArea.grid_id)
            .where(GridArea.village_id == village_id))
    if exclude_grid_id is not None:
        stmt = stmt.where(GridArea.grid_id != exclude_grid_id)
    return [rules.Cover(grid.id, area.village_id, area.group_id, grid.status, grid.active_from, grid.active_to,
                        ref=(area, grid))
            for area, grid in db.session.execute(stmt)]


def _place(area) -> str:
    return area.village.name + (f" {area.group.name}" if area.group is not None else "")


def _clash_message(clash: rules.CoverageClash) -> str:
    area, grid = clash.other.ref
    if clash.kind == "same_grid":
        return _("This grid already covers %(place)s.", place=_place(area))
    return _("%(place)s is already covered by grid %(code)s %(name)s (%(status)s, %(start)s – %(end)s). "
             "A village or group belongs to one grid at a time: remove it from that grid first, or give the two "
             "grids dates that do not overlap.",
             place=_place(area), code=grid.code, name=grid.name, status=STATUS_LABELS.get(grid.status, grid.status),
             start=_fmt(grid.active_from), end=_fmt(grid.active_to))


def _has_owner_on(grid: Grid, day: date) -> bool:
    return any(a.kind == "owner" and rules.assignment_state(a.starts_on, a.ends_on, day) == "current"
               for a in grid.assignments)


def _check_grid(form, grid: Grid | None, branch: Branch) -> bool:
    code = form.code.data
    if rules.org_code_problem(code):
        form.code.errors.append(_("Use 1–20 letters, digits, dot, dash or underscore."))
    elif _taken(Grid, Grid.code, code, grid.id if grid else None):
        form.code.errors.append(_("This code is already used by another grid."))
    parent = form.parent_grids.get(form.parent_id.data) if form.parent_id.data else None
    has_children = grid is not None and db.session.scalar(
        sa.select(Grid.id).where(Grid.parent_id == grid.id).limit(1)) is not None
    problem = rules.grid_nesting_problem(
        form.level.data, rules.GridRef(parent.id, parent.level, parent.branch_id, parent.status) if parent else None,
        branch.id, grid.id if grid else None, has_children)
    if problem:
        name, message = NESTING_PROBLEMS[problem]
        form[name].errors.append(str(message))
    if rules.date_range_problem(form.active_from.data, form.active_to.data):
        form.active_to.errors.append(_("The end date cannot be before the start date."))
    today = clock.today()
    if rules.activation_problem(grid.status if grid else None, form.status.data,
                                grid is not None and _has_owner_on(grid, today)):
        form.status.errors.append(_("An active grid needs an owner on duty today. Save it as a draft, add the "
                                    "owner under Staff, then make it active."))
    if grid is not None and not form.errors:
        for area in grid.areas:
            new = rules.Cover(grid.id, area.village_id, area.group_id, form.status.data, form.active_from.data,
                              form.active_to.data)
            clash = rules.coverage_conflict(_covers_of_village(area.village_id, exclude_grid_id=grid.id), new)
            if clash:
                form.status.errors.append(_clash_message(clash))
                break
    return not form.errors


def _assign_grid(grid: Grid, form) -> None:
    grid.code = form.code.data
    grid.name = form.name.data
    grid.level = form.level.data
    grid.parent_id = (form.parent_id.data or None) if form.level.data == 2 else None
    grid.status = form.status.data
    grid.target_households = form.target_households.data
    grid.active_from = form.active_from.data
    grid.active_to = form.active_to.data


@bp.route("/admin/grids/new", methods=["GET", "POST"])
@access.policy(read=GRID_ADMINS, write=GRID_ADMINS)
@idempotent
def grid_new():
    """Draw a new grid (level 1) or second-level grid (level 2) for a branch."""
    form = NewGridForm()
    branches = _scoped_branches()
    form.branch_id.choices = [(b.id, f"{b.code} {b.name}") for b in branches]
    _grid_choices(form, None)
    if request.method == "GET":
        form.status.data = form.status.data or "draft"
        wanted = request.args.get("branch_id", type=int)
        if wanted in {b.id for b in branches}:
            form.branch_id.data = wanted
    if form.validate_on_submit():
        branch = access.grid_admin_get_or_404(Branch, form.branch_id.data)
        if _check_grid(form, None, branch):
            grid = Grid(county_id=branch.county_id, branch_id=branch.id)
            _assign_grid(grid, form)
            db.session.add(grid)
            db.session.flush()
            return redirect_to("org.grid_edit", _("Grid created. Add the villages it covers and its owner."),
                               grid_id=grid.id)
    status = 422 if form.errors else 200
    return render("org/admin_grid.html", "org/_admin_grid_form.html", status=status, form=form, grid=None,
                  conflict=None, status_labels=STATUS_LABELS)


def _area_choices(form, grid: Grid) -> None:
    villages = db.session.scalars(
        sa.select(Village).where(Village.county_id == grid.county_id).order_by(Village.stat_code)
        .options(selectinload(Village.groups), selectinload(Village.township))).all()
    choices: dict[str, list[tuple[str, str]]] = {}
    form.groups_by_id = {g.id: g for v in villages for g in v.groups}
    for v in villages:
        label = f"{v.name} · {v.township.name} · {v.stat_code}"
        choices[label] = ([(f"v:{v.id}", _("%(village)s: whole village", village=v.name))]
                          + [(f"g:{g.id}", f"{v.name} {g.name}") for g in v.groups])
    form.target.choices = choices


def _staff_choices(form) -> None:
    officers = db.session.scalars(
        sa.select(User).where(User.active, User.id.in_(sa.select(RoleGrant.user_id)
                                                        .where(RoleGrant.role == "grid_officer")))
        .order_by(User.name)).all()
    form.user_id.choices = [(u.id, f"{u.name} ({u.username})") for u in officers]
    form.kind.choices = [(k, str(DUTY_LABELS[k])) for k in rules.ASSIGNMENT_KINDS]


def _new_assignment_form() -> AssignmentForm:
    form = AssignmentForm(formdata=None)
    form.starts_on.data = clock.today()
    form.kind.data = "owner"
    return form


def _grid_ctx(grid: Grid, form=None, conflict=None, area_form=None, assignment_form=None, end_errors=None,
              message=None) -> dict:
    today = clock.today()
    if form is None:
        form = GridForm(formdata=None, obj=grid)
        form.parent_id.data = grid.parent_id or 0
        form.version.data = str(grid.version)
    _grid_choices(form, grid)
    if area_form is None:
        area_form = AreaForm(formdata=None)
    _area_choices(area_form, grid)
    if assignment_form is None:
        assignment_form = _new_assignment_form()
    _staff_choices(assignment_form)
    areas = sorted(grid.areas, key=lambda a: (a.village.stat_code, a.group.name if a.group else ""))
    duties = []
    for a in sorted(grid.assignments, key=lambda a: (a.starts_on, a.id), reverse=True):
        state = rules.assignment_state(a.starts_on, a.ends_on, today)
        duties.append({"a": a, "state": state, "state_label": STATE_LABELS[state],
                       "kind_label": DUTY_LABELS.get(a.kind, a.kind), "can_end": state in ("current", "future")})
    return {"grid": grid, "form": form, "conflict": conflict, "area_form": area_form, "areas": areas,
            "assignment_form": assignment_form, "duties": duties, "end_errors": end_errors or {},
            "default_end": rules.default_end_date(today).isoformat(), "status_labels": STATUS_LABELS,
            "level_labels": LEVEL_LABELS, "needs_owner": grid.status == "active" and not _has_owner_on(grid, today),
            "message": message}


@bp.route("/admin/grids/<int:grid_id>", methods=["GET", "POST"])
@access.policy(read=GRID_ADMINS, write=GRID_ADMINS)
def grid_edit(grid_id: int):
    """Edit a grid; a stale form is refused with the other person's change shown. Also its areas and staff."""
    grid = access.grid_admin_get_or_404(Grid, grid_id)
    if request.method == "GET":
        return render("org/admin_grid.html", "org/_admin_grid_form.html", **_grid_ctx(grid))
    form = GridForm()
    _grid_choices(form, grid)
    conflict = None
    if form.validate_on_submit():
        if form.version.number != grid.version:
            conflict = grid
        elif _check_grid(form, grid, grid.branch):
            _assign_grid(grid, form)
            try:
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                conflict = grid = access.grid_admin_get_or_404(Grid, grid_id)
            else:
                return redirect_to("org.grid_edit", _("Saved."), grid_id=grid.id)
    if conflict is not None:
        form.version.data = str(conflict.version)
        return render("org/admin_grid.html", "org/_admin_grid_form.html", status=409,
                      **_grid_ctx(grid, form=form, conflict=conflict))
    return render("org/admin_grid.html", "org/_admin_grid_form.html", status=422, **_grid_ctx(grid, form=form))


def _lock(model, id_: int) -> None:
    """Serialise concurrent checks on one row (PostgreSQL row lock; SQLite already writes one at a time)."""
    db.session.execute(sa.select(model.id).where(model.id == id_).with_for_update())


@bp.post("/admin/grids/<int:grid_id>/areas")
@access.policy(read=GRID_ADMINS, write=GRID_ADMINS)
@idempotent
def grid_area_add(grid_id: int):
    """Cover a whole village or one village group with this grid (G-3: one grid at a time)."""
    grid = access.grid_admin_get_or_404(Grid, grid_id)
    form = AreaForm()
    _area_choices(form, grid)
    if form.validate_on_submit():
        kind, _sep, raw_id = form.target.data.partition(":")
        if kind == "g":
            group = form.groups_by_id[int(raw_id)]
            village_id, group_id = group.village_id, group.id
        else:
            village_id, group_id = int(raw_id), None
        _lock(Village, village_id)
        new = rules.Cover(grid.id, village_id, group_id, grid.status, grid.active_from, grid.active_to)
        clash = rules.coverage_conflict(_covers_of_village(village_id), new)
        if clash:
            form.target.errors.append(_clash_message(clash))
        else:
            area = GridArea(grid_id=grid.id, village_id=village_id, group_id=group_id)
            db.session.add(area)
            db.session.flush()
            db.session.refresh(grid, ["areas"])
            return _done("org.grid_edit", _("Now covering %(place)s.", place=_place(area)),
                         "org/_admin_grid_areas.html", "org/admin_grid.html", ctx=lambda: _grid_ctx(grid), grid_id=grid.id)
    return render("org/admin_grid.html", "org/_admin_grid_areas.html", status=422,
                  **_grid_ctx(grid, area_form=form))


@bp.post("/admin/grids/<int:grid_id>/areas/<int:area_id>/remove")
@access.policy(read=GRID_ADMINS, write=GRID_ADMINS)
def grid_area_remove(grid_id: int, area_id: int):
    """Stop covering a village or group with this grid."""
    grid = access.grid_admin_get_or_404(Grid, grid_id)
    area = access.grid_admin_get_or_404(GridArea, area_id)
    if area.grid_id != grid.id:
        abort(404)
    place = _place(area)
    grid.areas.remove(area)
    db.session.commit()
    return _done("org.grid_edit", _("No longer covering %(place)s.", place=place), "org/_admin_grid_areas.html",
                 "org/admin_grid.html", ctx=lambda: _grid_ctx(grid), grid_id=grid.id)


def _duty(a) -> rules.Duty:
    return rules.Duty(a.user_id, a.kind, a.starts_on, a.ends_on, a.id)


@bp.post("/admin/grids/<int:grid_id>/assignments")
@access.policy(read=GRID_ADMINS, write=GRID_ADMINS)
@idempotent
def assignment_add(grid_id: int):
    """Put a grid officer on a grid as owner, backup or temporary cover (G-1: one owner at a time)."""
    grid = access.grid_admin_get_or_404(Grid, grid_id)
    form = AssignmentForm()
    _staff_choices(form)
    if form.validate_on_submit():
        _lock(Grid, grid.id)
        new = rules.Duty(form.user_id.data, form.kind.data, form.starts_on.data, form.ends_on.data)
        problem = rules.assignment_problem(new)
        existing = [_duty(a) for a in db.session.scalars(sa.select(Assignment).where(Assignment.grid_id == grid.id))]
        by_id = {a.id: a for a in grid.assignments}
        if problem == "cover_needs_end":
            form.ends_on.errors.append(_("A temporary cover needs a last day."))
        elif problem == "ends_before_start":
            form.ends_on.errors.append(_("The last day cannot be before the first day."))
        elif problem:
            form.kind.errors.append(_("Choose one of the options."))
        elif (other := rules.owner_conflict(existing, new)) is not None:
            owner = by_id[other.id]
            form.kind.errors.append(_(
                "%(name)s is already the owner from %(start)s to %(end)s. A grid has one owner at a time: end that "
                "assignment first (its last day must be before %(first)s), or add this person as backup.",
                name=owner.user.name, start=_fmt(owner.starts_on), end=_fmt(owner.ends_on),
                first=new.starts_on.isoformat()))
        elif (other := rules.person_conflict(existing, new)) is not None:
            form.user_id.errors.append(_("%(name)s already has a duty on this grid from %(start)s to %(end)s.",
                                         name=by_id[other.id].user.name, start=_fmt(other.starts_on),
                                         end=_fmt(other.ends_on)))
        else:
            assignment = Assignment(grid_id=grid.id, user_id=new.user_id, kind=new.kind, starts_on=new.starts_on,
                                    ends_on=new.ends_on, note=form.note.data or None)
            db.session.add(assignment)
            db.session.flush()
            db.session.refresh(grid, ["assignments"])
            return _done("org.grid_edit", _("%(name)s added as %(duty)s.", name=assignment.user.name,
                                            duty=DUTY_LABELS[new.kind]),
                         "org/_admin_grid_assignments.html", "org/admin_grid.html", ctx=lambda: _grid_ctx(grid),
                         grid_id=grid.id)
    return render("org/admin_grid.html", "org/_admin_grid_assignments.html", status=422,
                  **_grid_ctx(grid, assignment_form=form))


@bp.post("/admin/grids/<int:grid_id>/assignments/<int:assignment_id>/end")
@access.policy(read=GRID_ADMINS, write=GRID_ADMINS)
def assignment_end(grid_id: int, assignment_id: int):
    """End a duty on a given last day (yesterday = now); the assignment stays in the history (G-4)."""
    grid = access.grid_admin_get_or_404(Grid, grid_id)
    assignment = access.grid_admin_get_or_404(Assignment, assignment_id)
    if assignment.grid_id != grid.id:
        abort(404)
    form = EndAssignmentForm()
    today = clock.today()
    errors: list[str] = []
    if form.validate_on_submit():
        problem = rules.end_problem(assignment.starts_on, assignment.ends_on, form.ends_on.data, today)
        if problem == "already_ended":
            errors.append(_("This assignment has already ended."))
        elif problem == "later_than_planned":
            errors.append(_("It already ends on %(day)s; pick that day or an earlier one.",
                            day=assignment.ends_on.isoformat()))
        elif problem == "before_start":
            errors.append(_("The last day cannot be earlier than the day before it started (%(day)s).",
                            day=assignment.starts_on.isoformat()))
        else:
            assignment.ends_on = form.ends_on.data
            name = assignment.user.name
            db.session.commit()
            return _done("org.grid_edit", _("%(name)s is off this grid after %(day)s.", name=name,
                                            day=form.ends_on.data.isoformat()),
                         "org/_admin_grid_assignments.html", "org/admin_grid.html", ctx=lambda: _grid_ctx(grid),
                         grid_id=grid.id)
    else:
        errors.extend(e for field_errors in form.errors.values() for e in field_errors)
    return render("org/admin_grid.html", "org/_admin_grid_assignments.html", status=422,
                  **_grid_ctx(grid, end_errors={assignment.id: errors}))
