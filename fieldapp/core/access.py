"""Who may call which route, and which rows each user may see: the one place that knows.

Every view declares a policy with @policy(...) or @public. A request to a view without one is refused.
Village-bound data is scoped by the household's village group -> grid (owner, backup and cover assignments,
and child grids) for grid officers, by branch for branch managers, by village for village roles and by
county for bank-wide roles. Objects out of scope are 404, never 403, so ids reveal nothing.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from flask import abort, current_app, g, redirect, request, url_for
from flask_login import current_user

from ..extensions import db
from . import clock

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
ALL_ROLES = frozenset({"sysadmin", "hq_admin", "branch_manager", "grid_officer", "village_secretary",
                       "panel_member", "mediator", "auditor"})
# Roles that see household data of their area (domain.md §1.1 "May see"); sysadmin and mediator do not.
DATA_ROLES = frozenset({"hq_admin", "branch_manager", "grid_officer", "village_secretary", "panel_member",
                        "auditor"})
ORG_ADMINS = frozenset({"sysadmin", "hq_admin"})
STAFF_ADMINS = frozenset({"sysadmin", "hq_admin"})
READ_ONLY_ROLES = frozenset({"auditor"})

PUBLIC = "public"
ANY_USER = "any_user"


@dataclass(frozen=True)
class Policy:
    """Roles allowed to read (safe methods) and to write (everything else)."""

    read: frozenset[str] | str
    write: frozenset[str] | str = frozenset()


def policy(read, write=()):
    """Declare who may call a view: `read` for GET/HEAD, `write` for POST and other unsafe methods."""
    def wrap(fn):
        r = read if isinstance(read, str) else frozenset(read)
        w = write if isinstance(write, str) else frozenset(write)
        fn._access_policy = Policy(r, w)
        return fn
    return wrap


def public(fn):
    """A route anyone may use without logging in (login, certificate verify, language switch)."""
    fn._access_policy = Policy(PUBLIC, PUBLIC)
    return fn


def any_user(fn):
    """Any logged-in user, whatever their roles (home, own password, sign out)."""
    fn._access_policy = Policy(ANY_USER, ANY_USER)
    return fn


def policy_for(endpoint: str | None) -> Policy | None:
    if endpoint is None:
        return None
    if endpoint == "static" or endpoint.endswith(".static"):
        return Policy(PUBLIC, PUBLIC)
    view = current_app.view_functions.get(endpoint)
    return getattr(view, "_access_policy", None)


def undeclared_endpoints(app) -> list[str]:
    """Endpoints whose view declares no policy (the suite fails on any)."""
    missing = []
    for endpoint, view in app.view_functions.items():
        if endpoint == "static" or endpoint.endswith(".static"):
            continue
        if getattr(view, "_access_policy", None) is None:
            missing.append(endpoint)
    return sorted(missing)


def _allowed(allowed, user) -> bool:
    if allowed == PUBLIC or allowed == ANY_USER:
        return True
    return any(code in allowed for code in user.role_codes)


def enforce():
    """before_request: authenticate and authorise by the view's declared policy."""
    if request.endpoint is None:
        return None  # 404 / 405 are answered by the router
    pol = policy_for(request.endpoint)
    if pol is None:
        current_app.logger.error("route %s declares no access policy", request.endpoint)
        abort(403)
    unsafe = request.method not in SAFE_METHODS
    allowed = pol.write if unsafe else pol.read
    if allowed == PUBLIC:
        return None
    if not current_user.is_authenticated:
        return login_required_response()
    if current_user.must_change_password and request.endpoint not in {
            "accounts.change_password", "accounts.logout", "accounts.set_language"}:
        return redirect(url_for("accounts.change_password"))
    if not _allowed(allowed, current_user):
        abort(403)
    return None


def login_required_response():
    from .web import wants_htmx  # local: web imports access for template helpers
    target = url_for("accounts.login", next=request.full_path if request.method == "GET" else None)
    if wants_htmx():
        resp = current_app.response_class(status=401)
        resp.headers["HX-Redirect"] = target
        return resp
    return redirect(target)


