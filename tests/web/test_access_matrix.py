"""Every route × every role, with an object in the role's scope and one outside it: exact statuses.

A route missing from ROUTES fails the suite, so a new view cannot ship without its row here.
"""
from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import sqlalchemy as sa
from flask import Blueprint

from fieldapp.core import access
from tests.conftest import login, make_app

from tests.support.matrix import *  # noqa: F403  (Route, ROLES, DATA, ADMINS, EVERYONE, MISSING, id helpers)
from tests.support.matrix import ADMINS, DATA, EVERYONE, MISSING, ROLES, Route, grant_ids, own_job, reset_ids, staff_ids, village_ids

ROUTES: dict[str, Route] = {
    "core.home": Route("GET", "/", EVERYONE, ok=200),
    "core.healthz": Route("GET", "/healthz", set(ROLES), public=True),
    "core.job": Route("GET", "/jobs/{id}", EVERYONE, ids=own_job),
    "core.audit_log": Route("GET", "/audit", {"hq_admin", "auditor"}),
    "accounts.login": Route("GET", "/login", set(ROLES), public=True),
    "accounts.logout": Route("POST", "/logout", EVERYONE, ok=303),
    "accounts.change_password": Route("GET", "/account/password", EVERYONE),
    "accounts.sign_out_everywhere": Route("POST", "/account/sign-out-everywhere", EVERYONE, ok=303),
    "accounts.set_language": Route("GET", "/language/en", set(ROLES), ok=303, public=True),
    "accounts.staff_index": Route("GET", "/staff", ADMINS),
    "accounts.staff_new": Route("GET", "/staff/new", ADMINS),
    "accounts.staff_edit": Route("GET", "/staff/{id}", ADMINS, ids=staff_ids),
    "accounts.staff_add_role": Route("POST", "/staff/{id}/roles", ADMINS, ok=303, ids=grant_ids,
                                     data={"role": "auditor", "scope": "county:{county}", "idem_key": "k{role}{id}"}),
    "accounts.staff_remove_role": Route("POST", "/staff/{id}/roles/{grant}/remove", ADMINS, ok=303, ids=grant_ids),
    "accounts.staff_reset_password": Route("POST", "/staff/{id}/reset-password", ADMINS, ok=303, ids=reset_ids,
                                           data={"password": "temporary-123"}),
    "accounts.staff_role_scopes": Route("GET", "/staff/role-scopes?role=auditor", ADMINS),
    "org.villages": Route("GET", "/villages", DATA),
    "org.village": Route("GET", "/villages/{id}", DATA, ids=village_ids),
    "org.admin_index": Route("GET", "/admin/org", ADMINS),
}
# Each capability adds its rows in tests/support/routes_<capability>.py as a dict named ROUTES.
for _module in sorted(Path(__file__).resolve().parents[1].joinpath("support").glob("routes_*.py")):
    ROUTES.update(importlib.import_module(f"tests.support.{_module.stem}").ROUTES)


def expected(route: Route, role: str, inside: bool) -> int:
    if role == "anonymous" and not route.public:
        return 302
    if role not in route.allowed:
        return 403
    if route.ids is None or inside:
        return route.ok
    return 404


def test_every_route_has_a_row_and_a_policy(app):
    endpoints = {e for e in app.view_functions if e != "static" and not e.startswith("testhooks.")}
    assert access.undeclared_endpoints(app) == []
    assert sorted(endpoints - set(ROUTES)) == [], "add these routes to ROUTES in test_access_matrix.py"
    assert sorted(set(ROUTES) - endpoints) == [], "ROUTES names endpoints that no longer exist"


def test_a_route_without_a_policy_is_caught_and_refused(database_uri, tmp_path):
    app = make_app(database_uri, tmp_path)
    bp = Blueprint("throwaway", __name__)

    @bp.get("/throwaway")
    def forgotten():
        return "secret"

    app.register_blueprint(bp)
    assert access.undeclared_endpoints(app) == ["throwaway.forgotten"]
    resp = app.test_client().get("/throwaway")
    assert resp.status_code == 403 and b"secret" not in resp.data


@pytest.mark.parametrize("endpoint", sorted(ROUTES))
def test_route_status_for_every_role(app, world, endpoint):
    """One endpoint, every role in turn (each with its own client), in scope and out of scope."""
    from fieldapp.accounts.models import RoleGrant
    from fieldapp.core import jobs
    from fieldapp.extensions import db

    route = ROUTES[endpoint]
    jobs.register("test.noop", lambda params: [], lambda params, key: None)
    world.job_ids = {}
    for r, user in [*world.roles.items(), ("other", world.officer2)]:
        world.job_ids[r] = jobs.enqueue("test.noop", user_id=user.id).id
    db.session.commit()

    failures = []
    for role in ROLES:
        client = app.test_client()
        if role != "anonymous":
            login(client, world.roles[role])
        targets = [(True, None)]
        if route.ids is not None:
            inside, outside = route.ids(world, role)
            targets = [(True, inside), (False, outside)]
        for is_inside, obj_id in targets:
            url = route.url.replace("{id}", str(obj_id))
            if "{grant}" in url:
                grant = RoleGrant(user_id=world.officer.id, role="panel_member", scope_type="village",
                                  scope_id=world.v1.id)
                db.session.add(grant)
                db.session.commit()
                url = url.replace("{grant}", str(grant.id if is_inside else MISSING))
            data = {k: v.replace("{county}", str(world.county.id)).replace("{role}", role).replace("{id}", str(obj_id))
                    for k, v in route.data.items()}
            resp = client.open(url, method=route.method, data=data)
            want = expected(route, role, is_inside)
            if endpoint == "accounts.login" and role != "anonymous":
                want = 302  # a logged-in user is sent home
            if endpoint == "core.home" and role in DATA:
                want = 302  # field roles start on their villages
            if resp.status_code != want:
                failures.append((role, "in" if is_inside else "out", url, resp.status_code, want))
            if endpoint in ("accounts.logout", "accounts.sign_out_everywhere") and role != "anonymous":
                break
            if "{grant}" in route.url:
                db.session.execute(sa.delete(RoleGrant).where(RoleGrant.role == "panel_member",
                                                              RoleGrant.user_id == world.officer.id))
                db.session.commit()
    assert failures == [], "\n".join(f"{r} {io} {u}: got {got}, want {want}" for r, io, u, got, want in failures)
