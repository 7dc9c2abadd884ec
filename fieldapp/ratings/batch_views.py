"""A village's ratings: the results page (counts, grade distribution as a server-rendered SVG, the list) and the
batch that rates every household with an accepted file through the job queue (issue 5 item 6)."""
from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import sqlalchemy as sa
from flask import request
from flask_babel import gettext as _
from flask_login import current_user

from ..core import access, jobs
from ..core.idempotency import idempotent
from ..core.money import format_yuan
from ..core.web import redirect_to, render
from ..extensions import db
from ..households.models import Household
from ..org.models import Village, VillageGroup
from . import bp, rules, services
from .models import Rating

RESULTS_READ = frozenset({"hq_admin", "branch_manager", "grid_officer", "village_secretary", "auditor"})
BATCH_WRITE = frozenset({"grid_officer", "branch_manager"})
PER_PAGE = 25
MAX_PAGE = 100_000
BELOW_MARK = 60  # RT-6: below the lowest grade (default model) a household is not rated

# The chart: one horizontal bar per grade, label left, count right (viewBox units; the SVG scales to the width).
CHART_LABEL_W = 110
CHART_BAR_W = 170
CHART_ROW_H = 36
CHART_BAR_H = 24
GRADE_FILLS = {"excellent": "#0b5d3b", "good": "#2f7d5a", "fair": "#6b8f3a", "not_rated": "#8a0000"}


@dataclass
class Bar:
    code: str
    label: str
    count: int
    width: int  # viewBox units
    y: int


@dataclass
class Summary:
    total: int
    by_status: list[tuple[str, str, int]]  # (code, label, count)
    by_grade: list[Bar]
    vetoed: int
    below_mark: int
    chart_height: int


def _live(stmt: sa.Select, village_id: int) -> sa.Select:
    """Limit a Rating query to the village's current (live) ratings the user may see."""
    stmt = stmt.where(Rating.village_id == village_id, Rating.live_household_id.is_not(None))
    return access.scoped(stmt, Rating)


def summarise(rows) -> dict:
    """Counts from (status, grade, final_score, vetoes) rows: by status, by grade, vetoed and below the mark."""
    by_status: dict[str, int] = {}
    by_grade: dict[str, int] = {g: 0 for g in rules.GRADES}
    vetoed = below = 0
    for status, grade, final_score, vetoes in rows:
        by_status[status] = by_status.get(status, 0) + 1
        by_grade[grade] = by_grade.get(grade, 0) + 1
        if vetoes:
            vetoed += 1
        elif Decimal(str(final_score)) < BELOW_MARK:
            below += 1
    return {"by_status": by_status, "by_grade": by_grade, "vetoed": vetoed, "below_mark": below}


def village_summary(village_id: int) -> Summary:
    effective_grade = sa.func.coalesce(Rating.approved_grade, Rating.grade)
    rows = db.session.execute(_live(sa.select(Rating.status, effective_grade, Rating.final_score, Rating.vetoes),
                                    village_id)).all()
    counts = summarise(rows)
    top = max(counts["by_grade"].values(), default=0)
    bars = []
    for i, code in enumerate(rules.GRADES):
        n = counts["by_grade"].get(code, 0)
        width = round(CHART_BAR_W * n / top) if top else 0
        bars.append(Bar(code, _(rules.GRADE_LABELS[code]), n, max(width, 2 if n else 0), i * CHART_ROW_H))
    statuses = [(code, _(rules.STATUS_LABELS.get(code, code)), n)
                for code in rules.STATUSES if (n := counts["by_status"].get(code, 0))]
    return Summary(total=len(rows), by_status=statuses, by_grade=bars, vetoed=counts["vetoed"],
                   below_mark=counts["below_mark"], chart_height=len(bars) * CHART_ROW_H)


@dataclass
class Row:
    id: int
    head_name: str
    group_name: str
    score: str
    grade: str
    line: str
    status: str
    vetoed: bool


