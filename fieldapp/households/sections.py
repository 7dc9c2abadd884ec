"""The credit-file sections other than members (land, livestock, assets, income, expenses, debts, insurance,
negative records), one short screen each, and the dated LPR table behind the private-lending cap (PL-2).

Rows are reached only through a household loaded in scope (access.get_or_404). Every change bumps the
household's version (the optimistic lock the edit forms carry) and goes through workflow.note_change, which
opens a new draft version when the file was already accepted. Debts get their annual rate, lawful cap and
flags from rules.assess_debt on every save; the flags are warnings, never a refusal.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import click
import sqlalchemy as sa
from flask import abort, request
from flask.cli import AppGroup
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from ..core import access, clock
from ..core.idempotency import idempotent
from ..core.masking import mask_name
from ..core.money import format_yuan
from ..core.web import redirect_to, render, wants_fragment
from ..extensions import db
from . import bp, rules, services, workflow
from . import section_forms as sf
from .models import Debt, Household, LprRate

CREDIT_READ = frozenset({"hq_admin", "branch_manager", "grid_officer", "auditor"})
CREDIT_WRITE = frozenset({"hq_admin", "branch_manager", "grid_officer"})
CREDITOR_FULL = frozenset({"grid_officer", "branch_manager"})  # §4.3: lender names in full on R2/R3 file pages
LPR_READ = frozenset({"hq_admin", "branch_manager", "grid_officer", "auditor"})
LPR_WRITE = frozenset({"hq_admin"})
SECTIONS = tuple(sf.FORMS)  # land … negative (members have their own pages)
PAGE = "households/section.html"
FRAGMENT = "households/_section.html"
N_ = rules.N_
ERRORS = {
    "not_active": N_("This household has moved out; it can no longer be changed."),
    "has_rows": N_("This section has rows. Remove them before marking it as none."),
    "ask_private": N_("Ask explicitly whether the household has private loans (有无民间借款), then tick the box."),
    "under_review": N_("This file is being reviewed. It can be changed once the branch manager accepts or "
                       "returns it."),
}


# ---------------------------------------------------------------- the LPR table (data, edited by head office)

def lpr_table() -> list[tuple]:
    """(effective_on, one_year %, five_year %) rows from the database by date; the built-in table if it is empty."""
    rows = db.session.execute(sa.select(LprRate.effective_on, LprRate.one_year, LprRate.five_year)
                              .order_by(LprRate.effective_on)).all()
    return [tuple(r) for r in rows] if rows else list(rules.DEFAULT_LPR_TABLE)


def ensure_lpr_seeded() -> int:
    """Insert rules.DEFAULT_LPR_TABLE when the LPR table is empty (demo loader, `flask lpr seed`); returns rows added.

    Flushes, never commits.
    """
    if db.session.scalar(sa.select(sa.func.count()).select_from(LprRate)):
        return 0
    for effective_on, one_year, five_year in rules.DEFAULT_LPR_TABLE:
        db.session.add(LprRate(effective_on=effective_on, one_year=one_year, five_year=five_year))
    db.session.flush()
    return len(rules.DEFAULT_LPR_TABLE)


lpr_cli = AppGroup("lpr", help="The dated loan prime rate table behind the private-lending cap.")


@lpr_cli.command("seed")
def lpr_seed_command() -> None:
    """Fill an empty LPR table with the published one-year and five-year rates since 2019-08-20."""
    added = ensure_lpr_seeded()
    db.session.commit()
    click.echo(f"lpr: {added} rows added" if added else "lpr: table already has rows; nothing added")


# ---------------------------------------------------------------- how rows are shown

@dataclass
class RowView:
    """One row as the page prints it: a title line, labelled facts and warnings (all strings, already formatted)."""

    id: int
    title: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    source: str = ""


def yuan(fen: int | None) -> str:
    return "—" if fen is None else _("%(amount)s yuan", amount=format_yuan(int(fen)))


def percent(rate: Decimal | None) -> str:
    """An annual fraction (0.24) as "24.00%"."""
    return "—" if rate is None else f"{(Decimal(rate) * 100).quantize(Decimal('0.01'))}%"


def _day(value: date | None) -> str:
    return value.isoformat() if value else "—"


def _label(labels: dict, code) -> str:
    return str(labels.get(code, code or "—"))


def _yes(flag: bool) -> str:
    return _("Yes") if flag else _("No")


def debt_warnings(row: Debt) -> list[str]:
    """The stored flags as sentences, plus what stops the cap check (no date, no LPR row)."""
    out = [_(rules.DEBT_FLAG_MESSAGES[f]) for f in row.flags or [] if f in rules.DEBT_FLAG_MESSAGES]
    if "over_cap" in (row.flags or []) and row.cap_rate is not None:
        out[out.index(_(rules.DEBT_FLAG_MESSAGES["over_cap"]))] = _(
            "Rate %(rate)s a year is above the lawful cap of %(cap)s", rate=percent(row.annual_rate),
            cap=percent(row.cap_rate))
    if "head_interest" in (row.flags or []) and row.principal_received_fen is not None:
        out[out.index(_(rules.DEBT_FLAG_MESSAGES["head_interest"]))] = _(
            "Interest deducted up front (砍头息): %(written)s written, %(received)s received; the principal is "
            "what was received", written=yuan(row.principal_written_fen), received=yuan(row.principal_received_fen))
    if row.kind in rules.CAPPED_KINDS:
        if row.contract_date is None:
            out.append(_("Enter the contract date to check the rate against the lawful cap."))
        elif row.cap_rate is None:
            out.append(_("No LPR is recorded for this contract date; ask head office to add it to the LPR table."))
        if row.rate_value is None:
            out.append(_("Enter the stated interest rate, or 0 if there is none."))
    return out


def describe(name: str, row, members: dict[int, str] | None = None, creditor_full: bool = True) -> RowView:
    """A row of section `name` as strings for the page (money as yuan, rates as percent, codes as labels)."""
    view = RowView(id=row.id, title="", source=_label(sf.SOURCES, row.source))
    facts = view.facts
    if name == "land":
        view.title = _("%(type)s · %(area)s mu · %(tenure)s", type=_label(sf.LAND_TYPES, row.land_type),
                       area=f"{Decimal(row.area_mu).normalize():f}", tenure=_label(sf.TENURES, row.tenure))
        facts += [(_("Certificate"), row.certificate_no or "—"), (_("Counterparty"), row.counterparty or "—"),
                  (_("Rent per mu per year"), yuan(row.rent_per_mu_year_fen)),
                  (_("Mortgaged or pledged"), _yes(row.encumbered))]
    elif name == "livestock":
        view.title = _("%(species)s · %(count)d head", species=_label(sf.SPECIES, row.species), count=row.head_count)
        facts += [(_("Breeding stock"), str(row.breeding_count)), (_("Insured"), _yes(row.insured))]
    elif name == "assets":
        view.title = _("%(type)s · %(value)s", type=_label(sf.ASSET_TYPES, row.asset_type), value=yuan(row.value_fen))
        facts += [(_("Description"), row.description or "—"), (_("Can be pledged"), _yes(row.pledgeable))]
    elif name == "income":
        net = row.gross_fen - (row.cost_fen or 0)
        view.title = _("%(year)d %(source)s · net %(net)s", year=row.year,
                       source=_label(sf.INCOME_SOURCES, row.income_source), net=yuan(net))
        facts += [(_("Gross"), yuan(row.gross_fen)), (_("Costs"), yuan(row.cost_fen or 0)), (_("Net"), yuan(net))]
    elif name == "expenses":
        view.title = _("%(year)d %(category)s · %(amount)s", year=row.year,
                       category=_label(sf.EXPENSE_CATEGORIES, row.category), amount=yuan(row.amount_fen))
    elif name == "insurance":
        view.title = _label(sf.INSURANCE_TYPES, row.insurance_type) + (f" · {row.insurer}" if row.insurer else "")
        facts += [(_("Sum insured"), yuan(row.sum_insured_fen)),
                  (_("Cover"), f"{_day(row.period_from)} – {_day(row.period_to)}")]
    elif name == "debts":
        creditor = row.creditor_name or ""
        if creditor and not creditor_full:
            creditor = mask_name(creditor)
        owed = row.balance_fen if row.balance_fen is not None else row.principal_written_fen
        view.title = " · ".join(p for p in (_label(sf.DEBT_KINDS, row.kind), creditor, yuan(owed)) if p)
        rate = "—"
        if row.rate_value is not None:
            rate = f"{Decimal(row.rate_value).normalize():f} {_label(sf.RATE_UNITS_SHORT, row.rate_unit)}"
        facts += [(_("Lender type"), _label(sf.LENDER_TYPES, row.lender_type) if row.lender_type else "—"),
                  (_("Written on the IOU"), yuan(row.principal_written_fen)),
                  (_("Actually received"), yuan(row.principal_received_fen)),
                  (_("Balance"), yuan(row.balance_fen)),
                  (_("Contract date"), _day(row.contract_date)), (_("Due date"), _day(row.maturity)),
                  (_("Stated rate"), rate), (_("Annual rate (normalised)"), percent(row.annual_rate)),
                  (_("Lawful cap"), percent(row.cap_rate)),
                  (_("Written contract"), _yes(row.written_contract)),
                  (_("Collateral"), row.collateral or "—"),
                  (_("Status"), _label(sf.DEBT_STATUSES, row.status))]
        if row.contract_date and row.contract_date < rules.LPR_REFORM_DATE and row.kind in rules.CAPPED_KINDS:
            facts.append((_("Old rule"), _("Contract before 2020-08-20: 24% a year applies to interest until "
                                          "2020-08-19; later interest is judged against 4 × the LPR when a case "
                                          "is filed.")))
        view.warnings = debt_warnings(row)
    elif name == "negative":
        view.title = _label(sf.NEGATIVE_CATEGORIES, row.category)
        who = (members or {}).get(row.member_id) if row.member_id else None
        facts += [(_("Member"), who or _("The household")), (_("Evidence"), row.evidence)]
    if row.note:
        facts.append((_("Note"), row.note))
    return view


# ---------------------------------------------------------------- loading

def _household(household_id: int) -> Household:
    return access.get_or_404(Household, household_id)


def _section(name: str) -> str:
    if name not in SECTIONS:
        abort(404)
    return name


def _model(name: str):
    return services.SECTION_MODELS[name]


def _rows(h: Household, name: str) -> list:
    model = _model(name)
    return list(db.session.scalars(sa.select(model).where(model.household_id == h.id).order_by(model.id)))


def _row(h: Household, name: str, row_id: int):
    """A row of this (already scoped) household, or None."""
    model = _model(name)
    return db.session.scalar(sa.select(model).where(model.household_id == h.id, model.id == row_id))


def _land_choices(h: Household) -> list[tuple[str, str]]:
    return [(str(r.id), describe("land", r).title) for r in _rows(h, "land")]


def _member_choices(h: Household) -> list[tuple[str, str]]:
    return [(str(m.id), m.name) for m in h.members]


def _form_kwargs(h: Household, name: str) -> dict:
    if name == "debts":
        return {"land_choices": _land_choices(h)}
    if name == "negative":
        return {"member_choices": _member_choices(h)}
    return {}


def new_add_form(h: Household, name: str, formdata=None):
    return sf.ADD_FORMS[name](formdata=formdata, **_form_kwargs(h, name))


def _edit_form_for(h: Household, name: str, row):
    """The edit form filled from the row (money shown as yuan), carrying the household's version."""
    columns = sf.FIELD_COLUMNS.get(name, {})
    cls = sf.EDIT_FORMS[name]
    data = {}
    for f in cls(formdata=None, **_form_kwargs(h, name)):
        if f.name in ("csrf_token", "version", "reference_rent"):
            continue
        column = columns.get(f.name, f.name)
        if hasattr(row, column):
            value = getattr(row, column)
            if f.name in ("offset_land_id", "member_id"):
                value = "" if value is None else str(value)
            if name == "debts" and f.name == "creditor_name" and not _creditor_full():
                value = ""  # masked roles type a new name, or leave it empty to keep the saved one
            data[f.name] = value
    form = cls(formdata=None, data=data, **_form_kwargs(h, name))
    form.version.data = str(h.version)
    return form


