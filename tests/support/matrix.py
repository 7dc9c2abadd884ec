"""Shared pieces of the role x route matrix: each capability lists its routes in tests/support/routes_<name>.py."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

ROLES = ["anonymous", "sysadmin", "hq_admin", "branch_manager", "grid_officer", "village_secretary",
         "panel_member", "mediator", "auditor"]
DATA = {"hq_admin", "branch_manager", "grid_officer", "village_secretary", "panel_member", "auditor"}
MISSING = 999_999


@dataclass
class Route:
    method: str
    url: str                                  # "{id}" is replaced by the in-scope or out-of-scope id
    allowed: set[str]                         # roles the policy admits for this method
    ok: int = 200                             # status for an allowed role on an in-scope object
    ids: Callable | None = None               # (world, role) -> (in_id, out_id)
    data: dict = field(default_factory=dict)  # form for POSTs
    public: bool = False


def village_ids(w, role):
    inside = {"hq_admin": w.v1, "branch_manager": w.v2, "grid_officer": w.v2, "village_secretary": w.v1,
              "panel_member": w.v1, "auditor": w.v3}.get(role, w.v1)
    outside = {"hq_admin": w.vb, "branch_manager": w.v3, "grid_officer": w.v3, "village_secretary": w.v2,
               "panel_member": w.v3, "auditor": w.vb}.get(role, w.vb)
    return inside.id, outside.id


def staff_ids(w, role):
    return w.officer.id, (w.hq_b.id if role == "hq_admin" else MISSING)


def reset_ids(w, role):
    # not a user this test logs in with, so resetting the password changes no later row
    return w.officer2.id, (w.hq_b.id if role == "hq_admin" else MISSING)


def grant_ids(w, role):
    return w.officer.id, (w.hq_b.id if role == "hq_admin" else MISSING)


def own_job(w, role):
    # head office and auditors follow every batch job; others see only their own
    other = MISSING if role in ("hq_admin", "auditor") else w.job_ids["other"]
    return w.job_ids.get(role, MISSING), other


ADMINS = {"sysadmin", "hq_admin"}
EVERYONE = set(ROLES) - {"anonymous"}