def village_rows(village_id: int, *, page: int, grade: str, status: str):
    """One page of the village's current ratings with the head's name and the group (two statements)."""
    stmt = _live(sa.select(Rating).join(Household, Household.id == Rating.household_id), village_id)
    if grade:
        stmt = stmt.where(sa.func.coalesce(Rating.approved_grade, Rating.grade) == grade)
    if status:
        stmt = stmt.where(Rating.status == status)
    stmt = stmt.order_by(Rating.final_score.desc(), Household.code, Rating.id)
    result = db.paginate(stmt, page=page, per_page=PER_PAGE, error_out=False)
    names = {}
    if result.items:
        names = {hid: (head, group) for hid, head, group in db.session.execute(
            sa.select(Household.id, Household.head_name, VillageGroup.name)
            .outerjoin(VillageGroup, VillageGroup.id == Household.group_id)
            .where(Household.id.in_([r.household_id for r in result.items])))}
    rows = []
    for r in result.items:
        head, group = names.get(r.household_id, ("", ""))
        rows.append(Row(id=r.id, head_name=head or "", group_name=group or "", score=str(r.final_score),
                        grade=_(rules.GRADE_LABELS.get(r.effective_grade, r.effective_grade)),
                        line=_("%(amount)s yuan", amount=format_yuan(r.effective_line_fen)),
                        status=_(rules.STATUS_LABELS.get(r.status, r.status)), vetoed=bool(r.vetoes)))
    return result, rows


def households_to_rate(village: Village) -> list[int]:
    """The village's unrated accepted households, limited to those the user covers (a grid may hold single groups)."""
    ids = services.village_households_to_rate(village.id)
    if access.sees_whole_village(village) or not ids:
        return ids
    visible = set(db.session.scalars(access.scoped(
        sa.select(Household.id).where(Household.village_id == village.id), Household)))
    return [i for i in ids if i in visible]


def start(village: Village, idem: str | None) -> jobs.Job | None:
    """Queue the batch (None when nobody is left to rate); one job per request key."""
    ids = households_to_rate(village)
    if not ids:
        return None
    return services.start_batch(village.id, user_id=current_user.id, idem=idem, household_ids=ids)


def _filters() -> tuple[str, str]:
    grade = request.args.get("grade", "")
    status = request.args.get("status", "")
    return (grade if grade in rules.GRADES else "", status if status in rules.STATUSES else "")


@bp.get("/villages/<int:village_id>/ratings")
@access.policy(read=RESULTS_READ)
def village_ratings(village_id: int):
    """The village's current ratings: counts by status, the grade distribution, vetoes, below 60, and the list."""
    village = access.get_or_404(Village, village_id)
    grade, status = _filters()
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    result, rows = village_rows(village.id, page=page, grade=grade, status=status)
    may_batch = current_user.has_role(*BATCH_WRITE)
    return render("ratings/village.html", "ratings/_village_rows.html", village=village,
                  summary=village_summary(village.id), result=result, rows=rows,
                  filters={"grade": grade, "status": status}, grades=rules.GRADES, statuses=rules.STATUSES,
                  grade_labels=rules.GRADE_LABELS, status_labels=rules.STATUS_LABELS,
                  to_rate=len(households_to_rate(village)) if may_batch else 0, may_batch=may_batch,
                  fills=GRADE_FILLS, chart=dict(label_w=CHART_LABEL_W, bar_w=CHART_BAR_W, row_h=CHART_ROW_H,
                                                bar_h=CHART_BAR_H), below_mark=BELOW_MARK)


@bp.post("/villages/<int:village_id>/ratings/batch")
@access.policy(read=BATCH_WRITE, write=BATCH_WRITE)
@idempotent
def village_batch(village_id: int):
    """Rate every household of the village with an accepted file and no rating on it yet, as a resumable job."""
    village = access.get_or_404(Village, village_id)
    job = start(village, request.form.get("idem_key"))
    if job is None:
        return redirect_to("ratings.village_ratings", _("Every household with an accepted file is already rated."),
                           village_id=village.id)
    return redirect_to("core.job", _("Rating started: %(count)d households.", count=len(job.params["household_ids"])),
                       job_id=job.id)
