"""Org queries shared by pages: the villages a user sees, and who covers a village."""
from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa

from ..core import access, clock
from ..extensions import db
from .models import Assignment, Grid, GridArea, Township, Village


@dataclass
class VillageRow:
    village: Village
    township: Township
    partial: bool


def visible_villages(q: str = "") -> list[VillageRow]:
    """Villages in the current user's area, by township, with whether only some groups are covered."""
    area = access.current_area()
    stmt = (sa.select(Village, Township).join(Township, Township.id == Village.township_id)
            .where(access.village_clause(Village.id, Village.county_id, area))
            .order_by(Township.stat_code, Village.stat_code))
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(sa.or_(Village.name.like(like), Township.name.like(like)))
    rows = []
    for village, township in db.session.execute(stmt):
        partial = (village.county_id not in area.county_ids and village.id not in area.village_ids)
        rows.append(VillageRow(village, township, partial))
    return rows


def coverage_of(village: Village) -> list[dict]:
    """Active grids covering a village (whole or by group), with their current staff."""
    today = clock.today()
    stmt = (sa.select(Grid, GridArea).join(GridArea, GridArea.grid_id == Grid.id)
            .where(GridArea.village_id == village.id, Grid.status == "active").order_by(Grid.code))
    result = []
    for grid, area in db.session.execute(stmt):
        staff = db.session.scalars(
            sa.select(Assignment).where(Assignment.grid_id == grid.id, Assignment.starts_on <= today,
                                        sa.or_(Assignment.ends_on.is_(None), Assignment.ends_on >= today))
            .order_by(Assignment.kind)).all()
        result.append({"grid": grid, "group": area.group, "staff": staff})
    return result
