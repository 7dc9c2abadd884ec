"""Access-matrix rows for the credit-file sections, the LPR table and the submit / review workflow.

Also the helpers the section and workflow tests share: a fresh household in a village (version 1, so a form
carrying version "1" is current), and one ready for submission (head with a valid ID, a completed visit, the two
consents, every other section marked "无").
"""
from __future__ import annotations

import itertools
from datetime import date, timedelta

from fieldapp.core import clock
from fieldapp.extensions import db
from fieldapp.households import rules
from fieldapp.households.models import CreditFile, LandHolding, LprRate
from fieldapp.visits.models import Consent, Visit
from tests.support.matrix import MISSING, Route
from tests.support.world import add_household, make_id

READ = {"hq_admin", "branch_manager", "grid_officer", "auditor"}
WRITE = {"hq_admin", "branch_manager", "grid_officer"}
REVIEW_READ = {"hq_admin", "branch_manager", "auditor"}
REVIEW_WRITE = {"hq_admin", "branch_manager"}
_serial = itertools.count(1)

LAND = {"land_type": "arable", "area_mu": "3.5", "tenure": "contracted", "source": "declared"}


def fresh_household(w, tag: str = "", village=None, group_name: str = "一组"):
    """A new household (head only, valid ID) in `village` (v1 by default: every writer of the world sees it)."""
    n = next(_serial)
    village = village or w.v1
    group = next(g for g in village.groups if g.name == group_name)
    birth = (date(1960, 1, 1) + timedelta(days=n)).strftime("%Y%m%d")
    h = add_household(village, group, f"H-T{n:05d}{tag}"[:24], [(f"测试户{n}", "head", make_id("532931", birth, 101))])
    return h


def complete_household(w, tag: str = "", village=None, officer=None):
    """Ready to submit (V-1): valid head ID, a completed visit, consents collect + credit_query, all else "无"."""
    h = fresh_household(w, tag, village)
    staff = officer or w.officer
    visit = Visit(household_id=h.id, county_id=h.county_id, village_id=h.village_id, group_id=h.group_id,
                  staff_id=staff.id, purpose="first", outcome="done", started_at=clock.utcnow_naive())
    db.session.add(visit)
    db.session.flush()
    for kind in rules.REQUIRED_CONSENTS:
        db.session.add(Consent(household_id=h.id, visit_id=visit.id, kind=kind, method="signature",
                               recorded_by=staff.id))
    h.declared_none = sorted(rules.NONE_ALLOWED)
    h.file_status = "draft"
    db.session.flush()
    return h


def submitted_household(w, tag: str = "", submitter=None):
    """A complete household whose version 1 was submitted by `submitter` (the grid officer by default)."""
    from fieldapp.households import workflow
    h = complete_household(w, tag)
    version = CreditFile(household_id=h.id, version_no=1, status="submitted",
                         submitted_by=(submitter or w.officer).id, submitted_at=clock.utcnow_naive(),
                         snapshot=workflow.snapshot(h))
    db.session.add(version)
    h.file_status = "submitted"
    db.session.flush()
    return h


def _outside(w, role):
    return w.hb if role in ("hq_admin", "auditor") else w.h4


def household_ids(w, role):
    return w.h1.id, _outside(w, role).id


def _land_row(h) -> LandHolding:
    row = LandHolding(household_id=h.id, land_type="arable", area_mu=2, tenure="contracted")
    db.session.add(row)
    db.session.flush()
    return row


def row_paths(w, role):
    """"<household>/section/land/<row>" of a fresh household (version 1) and of one outside the role's area."""
    h = fresh_household(w, "r")
    inside = _land_row(h)
    out_h = _outside(w, role)
    outside = _land_row(out_h)
    db.session.commit()
    return f"{h.id}/section/land/{inside.id}", f"{out_h.id}/section/land/{outside.id}"


def fresh_ids(w, role):
    h = fresh_household(w, "n")
    db.session.commit()
    return h.id, _outside(w, role).id


def complete_ids(w, role):
    h = complete_household(w, "c")
    db.session.commit()
    return h.id, _outside(w, role).id


def submitted_ids(w, role):
    h = submitted_household(w, "s")
    db.session.commit()
    return h.id, _outside(w, role).id


_lpr_days = itertools.count(0)


def lpr_ids(w, role):
    row = LprRate(effective_on=date(2030, 1, 1) + timedelta(days=next(_lpr_days)), one_year=3)
    db.session.add(row)
    db.session.commit()
    return row.id, MISSING


ROUTES = {
    "households.section": Route("GET", "/households/{id}/section/land", READ, ids=household_ids),
    "households.section_add": Route("POST", "/households/{id}/section/land/add", WRITE, ok=303, ids=household_ids,
                                    data={**LAND, "idem_key": "kadd{role}{id}"}),
    # {id} is "<household>/section/land/<row>": the row of a fresh household whose version is 1
    "households.section_edit": Route("POST", "/households/{id}", WRITE, ok=303, ids=row_paths,
                                     data={**LAND, "area_mu": "4", "version": "1"}),
    "households.section_remove": Route("POST", "/households/{id}/remove", WRITE, ok=303, ids=row_paths,
                                       data={"version": "1"}),
    "households.section_none": Route("POST", "/households/{id}/section/land/none", WRITE, ok=303, ids=fresh_ids,
                                     data={"version": "1"}),
    "households.submit": Route("POST", "/households/{id}/submit", WRITE, ok=303, ids=complete_ids),
    "households.review": Route("GET", "/households/{id}/review", REVIEW_READ, ids=household_ids),
    "households.review_decide": Route("POST", "/households/{id}/review", REVIEW_WRITE, ok=303, ids=submitted_ids,
                                      data={"decision": "accept", "version": "1"}),
    "households.lpr_index": Route("GET", "/admin/lpr", READ),
    "households.lpr_add": Route("POST", "/admin/lpr", {"hq_admin"}, ok=303,
                                data={"effective_on": "2031-01-01", "one_year": "2.9", "idem_key": "klpr{role}"}),
    "households.lpr_remove": Route("POST", "/admin/lpr/{id}/remove", {"hq_admin"}, ok=303, ids=lpr_ids),
}
