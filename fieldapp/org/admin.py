"""Organisation administration: counties, townships, villages, groups, branches, grids and assignments."""
from __future__ import annotations

import sqlalchemy as sa

from ..core import access
from ..core.web import render
from ..extensions import db
from . import bp
from .models import Branch, County, Grid


@bp.get("/admin/org")
@access.policy(read=access.ORG_ADMINS)
def admin_index():
    """The organisation at a glance, with links to manage each part."""
    counties_ids = access.admin_county_ids()
    stmt = sa.select(County).order_by(County.admin_code)
    if counties_ids is not None:
        stmt = stmt.where(County.id.in_(counties_ids))
    counties = db.session.scalars(stmt).all()
    ids = [c.id for c in counties]
    branches = db.session.scalars(sa.select(Branch).where(Branch.county_id.in_(ids)).order_by(Branch.code)).all()
    grids = db.session.scalars(sa.select(Grid).where(Grid.county_id.in_(ids)).order_by(Grid.code)).all()
    return render("org/admin_index.html", None, counties=counties, branches=branches, grids=grids)