def can_write() -> bool:
    """Whether the current user may submit forms at all (auditors never)."""
    return current_user.is_authenticated and bool(set(current_user.role_codes) - READ_ONLY_ROLES)


# ---------------------------------------------------------------- data scope

@dataclass
class Area:
    """What a user may see of village-bound data: everything in some counties, or villages and single groups."""

    county_ids: set[int] = field(default_factory=set)   # everything in these counties
    village_ids: set[int] = field(default_factory=set)  # whole villages
    group_ids: set[int] = field(default_factory=set)    # single village groups
    partial_village_ids: set[int] = field(default_factory=set)  # villages seen through some of their groups

    @property
    def is_empty(self) -> bool:
        return not (self.county_ids or self.village_ids or self.group_ids)


def _grid_closure(grid_ids: set[int]) -> set[int]:
    """The grids plus their (second-level) child grids."""
    from ..org.models import Grid
    result = set(grid_ids)
    frontier = set(grid_ids)
    while frontier:
        children = set(db.session.scalars(sa.select(Grid.id).where(Grid.parent_id.in_(frontier))))
        frontier = children - result
        result |= children
    return result


def _active_grid_ids_for_officer(user) -> set[int]:
    from ..org.models import Assignment, Grid
    today = clock.today()
    stmt = (sa.select(Assignment.grid_id).join(Grid, Grid.id == Assignment.grid_id)
            .where(Assignment.user_id == user.id, Grid.status == "active",
                   Assignment.starts_on <= today,
                   sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= today)))
    return _grid_closure(set(db.session.scalars(stmt)))


def _branch_closure(branch_ids: set[int]) -> set[int]:
    from ..org.models import Branch
    result, frontier = set(branch_ids), set(branch_ids)
    while frontier:
        children = set(db.session.scalars(sa.select(Branch.id).where(Branch.parent_id.in_(frontier))))
        frontier = children - result
        result |= children
    return result


def _add_grid_areas(area: Area, grid_ids: set[int]) -> None:
    from ..org.models import GridArea
    if not grid_ids:
        return
    for village_id, group_id in db.session.execute(
            sa.select(GridArea.village_id, GridArea.group_id).where(GridArea.grid_id.in_(grid_ids))):
        if group_id is None:
            area.village_ids.add(village_id)
        else:
            area.group_ids.add(group_id)
            area.partial_village_ids.add(village_id)


def area_for(user) -> Area:
    """The village-bound area `user` may see (empty for sysadmin and mediator)."""
    from ..org.models import Grid
    area = Area()
    if user is None or not user.is_authenticated:
        return area
    for grant in user.roles:
        if grant.role in ("hq_admin", "auditor") and grant.scope_type == "county":
            area.county_ids.add(grant.scope_id)
        elif grant.role == "branch_manager" and grant.scope_type == "branch":
            branches = _branch_closure({grant.scope_id})
            grids = set(db.session.scalars(sa.select(Grid.id).where(Grid.branch_id.in_(branches))))
            _add_grid_areas(area, grids)
        elif grant.role == "grid_officer":
            _add_grid_areas(area, _active_grid_ids_for_officer(user))
        elif grant.role in ("village_secretary", "panel_member") and grant.scope_type == "village":
            area.village_ids.add(grant.scope_id)
    area.partial_village_ids -= area.village_ids
    return area


def current_area() -> Area:
    """The current user's area, computed once per request."""
    if "access_area" not in g:
        g.access_area = area_for(current_user)
    return g.access_area


def village_clause(village_col, county_col, area: Area | None = None):
    """A where-clause limiting a village column to villages the user sees (wholly or in part)."""
    area = area or current_area()
    clauses = []
    if area.county_ids:
        clauses.append(county_col.in_(area.county_ids))
    ids = area.village_ids | area.partial_village_ids
    if ids:
        clauses.append(village_col.in_(ids))
    return sa.or_(*clauses) if clauses else sa.false()