def _creditor_full() -> bool:
    return current_user.has_role(*CREDITOR_FULL)


def _members_by_id(h: Household) -> dict[int, str]:
    return {m.id: m.name for m in h.members}


# ---------------------------------------------------------------- page context

def section_context(h: Household, name: str, *, form=None, edit_row=None, edit_form=None, conflict=None,
                    message: str | None = None, error: str | None = None, none_form=None) -> dict:
    rows = _rows(h, name)
    members = _members_by_id(h) if name == "negative" else None
    full = _creditor_full()
    views = [describe(name, r, members, full) for r in rows]
    declared = name in (h.declared_none or [])
    state = rules.section_state(len(rows), declared)
    if none_form is None:
        none_form = sf.NoneForm(formdata=None)
        none_form.version.data = str(h.version)
    hints = {}
    if name == "debts":
        hints["rate_value"] = _("As stated: 月息2分 is 2 with the unit fen per month; an annual rate of 8 percent is 8 with percent per year.")
        hints["principal_received"] = _("If interest was deducted when the money was handed over (砍头息), enter "
                                        "what was actually received.")
        hints["reference_rent"] = _("Only for land leased out to pay this debt: the usual rent per mu nearby, to "
                                    "check the offset. Not stored.")
        if not full:
            hints["creditor_name"] = _("Leave empty to keep the saved name.")
    return dict(
        household=h, name=name, hints=hints, title=_(rules.SECTION_LABELS[name]), rows=views, state=state,
        form=form if form is not None else (None if edit_row is not None else new_add_form(h, name)),
        edit_row=edit_row, edit_view=next((v for v in views if edit_row is not None and v.id == edit_row.id), None),
        edit_form=edit_form, conflict=conflict, message=message, error=error, none_form=none_form,
        comment=workflow.review_comments(h).get(name), file=workflow.file_summary(h),
        writable=access.can_write() and h.status == "active",
        sections=[(s, _(rules.SECTION_LABELS[s])) for s in SECTIONS])


