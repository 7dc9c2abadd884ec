"""Roster import pages: the template, upload → row-by-row preview (nothing written), commit of the valid rows.

The parsed upload waits for the commit in a file under instance/imports/ keyed by an unguessable token bound to
the uploader (importer.UploadStore), never in process memory. The commit checks every row again against the
database as it is then and the importer's area as it is then, and writes only the rows that are still "ok":
households are recognised by (village, head's ID hash) and members by their ID hash, so a second import of the
same file writes nothing.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import abort, current_app, make_response, send_file
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_login import current_user
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..core import access, clock
from ..core.forms import IdemKeyField
from ..core.idempotency import idempotent
from ..core.masking import mask_id_number, mask_name
from ..core.web import error_response, redirect_to, render
from ..extensions import db
from ..org.models import Village
from . import bp, importer
from .models import Household, Member
from .rules import search_keys

IMPORTERS = frozenset({"grid_officer", "branch_manager", "hq_admin"})
SHOW_ROWS = 200  # rows of each status listed on the preview page; the downloadable report has them all
XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STATUS_LABELS = {"ok": _l("To import"), "exists": _l("Already registered"), "error": _l("Error")}


class ImportForm(FlaskForm):
    file = FileField(_l("Roster file (.xlsx or .csv)"))


class CommitForm(FlaskForm):
    idem_key = IdemKeyField()


def _lang() -> str:
    return "en" if str(get_locale() or "zh_CN").startswith("en") else "zh"


def _store() -> importer.UploadStore:
    return importer.UploadStore(Path(current_app.instance_path) / "imports")


# ---------------------------------------------------------------- what the checks need from the database

def village_refs() -> list[importer.VillageRef]:
    """The villages an importer may name: those of the counties they work in, each marked with what is in their
    area (the whole village, or single groups), so a row elsewhere in the county says "not in your area"."""
    from ..org import services as org_services
    visible = {row.village.id: row for row in org_services.visible_villages()}
    county_ids = {row.village.county_id for row in visible.values()} | access.current_area().county_ids
    if not county_ids:
        return []
    villages = db.session.scalars(sa.select(Village).where(Village.county_id.in_(county_ids))
                                  .options(selectinload(Village.groups)).order_by(Village.stat_code))
    refs = []
    for v in villages:
        row = visible.get(v.id)
        whole = row is not None and not row.partial
        seen = {g.id for g in access.groups_visible_in(v)} if row is not None else set()
        groups = tuple(importer.GroupRef(g.id, g.name, whole or g.id in seen) for g in v.groups)
        refs.append(importer.VillageRef(v.id, v.county_id, v.name, v.stat_code, whole, groups))
    return refs


def find_existing(hashes: list[str]) -> dict[str, importer.Existing]:
    """Members already registered under these ID hashes, bank-wide (one member per ID per bank), with where they
    are: only a village name and a masked head name ever reach the page."""
    found: dict[str, importer.Existing] = {}
    for start in range(0, len(hashes), 500):
        chunk = hashes[start:start + 500]
        stmt = (sa.select(Member.id_hash, Member.id, Member.household_id, Household.village_id, Member.is_head,
                          Village.name, Household.head_name)
                .join(Household, Household.id == Member.household_id)
                .join(Village, Village.id == Household.village_id)
                .where(Member.id_hash.in_(chunk)))
        for h, member_id, household_id, village_id, is_head, village_name, head_name in db.session.execute(stmt):
            found[h] = importer.Existing(member_id, household_id, village_id, bool(is_head), village_name,
                                         mask_name(head_name or ""))
    return found


def check(rows: list[importer.RawRow]) -> list[importer.RowResult]:
    from .services import id_hash
    return importer.validate_rows(rows, villages=village_refs(), today=clock.today(), hash_id=id_hash,
                                  find_existing=find_existing)


# ---------------------------------------------------------------- what the pages show

@dataclass(frozen=True)
class ReportRow:
    row_no: int
    status: str
    status_label: str
    name: str
    head_name: str
    place: str
    id_masked: str
    messages: list[str]
    codes: list[str]


def report_rows(results: list[importer.RowResult]) -> list[ReportRow]:
    lang = _lang()
    rows = []
    for r in results:
        place = (r.village.name if r.village else "") + (r.group.name if r.group else "")
        number = r.id_info.number if r.id_info else r.id_display
        rows.append(ReportRow(r.row_no, r.status, str(STATUS_LABELS[r.status]), r.name, r.head_name, place,
                              mask_id_number(number) if number else "", [p.message(lang) for p in r.problems],
                              [p.code for p in r.problems]))
    return rows


def _report_context(results, token: str | None, filename: str) -> dict:
    rows = report_rows(results)
    summary = importer.summarise(results)
    by_status = {s: [r for r in rows if r.status == s] for s in ("error", "ok", "exists")}
    return {"summary": summary, "errors": by_status["error"][:1000], "ok_rows": by_status["ok"][:SHOW_ROWS],
            "exists_rows": by_status["exists"][:SHOW_ROWS], "token": token, "filename": filename,
            "commit_form": CommitForm(), "show_rows": SHOW_ROWS}


# ---------------------------------------------------------------- writing the valid rows

def _next_codes(villages: set[tuple[int, str]]) -> dict[int, int]:
    """The last used sequence number of `<village stat_code>-<seq>` codes, per village."""
    from .services import last_household_seq
    return {village_id: last_household_seq(stat_code) for village_id, stat_code in villages}


def _member(r: importer.RowResult, county_id: int, position: int) -> Member:
    from .services import id_hash
    info = r.id_info
    pinyin, initials = search_keys(r.name)
    return Member(county_id=county_id, position=position, is_head=r.is_head, name=r.name, name_pinyin=pinyin,
                  name_initials=initials, id_number=info.number, id_hash=id_hash(info.number),
                  id_last4=info.number[-4:], sex=info.sex, birth_date=info.birth_date, relation=r.relation,
                  ethnicity=r.ethnicity, education=r.education, labour_capacity=r.labour, mobile=r.mobile,
                  mobile_last4=r.mobile[-4:] if r.mobile else None)


def write_plans(plans: list[importer.HouseholdPlan]) -> tuple[int, int]:
    """Create the new households and members (the session listener audits each); returns (households, members)."""
    last = _next_codes({(p.village.id, p.village.stat_code) for p in plans if p.household_id is None})
    households = members = 0
    for plan in plans:
        if plan.household_id is None:
            head = plan.head
            last[plan.village.id] += 1
            group = plan.group
            household = Household(county_id=plan.village.county_id, village_id=plan.village.id,
                                  group_id=group.id if group else None,
                                  code=f"{plan.village.stat_code}-{last[plan.village.id]:04d}",
                                  head_name=head.name, address=plan.village.name + (group.name if group else ""),
                                  phone=head.mobile, file_status="new", tags=[], declared_none=[])
            db.session.add(household)
            rows = [head, *plan.members]
            start = 0
            households += 1
        else:
            household = db.session.scalar(access.scoped(
                sa.select(Household).where(Household.id == plan.household_id), Household))
            if household is None:
                continue  # registered in a group outside the importer's area: leave it to its own officer
            rows = plan.members
            start = max((m.position for m in household.members), default=-1) + 1
            household.updated_at = clock.utcnow_naive()
        for offset, r in enumerate(rows):
            household.members.append(_member(r, household.county_id, start + offset))
            members += 1
    db.session.flush()
    return households, members


# ---------------------------------------------------------------- views

@bp.get("/households/import")
@access.policy(read=IMPORTERS, write=IMPORTERS)
def import_form():
    """Upload a roster (.xlsx from the template, or CSV); nothing is written before the preview is confirmed."""
    return render("households/import.html", "households/_import_form.html", form=ImportForm())


@bp.get("/households/import/template.xlsx")
@access.policy(read=IMPORTERS)
def import_template():
    """The .xlsx template with text-formatted ID and mobile columns."""
    buffer = io.BytesIO()
    importer.template_workbook().save(buffer)
    buffer.seek(0)
    return send_file(buffer, mimetype=XLSX_MIME, as_attachment=True, download_name="花名册导入模板.xlsx",
                     max_age=0)


@bp.post("/households/import")
@access.policy(read=IMPORTERS, write=IMPORTERS)
def import_preview():
    """Read the upload and report row by row what a commit would do; the parsed rows wait under a token."""
    form = ImportForm()
    storage = form.file.data if form.validate_on_submit() else None
    if storage is None or not getattr(storage, "filename", None):
        form.file.errors = [*form.file.errors, _("Choose the roster file to upload.")]
        return render("households/import.html", "households/_import_form.html", status=422, form=form)
    data = storage.read(importer.MAX_BYTES + 1)
    try:
        rows = importer.read_roster(data, storage.filename or "")
    except importer.RosterFileError as exc:
        form.file.errors = [*form.file.errors, exc.problem.message(_lang())]
        return render("households/import.html", "households/_import_form.html", status=422, form=form)
    results = check(rows)
    filename = Path(storage.filename or "").name[:200]
    token = _store().save(current_user.id, filename, rows)
    db.session.rollback()  # a preview writes nothing
    return render("households/import_preview.html", "households/_import_report.html",
                  **_report_context(results, token, filename))


def _load(token: str) -> tuple[str, list[importer.RawRow]]:
    loaded = _store().load(token, current_user.id)
    if loaded is None:
        abort(404)
    return loaded


@bp.post("/households/import/<token>/commit")
@access.policy(read=IMPORTERS, write=IMPORTERS)
@idempotent
def import_commit(token: str):
    """Write the rows that are (still) valid; rows already registered are skipped, so a repeat changes nothing."""
    _filename, rows = _load(token)
    results = check(rows)
    plans = importer.plan_writes(results)
    try:
        households, members = write_plans(plans)
    except IntegrityError:
        db.session.rollback()
        return error_response(409, _("Someone registered some of these people at the same moment. "
                                     "Upload the file again to see what is left to import."))
    skipped = sum(1 for r in results if r.status != "ok")
    return redirect_to("households.import_form",
                       _("Imported %(households)d new households and %(members)d members; %(skipped)d rows "
                         "skipped (already registered or with errors).",
                         households=households, members=members, skipped=skipped))


def _cell(value: str) -> str:
    """A CSV cell Excel will not run as a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@bp.get("/households/import/<token>/report.csv")
@access.policy(read=IMPORTERS)
def import_report(token: str):
    """The row-by-row report as CSV (UTF-8 with BOM, so Excel opens it), checked against the database now."""
    _filename, rows = _load(token)
    results = check(rows)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([_("Row"), _("Status"), _("Member"), _("Head of household"), _("Village and group"),
                     _("ID number"), _("Problems")])
    for r in report_rows(results):
        writer.writerow([r.row_no, r.status_label, *(_cell(v) for v in (r.name, r.head_name, r.place, r.id_masked,
                                                                         " ".join(r.messages)))])
    resp = make_response("\ufeff" + out.getvalue())
    resp.headers["Content-Type"] = "text/csv; charset=utf-8"
    resp.headers["Content-Disposition"] = "attachment; filename=import-report.csv"
    return resp