def bound_clause(model, area: Area | None = None):
    """A where-clause for a village-bound model (county_id, village_id, group_id columns)."""
    area = area or current_area()
    clauses = []
    if area.county_ids:
        clauses.append(model.county_id.in_(area.county_ids))
    if area.village_ids:
        clauses.append(model.village_id.in_(area.village_ids))
    if area.group_ids:
        clauses.append(model.group_id.in_(area.group_ids))
    return sa.or_(*clauses) if clauses else sa.false()


def scoped(stmt: sa.Select, model) -> sa.Select:
    """Limit `stmt` over a village-bound model (or Village itself) to the current user's area."""
    from ..org.models import Village
    if model is Village:
        return stmt.where(village_clause(Village.id, Village.county_id))
    return stmt.where(bound_clause(model))


def get_or_404(model, id_: int):
    """One scoped row, or 404 (not 403) so ids outside the area reveal nothing."""
    return db.one_or_404(scoped(sa.select(model).where(model.id == id_), model))


def village_get_or_404(model, id_: int):
    """One row of a village-wide model (county_id, village_id; no group) the user sees wholly or in part, or 404."""
    stmt = sa.select(model).where(model.id == id_, village_clause(model.village_id, model.county_id))
    return db.one_or_404(stmt)


def sees_whole_village(village) -> bool:
    """Whether the user sees every group of `village` (not only the groups a second-level grid covers)."""
    area = current_area()
    return village.county_id in area.county_ids or village.id in area.village_ids


def groups_visible_in(village) -> list:
    """The groups of `village` the current user sees (all of them unless the grid covers single groups)."""
    if sees_whole_village(village):
        return list(village.groups)
    return [grp for grp in village.groups if grp.id in current_area().group_ids]


# ---------------------------------------------------------------- org-admin scope

def admin_county_ids(user=None) -> set[int] | None:
    """Counties an org/staff admin manages; None means every county (sysadmin)."""
    user = user or current_user
    if user.has_role("sysadmin"):
        return None
    return {gr.scope_id for gr in user.roles if gr.role == "hq_admin" and gr.scope_type == "county"}


def admin_get_or_404(model, id_: int):
    """An org row inside the admin's counties, else 404."""
    obj = db.session.get(model, id_)
    if obj is None:
        abort(404)
    counties = admin_county_ids()
    county_id = obj.id if model.__tablename__ == "counties" else getattr(obj, "county_id", None)
    if counties is not None and county_id not in counties:
        abort(404)
    return obj


# ---------------------------------------------------------------- grid admin scope

def admin_branch_ids(user=None) -> set[int] | None:
    """Branches whose grids `user` manages; None means every branch (sysadmin). An hq_admin manages every branch
    of their counties; a branch_manager their own branch and its child branches."""
    from ..org.models import Branch
    user = user or current_user
    if user.has_role("sysadmin"):
        return None
    ids: set[int] = set()
    counties = {gr.scope_id for gr in user.roles if gr.role == "hq_admin" and gr.scope_type == "county"}
    if counties:
        ids |= set(db.session.scalars(sa.select(Branch.id).where(Branch.county_id.in_(counties))))
    managed = {gr.scope_id for gr in user.roles if gr.role == "branch_manager" and gr.scope_type == "branch"}
    if managed:
        ids |= _branch_closure(managed)
    return ids


def admin_branch_clause(branch_col, user=None):
    """A where-clause limiting a branch id column to the branches `user` manages grids of."""
    ids = admin_branch_ids(user)
    return sa.true() if ids is None else branch_col.in_(ids)


def grid_admin_get_or_404(model, id_: int):
    """A Branch or Grid, or a row of a grid (GridArea, Assignment), whose branch the user manages; else 404."""
    from ..org.models import Branch, Grid
    obj = db.session.get(model, id_)
    if obj is None:
        abort(404)
    if model is Branch:
        branch_id = obj.id
    elif model is Grid:
        branch_id = obj.branch_id
    else:
        branch_id = obj.grid.branch_id
    ids = admin_branch_ids()
    if ids is not None and branch_id not in ids:
        abort(404)
    return obj