def _page(h: Household, name: str, status: int = 200, **kwargs):
    return render(PAGE, FRAGMENT, status=status, **section_context(h, name, **kwargs))


def _done(h: Household, name: str, message: str):
    """After a change: the section fragment for htmx (and the outbox), Post/Redirect/Get otherwise."""
    if wants_fragment():
        return _page(h, name, message=message)
    return redirect_to("households.section", message, household_id=h.id, name=name)


def _blocked(h: Household) -> str | None:
    """Why this household's sections can't change now, or None."""
    if h.status != "active":
        return _(ERRORS["not_active"])
    if not workflow.may_change(h):
        return _(ERRORS["under_review"])
    return None


# ---------------------------------------------------------------- writing rows

def _apply(h: Household, name: str, row, values: dict, form) -> None:
    """Assign the cleaned values; for debts also the annual rate, the lawful cap and the flags (PL-2..PL-4)."""
    previous_offset, previous_flags = getattr(row, "offset_land_id", None), list(getattr(row, "flags", None) or [])
    if name == "debts" and not _creditor_full() and not values.get("creditor_name") and row.id is not None:
        values["creditor_name"] = row.creditor_name  # masked roles leave it empty to keep it
    for key, value in values.items():
        setattr(row, key, value)
    if name == "debts":
        offset_rent = None
        if row.offset_land_id is not None:
            land = _row(h, "land", row.offset_land_id)
            offset_rent = land.rent_per_mu_year_fen if land is not None else None
        reference = form.reference_rent.fen
        result = rules.assess_debt(
            kind=row.kind, principal_written=row.principal_written_fen, principal_received=row.principal_received_fen,
            rate_value=row.rate_value, rate_unit=row.rate_unit, contract_date=row.contract_date,
            written_contract=row.written_contract, table=lpr_table(), today=clock.today(),
            offset_rent_per_mu=offset_rent, reference_rent_per_mu=reference)
        flags = list(result.flags)
        # The reference rent is not stored: an edit that leaves it empty keeps an earlier below-market finding.
        if (reference is None and "below_market_offset" in previous_flags and row.offset_land_id is not None
                and row.offset_land_id == previous_offset and "below_market_offset" not in flags):
            flags.append("below_market_offset")
        row.annual_rate, row.cap_rate = result.annual_rate, result.cap
        row.flags = [f for f in rules.DEBT_FLAGS if f in flags]


