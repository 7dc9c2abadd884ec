"""County > Township > Village > Group, and the bank side: Branch > Grid with staff assignments."""
from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..core.clock import utcnow_naive
from ..extensions import db

LABEL_SETS = {
    # label_set -> (county, township, village, group) words shown in banners and headings
    "standard": ("县", "乡镇", "村", "组"),
    "banner": ("旗", "苏木", "嘎查", "组"),
}
BRANCH_KINDS = ("outlet", "assisted_point", "atm")
GRID_STATUSES = ("draft", "active", "closed")
ASSIGNMENT_KINDS = ("owner", "backup", "cover")


class County(db.Model):
    __tablename__ = "counties"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_code: Mapped[str] = mapped_column(sa.String(6), unique=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    label_set: Mapped[str] = mapped_column(sa.String(20), default="standard")
    second_language: Mapped[str | None] = mapped_column(sa.String(10))
    created_at: Mapped[datetime] = mapped_column(default=utcnow_naive)

    townships: Mapped[list[Township]] = relationship(back_populates="county", order_by="Township.stat_code")

    @property
    def labels(self) -> tuple[str, str, str, str]:
        return LABEL_SETS.get(self.label_set, LABEL_SETS["standard"])


class Township(db.Model):
    __tablename__ = "townships"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    stat_code: Mapped[str] = mapped_column(sa.String(9), unique=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    service_station_name: Mapped[str | None] = mapped_column(sa.String(100))

    county: Mapped[County] = relationship(back_populates="townships")
    villages: Mapped[list[Village]] = relationship(back_populates="township", order_by="Village.stat_code")


class Village(db.Model):
    __tablename__ = "villages"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    township_id: Mapped[int] = mapped_column(sa.ForeignKey("townships.id"), index=True)
    stat_code: Mapped[str] = mapped_column(sa.String(12), unique=True)
    name: Mapped[str] = mapped_column(sa.String(60))
    is_poor_village: Mapped[bool] = mapped_column(default=False)
    service_unit_name: Mapped[str | None] = mapped_column(sa.String(100))
    centroid_lat: Mapped[float | None] = mapped_column(sa.Float)
    centroid_lng: Mapped[float | None] = mapped_column(sa.Float)

    township: Mapped[Township] = relationship(back_populates="villages")
    groups: Mapped[list[VillageGroup]] = relationship(back_populates="village", order_by="VillageGroup.name")


class VillageGroup(db.Model):
    __tablename__ = "village_groups"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("village_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    name: Mapped[str] = mapped_column(sa.String(40))

    village: Mapped[Village] = relationship(back_populates="groups")


class Branch(db.Model):
    __tablename__ = "branches"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("branches.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    kind: Mapped[str] = mapped_column(sa.String(20), default="outlet")

    grids: Mapped[list[Grid]] = relationship(back_populates="branch", order_by="Grid.code")


class Grid(db.Model):
    __tablename__ = "grids"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    county_id: Mapped[int] = mapped_column(sa.ForeignKey("counties.id"), index=True)
    branch_id: Mapped[int] = mapped_column(sa.ForeignKey("branches.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("grids.id"), index=True)
    code: Mapped[str] = mapped_column(sa.String(20), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    level: Mapped[int] = mapped_column(default=1)
    status: Mapped[str] = mapped_column(sa.String(10), default="active")
    target_households: Mapped[int | None]
    active_from: Mapped[date | None]
    active_to: Mapped[date | None]
    version: Mapped[int] = mapped_column(default=1)

    branch: Mapped[Branch] = relationship(back_populates="grids")
    parent: Mapped[Grid | None] = relationship(remote_side="Grid.id")
    areas: Mapped[list[GridArea]] = relationship(back_populates="grid", cascade="all, delete-orphan")
    assignments: Mapped[list[Assignment]] = relationship(back_populates="grid", order_by="Assignment.starts_on")

    __mapper_args__ = {"version_id_col": version}


class GridArea(db.Model):
    """A grid covers a whole village (group_id NULL) or a single village group."""

    __tablename__ = "grid_areas"
    __audited__ = True
    __table_args__ = (sa.UniqueConstraint("grid_id", "village_id", "group_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grids.id"), index=True)
    village_id: Mapped[int] = mapped_column(sa.ForeignKey("villages.id"), index=True)
    group_id: Mapped[int | None] = mapped_column(sa.ForeignKey("village_groups.id"), index=True)

    grid: Mapped[Grid] = relationship(back_populates="areas")
    village: Mapped[Village] = relationship()
    group: Mapped[VillageGroup | None] = relationship()


class Assignment(db.Model):
    """A staff member's duty on a grid: owner (exactly one at a time), backup, or temporary cover."""

    __tablename__ = "assignments"
    __audited__ = True

    id: Mapped[int] = mapped_column(primary_key=True)
    grid_id: Mapped[int] = mapped_column(sa.ForeignKey("grids.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(10))
    starts_on: Mapped[date]
    ends_on: Mapped[date | None]
    note: Mapped[str | None] = mapped_column(sa.String(200))

    grid: Mapped[Grid] = relationship(back_populates="assignments")
    user: Mapped["User"] = relationship()  # noqa: F821
