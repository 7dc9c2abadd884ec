"""The villages a user works in."""
from __future__ import annotations

from flask import request

from ..core import access
from ..core.web import render
from . import bp, services
from .models import Village


@bp.get("/villages")
@access.policy(read=access.DATA_ROLES)
def villages():
    """The villages of my grids (or branch, or county), by township."""
    q = (request.args.get("q") or "").strip()[:40]
    rows = services.visible_villages(q)
    return render("org/villages.html", "org/_village_rows.html", rows=rows, q=q)


@bp.get("/villages/<int:village_id>")
@access.policy(read=access.DATA_ROLES)
def village(village_id: int):
    """One village: its groups I cover and who covers it."""
    v = access.get_or_404(Village, village_id)
    return render("org/village.html", None, village=v, groups=access.groups_visible_in(v),
                  coverage=services.coverage_of(v))