def _unchanged(row, values: dict) -> bool:
    return all(getattr(row, k) == v for k, v in values.items())


def _changed(h: Household, name: str, touch: bool = True) -> None:
    """Any section change: clear its "无", bump the household's version (the edit forms' lock), move the file on."""
    if name in (h.declared_none or []):
        h.declared_none = [s for s in h.declared_none if s != name]
    if touch:
        services.touch(h)
    workflow.note_change(h)


# ---------------------------------------------------------------- views

@bp.get("/households/<int:household_id>/section/<name>")
@access.policy(read=CREDIT_READ)
def section(household_id: int, name: str):
    """One section of the credit file: its rows, an add form, and "none (无)"."""
    h = _household(household_id)
    return _page(h, _section(name))


@bp.post("/households/<int:household_id>/section/<name>/add")
@access.policy(read=CREDIT_WRITE, write=CREDIT_WRITE)
@idempotent
def section_add(household_id: int, name: str):
    """Add a row (idempotent: a repeated key adds once); adding clears "无". Bad input: 422, nothing saved."""
    h = _household(household_id)
    name = _section(name)
    form = new_add_form(h, name, formdata=request.form)
    error = _blocked(h)
    if error is None and form.validate_on_submit():
        row = _model(name)(household_id=h.id)
        try:
            _apply(h, name, row, form.values(), form)
            db.session.add(row)
            _changed(h, name, touch=False)  # an added row conflicts with nobody's edit form
            db.session.flush()
        except StaleDataError:
            db.session.rollback()
            return _page(_household(household_id), name, status=409, form=form, error=_(
                "Someone else changed this file at the same moment. Check the rows below and add again."))
        return _done(h, name, _("Added."))
    return _page(h, name, status=422, form=form, error=error)


