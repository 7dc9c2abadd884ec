"""Role x route rows for the organisation admin pages."""
from __future__ import annotations

from tests.support.matrix import ADMINS, MISSING, Route

ROUTES: dict[str, Route] = {}

GRID_ADMINS = ADMINS | {"branch_manager"}


def _admin_pair(inside, outside_b):
    """hq_admin of county A: county B's row is 404; sysadmin sees all (a missing id is 404)."""
    def ids(w, role):
        return inside(w).id, (outside_b(w).id if role == "hq_admin" else MISSING)
    return ids


def grid_pair(w, role):
    outside = {"hq_admin": w.gb.id, "branch_manager": w.g2.id}.get(role, MISSING)
    return w.g1.id, outside


def branch_pair(w, role):
    outside = {"hq_admin": w.bb.id, "branch_manager": w.b2.id}.get(role, MISSING)
    return w.b1.id, outside


def duty_pair(w, role):
    return grid_pair(w, role)


ROUTES.update({
    "org.county_new": Route("GET", "/admin/counties/new", {"sysadmin"}),
    "org.county_edit": Route("GET", "/admin/counties/{id}", ADMINS, ids=_admin_pair(lambda w: w.county, lambda w: w.county_b)),
    "org.township_new": Route("GET", "/admin/counties/{id}/townships/new", ADMINS,
                              ids=_admin_pair(lambda w: w.county, lambda w: w.county_b)),
    "org.township_edit": Route("GET", "/admin/townships/{id}", ADMINS, ids=_admin_pair(lambda w: w.t1, lambda w: w.tb)),
    "org.village_new": Route("GET", "/admin/townships/{id}/villages/new", ADMINS,
                             ids=_admin_pair(lambda w: w.t1, lambda w: w.tb)),
    "org.village_edit": Route("GET", "/admin/villages/{id}", ADMINS, ids=_admin_pair(lambda w: w.v1, lambda w: w.vb)),
    "org.group_add": Route("POST", "/admin/villages/{id}/groups", ADMINS, ok=303,
                           ids=_admin_pair(lambda w: w.v1, lambda w: w.vb),
                           data={"group_name": "组{role}", "idem_key": "group-{role}-{id}"}),
    "org.group_edit": Route("GET", "/admin/groups/{id}", ADMINS,
                            ids=_admin_pair(lambda w: w.v1.groups[0], lambda w: w.vb.groups[0])),
    "org.branch_new": Route("GET", "/admin/branches/new", ADMINS),
    "org.branch_edit": Route("GET", "/admin/branches/{id}", ADMINS, ids=_admin_pair(lambda w: w.b1, lambda w: w.bb)),
    "org.grid_index": Route("GET", "/admin/grids?branch_id={id}", GRID_ADMINS, ids=branch_pair),
    "org.grid_new": Route("GET", "/admin/grids/new", GRID_ADMINS),
    "org.grid_edit": Route("GET", "/admin/grids/{id}", GRID_ADMINS, ids=grid_pair),
    # an empty form: 422 inside scope (nothing created), 404 outside
    "org.grid_area_add": Route("POST", "/admin/grids/{id}/areas", GRID_ADMINS, ok=422, ids=grid_pair,
                               data={"idem_key": "area-{role}-{id}"}),
    "org.grid_area_remove": Route("POST", "/admin/grids/{id}/areas/999999/remove", GRID_ADMINS, ok=404, ids=grid_pair),
    "org.assignment_add": Route("POST", "/admin/grids/{id}/assignments", GRID_ADMINS, ok=422, ids=grid_pair,
                                data={"idem_key": "duty-{role}-{id}"}),
    "org.assignment_end": Route("POST", "/admin/grids/{id}/assignments/999999/end", GRID_ADMINS, ok=404,
                                ids=grid_pair),
})