@bp.route("/households/<int:household_id>/section/<name>/<int:row_id>", methods=["GET", "POST"])
@access.policy(read=CREDIT_WRITE, write=CREDIT_WRITE)
def section_edit(household_id: int, name: str, row_id: int):
    """Edit a row in place; a stale form (the household changed meanwhile) gets 409 with the saved values."""
    h = _household(household_id)
    name = _section(name)
    row = _row(h, name, row_id)
    if row is None:
        abort(404)
    if request.method == "GET":
        return _page(h, name, edit_row=row, edit_form=_edit_form_for(h, name, row))
    form = sf.EDIT_FORMS[name](formdata=request.form, **_form_kwargs(h, name))
    error = _blocked(h)
    conflict = False
    if error is None and form.validate_on_submit():
        values = form.values()
        if _unchanged(row, values) and not (name == "debts" and form.reference_rent.fen is not None):
            db.session.rollback()
            return _done(h, name, _("Saved."))  # nothing to change (a resent form): no conflict either
        if form.version.number != h.version:
            conflict = True
        else:
            try:
                _apply(h, name, row, values, form)
                _changed(h, name)
                db.session.commit()
            except StaleDataError:
                conflict = True
            else:
                return _done(h, name, _("Saved."))
    db.session.rollback()
    h = _household(household_id)
    row = _row(h, name, row_id)
    if row is None:
        abort(404)
    if conflict:
        form.version.data = str(h.version)
        current = describe(name, row, _members_by_id(h), _creditor_full())
        return _page(h, name, status=409, edit_row=row, edit_form=form, conflict=current)
    return _page(h, name, status=422, edit_row=row, edit_form=form, error=error)


@bp.post("/households/<int:household_id>/section/<name>/<int:row_id>/remove")
@access.policy(read=CREDIT_WRITE, write=CREDIT_WRITE)
def section_remove(household_id: int, name: str, row_id: int):
    """Remove a row; a row already gone counts as removed (a resent form), a stale form gets 409."""
    h = _household(household_id)
    name = _section(name)
    row = _row(h, name, row_id)
    if row is None:
        return _done(h, name, _("Removed."))
    form = sf.RemoveForm(formdata=request.form)
    error = _blocked(h)
    if error is None and form.validate_on_submit():
        if form.version.number != h.version:
            db.session.rollback()
            h = _household(household_id)
            return _page(h, name, status=409, error=_(
                "Someone else changed this file while you were looking at it. Check the rows below and remove "
                "again if needed."))
        try:
            db.session.delete(row)
            _changed(h, name)
            db.session.commit()
        except (StaleDataError, IntegrityError):
            db.session.rollback()
            return _page(_household(household_id), name, status=409, error=_(
                "Someone else changed this file at the same moment. Check the rows below."))
        return _done(h, name, _("Removed."))
    db.session.rollback()
    return _page(_household(household_id), name, status=422,
                 error=error or " ".join(str(e) for e in form.version.errors) or None)


@bp.post("/households/<int:household_id>/section/<name>/none")
@access.policy(read=CREDIT_WRITE, write=CREDIT_WRITE)
def section_none(household_id: int, name: str):
    """Mark the section "无" (none), or undo it. Debts need the private-loan question asked (V-2)."""
    h = _household(household_id)
    name = _section(name)
    form = sf.NoneForm(formdata=request.form)
    error = _blocked(h)
    if error is None and form.validate_on_submit():
        want_none = not form.undo.data
        declared = name in (h.declared_none or [])
        if want_none == declared:
            db.session.rollback()
            return _done(h, name, _("Marked as none.") if want_none else _("Mark removed."))
        if form.version.number != h.version:
            db.session.rollback()
            h = _household(household_id)
            return _page(h, name, status=409, error=_(
                "Someone else changed this file while you were looking at it. Check the section and try again."))
        if want_none and _rows(h, name):
            error = _(ERRORS["has_rows"])
        elif want_none and name == "debts" and not form.asked_private.data:
            error = _(ERRORS["ask_private"])
            form.asked_private.errors = [error]
        else:
            h.declared_none = ([*(h.declared_none or []), name] if want_none
                               else [s for s in h.declared_none if s != name])
            try:
                services.touch(h)
                workflow.note_change(h)
                db.session.commit()
            except StaleDataError:
                db.session.rollback()
                return _page(_household(household_id), name, status=409, error=_(
                    "Someone else changed this file at the same moment. Check the section and try again."))
            return _done(h, name, _("Marked as none.") if want_none else _("Mark removed."))
    db.session.rollback()
    h = _household(household_id)
    form.version.data = str(h.version)
    return _page(h, name, status=422, none_form=form,
                 error=error or " ".join(str(e) for e in form.version.errors) or None)


# ---------------------------------------------------------------- LPR admin

def _lpr_page(form=None, status: int = 200, error: str | None = None):
    rows = list(db.session.scalars(sa.select(LprRate).order_by(LprRate.effective_on.desc())))
    return render("households/lpr.html", "households/_lpr.html", status=status, rows=rows,
                  form=form or sf.LprForm(formdata=None), error=error,
                  may_edit=current_user.has_role(*LPR_WRITE), using_default=not rows,
                  default_rows=list(reversed(rules.DEFAULT_LPR_TABLE)) if not rows else [])


@bp.get("/admin/lpr")
@access.policy(read=LPR_READ)
def lpr_index():
    """The dated one-year LPR table behind the private-lending cap (4 × LPR at the contract date)."""
    return _lpr_page()


@bp.post("/admin/lpr")
@access.policy(read=LPR_READ, write=LPR_WRITE)
@idempotent
def lpr_add():
    """Add a dated LPR row (one per effective date, 0-20 %)."""
    form = sf.LprForm()
    if form.validate_on_submit():
        exists = db.session.scalar(sa.select(LprRate.id).where(LprRate.effective_on == form.effective_on.data))
        if exists:
            form.effective_on.errors.append(_("There is already a rate for this date. Remove it first."))
        else:
            db.session.add(LprRate(effective_on=form.effective_on.data, one_year=form.one_year.data,
                                   five_year=form.five_year.data))
            try:
                db.session.flush()
            except IntegrityError:
                db.session.rollback()
                form.effective_on.errors.append(_("There is already a rate for this date. Remove it first."))
            else:
                return redirect_to("households.lpr_index", _("Rate added."))
    return _lpr_page(form, status=422)


@bp.post("/admin/lpr/<int:rate_id>/remove")
@access.policy(read=LPR_READ, write=LPR_WRITE)
def lpr_remove(rate_id: int):
    """Remove a dated LPR row (debts keep the cap stored when they were saved)."""
    row = db.session.get(LprRate, rate_id)  # the LPR table is bank-wide reference data, not village-bound
    if row is None:
        abort(404)
    db.session.delete(row)
    db.session.commit()
    return redirect_to("households.lpr_index", _("Rate removed."))

