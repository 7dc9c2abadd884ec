"""Scoring model versions (hq_admin publishes, auditors read): the list, a readable view of one version's parameters,
and the form that publishes a new version prefilled from the one in force (issue 5 item 1, "versioned model").

The form has one input per number of the model, named by its path in the params dict ("indicators.income.bands.1.0");
lists of codes are comma-separated text. Posting rebuilds a dict of the same shape and types, and rules.model_problems
checks it before services.publish_model stores it. Ratings keep the version they were scored with.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import sqlalchemy as sa
from flask import abort, request
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy.exc import IntegrityError

from ..accounts.models import User
from ..core import access
from ..core.idempotency import idempotent
from ..core.web import redirect_to, render
from ..extensions import db
from . import bp, rules, services
from .models import Rating, ScoringModel

READ = frozenset({"hq_admin", "auditor"})
WRITE = frozenset({"hq_admin"})
NAME_MAX = 100
NOTE_MAX = 300
TEXT_MAX = 500
NUMBER_MAX_LEN = 20

# Sections of the form and the read view, by top-level key (anything else lands in "Other").
SECTIONS = (
    ("indicators", ("indicators",)),
    ("facts", ("labour_age", "labour_capacities", "asset_types", "livestock_prices", "verified_sources",
               "declared_income_factor", "debt_kinds", "history_kinds", "insurance_types")),
    ("bonuses", ("bonuses", "repeatable_bonuses", "bonus_cap", "deductions", "debt_income_limit",
                 "unverified_share")),
    ("grades", ("grades", "grade_caps", "product_caps", "poverty_tags", "income_multiple", "line_step",
                "preferential_grades")),
    ("approval", ("validity_months", "approval_limit_branch", "min_committee")),
)
SECTION_LABELS = {
    "indicators": rules.N_("Indicators, weights and bands"),
    "facts": rules.N_("How facts are counted"),
    "bonuses": rules.N_("Bonuses and deductions"),
    "grades": rules.N_("Grades and credit lines"),
    "approval": rules.N_("Validity, approval and committee"),
    "other": rules.N_("Other"),
}
N_ = rules.N_
PLAIN_LABELS = {  # English msgids for keys that are not built from a pattern
    "labour_age.0": N_("Labour age from (years)"),
    "labour_age.1": N_("Labour age up to (years)"),
    "labour_capacities": N_("Labour capacities that count"),
    "asset_types": N_("Asset types that count"),
    "verified_sources": N_("Income sources counted in full"),
    "declared_income_factor": N_("Share of self-declared income counted"),
    "debt_kinds": N_("Debt kinds counted as outstanding debt"),
    "history_kinds": N_("Debt kinds that show a borrowing history"),
    "insurance_types": N_("Insurance types that earn the bonus"),
    "repeatable_bonuses": N_("Bonuses counted once per recommendation"),
    "bonus_cap": N_("Bonus cap (points)"),
    "debt_income_limit": N_("Debt above this multiple of net income is deducted"),
    "unverified_share": N_("Deduct when self-declared income is above this share"),
    "poverty_tags": N_("Household tags for the poverty-alleviation product"),
    "income_multiple": N_("Line: multiple of net income"),
    "line_step": N_("Line rounded down to (yuan)"),
    "preferential_grades": N_("Grades with the preferential rate"),
    "validity_months": N_("Rating valid for (months)"),
    "approval_limit_branch": N_("Branch approval limit (yuan)"),
    "min_committee": N_("Smallest review committee"),
    "indicators.liabilities.else": N_("Liabilities: points above the last ratio"),
    "indicators.history.clean": N_("Credit history: points for a clean record"),
    "indicators.history.none": N_("Credit history: points with no borrowing history"),
}
BAND_FROM_LABELS = {
    "family": N_("%(indicator)s, band %(n)d: from (labour members)"),
    "assets": N_("%(indicator)s, band %(n)d: from (yuan)"),
    "income": N_("%(indicator)s, band %(n)d: from (yuan)"),
    "liabilities": N_("%(indicator)s, band %(n)d: debt to income up to"),
}


# ---------------------------------------------------------------- flatten and rebuild (pure)

@dataclass
class Field:
    key: str      # path in the params dict, dot-separated
    kind: str     # "number" | "list" (comma-separated codes) | "fixed" (a code kept as it is) | "text"
    value: str    # as shown in the form
    section: str

    @property
    def dom_id(self) -> str:
        return "m-" + self.key.replace(".", "-").replace("_", "-")


def _is_number(value) -> bool:
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, Decimal)):
        return True
    if isinstance(value, str):
        try:
            return Decimal(value).is_finite()
        except InvalidOperation:
            return False
    return False


def _section(key: str) -> str:
    top = key.split(".", 1)[0]
    for name, keys in SECTIONS:
        if top in keys:
            return name
    return "other"


def flatten(params: dict) -> list[Field]:
    """Every leaf of the model as a form field, in the model's own order."""
    out: list[Field] = []

    def walk(value, key: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{key}.{k}" if key else str(k))
        elif isinstance(value, list) and value and all(isinstance(v, str) and not _is_number(v) for v in value):
            out.append(Field(key, "list", ", ".join(value), _section(key)))
        elif isinstance(value, list) and not value:
            out.append(Field(key, "list", "", _section(key)))
        elif isinstance(value, list):
            for i, v in enumerate(value):
                walk(v, f"{key}.{i}")
        elif _is_number(value):
            out.append(Field(key, "number", str(value), _section(key)))
        elif isinstance(value, str) and key.split(".")[-1].isdigit():
            out.append(Field(key, "fixed", value, _section(key)))  # a code inside a pair, e.g. a grade's name
        else:
            out.append(Field(key, "text", "" if value is None else str(value), _section(key)))

    walk(params, "")
    return out


def _parse_number(text: str, original) -> int | str | None:
    """The entered number with the original's type: whole numbers stay ints, fractions (strings) stay strings."""
    text = (text or "").strip().replace("，", ",").replace(",", "")
    if not text or len(text) > NUMBER_MAX_LEN:
        return None
    try:
        number = Decimal(text)
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    if isinstance(original, str):
        return format(number.normalize(), "f") if number != number.to_integral_value() else str(int(number))
    if number == number.to_integral_value():
        return int(number)
    return format(number.normalize(), "f")  # rules read numbers from int or str, never float


def _split_codes(text: str) -> list[str]:
    parts = (text or "").replace("，", ",").replace("、", ",").split(",")
    return [p.strip() for p in parts if p.strip()]


def rebuild(base: dict, form) -> tuple[dict, dict[str, str], dict[str, str]]:
    """A new params dict shaped like `base` from the posted `form` (a mapping of field key -> text).

    Returns (params, entered values by key, errors by key); the errors are English msgids.
    """
    params = copy.deepcopy(base)
    entered: dict[str, str] = {}
    errors: dict[str, str] = {}
    for f in flatten(base):
        if f.kind == "fixed":
            continue
        raw = form.get(f.key)
        text = f.value if raw is None else str(raw).replace("\x00", "")[:TEXT_MAX]
        entered[f.key] = text
        parts = f.key.split(".")
        holder = params
        for p in parts[:-1]:
            holder = holder[int(p)] if isinstance(holder, list) else holder[p]
        last = int(parts[-1]) if isinstance(holder, list) else parts[-1]
        original = holder[last]
        if f.kind == "number":
            value = _parse_number(text, original)
            if value is None:
                errors[f.key] = N_("Enter a number.")
                continue
            holder[last] = value
        elif f.kind == "list":
            holder[last] = _split_codes(text)
        else:
            holder[last] = text.strip()
    return params, entered, errors


def label_for(key: str, params: dict | None = None) -> str:
    """The field's label in the user's language (`params` names the grades of "grades.<i>.1")."""
    parts = key.split(".")
    if key in PLAIN_LABELS:
        return _(PLAIN_LABELS[key])
    if parts[0] == "indicators" and len(parts) >= 3:
        code = parts[1]
        indicator = _(rules.INDICATOR_LABELS.get(code, code))
        if parts[2] == "weight":
            return _("%(indicator)s: weight", indicator=indicator)
        if parts[2] == "bands" and len(parts) == 5:
            n = int(parts[3]) + 1
            if parts[4] == "0":
                return _(BAND_FROM_LABELS.get(code, N_("%(indicator)s, band %(n)d: from")), indicator=indicator, n=n)
            return _("%(indicator)s, band %(n)d: points", indicator=indicator, n=n)
    if parts[0] == "livestock_prices" and len(parts) == 2:
        return _("Price per head of %(species)s (yuan)", species=parts[1])
    if parts[0] == "bonuses" and len(parts) == 2:
        return _("Bonus points: %(bonus)s", bonus=_(rules.BONUS_LABELS.get(parts[1], parts[1])))
    if parts[0] == "deductions" and len(parts) == 2:
        return _("Deduction points: %(deduction)s", deduction=_(rules.DEDUCTION_LABELS.get(parts[1], parts[1])))
    if parts[0] == "grades" and len(parts) == 3:
        try:
            code = str((params or {})["grades"][int(parts[1])][0])
        except (KeyError, IndexError, TypeError, ValueError):
            return _("Lowest score for grade %(n)d", n=int(parts[1]) + 1)
        return _("Lowest score for %(grade)s", grade=_(rules.GRADE_LABELS.get(code, code)))
    if parts[0] == "grade_caps" and len(parts) == 2:
        return _("Line cap for %(grade)s (yuan)", grade=_(rules.GRADE_LABELS.get(parts[1], parts[1])))
    if parts[0] == "product_caps" and len(parts) == 2:
        return _("Line cap of %(product)s (yuan)", product=_(rules.PRODUCT_LABELS.get(parts[1], parts[1])))
    return key


def sections_of(fields: list[Field]) -> list[tuple[str, list[Field]]]:
    order = [name for name, _keys in SECTIONS] + ["other"]
    grouped = {name: [f for f in fields if f.section == name and f.kind != "fixed"] for name in order}
    return [(_(SECTION_LABELS[name]), items) for name, items in grouped.items() if items]


# ---------------------------------------------------------------- views

def _ensure_current() -> ScoringModel:
    """The model in force; version 1 (the default model) is stored on first use."""
    first_use = db.session.scalar(sa.select(ScoringModel.id).limit(1)) is None
    model = services.current_model()
    if first_use:
        db.session.commit()
    return model


def _publishers(models) -> dict[int, str]:
    ids = {m.published_by for m in models if m.published_by}
    if not ids:
        return {}
    return dict(db.session.execute(sa.select(User.id, User.name).where(User.id.in_(ids))).all())


@bp.get("/admin/scoring-models")
@access.policy(read=READ)
def scoring_models():
    """Every published version of the scoring model, newest first."""
    current = _ensure_current()
    models = list(db.session.scalars(sa.select(ScoringModel).order_by(ScoringModel.version_no.desc())))
    used = dict(db.session.execute(sa.select(Rating.model_id, sa.func.count()).group_by(Rating.model_id)).all())
    return render("ratings/models.html", None, models=models, current=current, who=_publishers(models), used=used,
                  may_publish=current_user.has_role(*WRITE))


@bp.get("/admin/scoring-models/<int:model_id>")
@access.policy(read=READ)
def scoring_model(model_id: int):
    """One version's parameters in a readable table; values changed since the version before are marked."""
    model = db.session.get(ScoringModel, model_id)
    if model is None:
        abort(404)
    previous = db.session.scalar(sa.select(ScoringModel).where(ScoringModel.version_no < model.version_no)
                                 .order_by(ScoringModel.version_no.desc()).limit(1))
    before = {f.key: f.value for f in flatten(previous.params)} if previous is not None else {}
    fields = flatten(model.params)
    rows = [(title, [(label_for(f.key, model.params), f.value or "—",
                      previous is not None and before.get(f.key) != f.value) for f in items])
            for title, items in sections_of(fields)]
    used = db.session.scalar(sa.select(sa.func.count()).select_from(Rating).where(Rating.model_id == model.id))
    return render("ratings/model.html", None, model=model, rows=rows, previous=previous, used=used,
                  who=_publishers([model]).get(model.published_by), current=services.current_model())


def _form_context(base: ScoringModel, *, entered: dict[str, str] | None = None, errors: dict[str, str] | None = None,
                  problems: list[str] | None = None, name: str = "", note: str = "", stale: ScoringModel | None = None):
    fields = flatten(base.params)
    entered = entered or {}
    for f in fields:
        if f.key in entered:
            f.value = entered[f.key]
    problem_keys = [p[1].get("key") for p in (problems or []) if isinstance(p, tuple) and p[1].get("key")]
    messages = [(_(p[0], **p[1]) if isinstance(p, tuple) else p) for p in (problems or [])]
    field_errors = {k: _(v) for k, v in (errors or {}).items()}
    flagged = {f.key for f in fields if any(f.key == k or f.key.startswith(k + ".") for k in problem_keys)}
    return dict(base=base, sections=sections_of(fields), labels={f.key: label_for(f.key, base.params) for f in fields},
                field_errors=field_errors, flagged=flagged,
                problems=messages, name=name, note=note, stale=stale,
                stale_who=_publishers([stale]).get(stale.published_by) if stale else None)


def _clean(text: str | None, limit: int) -> str:
    return (text or "").replace("\x00", "").strip()[:limit]


@bp.route("/admin/scoring-models/new", methods=["GET", "POST"])
@access.policy(read=WRITE, write=WRITE)
@idempotent
def scoring_model_new():
    """Publish a new version: every number of the model in force, editable; checked before it is stored."""
    if request.method == "GET":
        base = _ensure_current()
        return render("ratings/model_new.html", "ratings/_model_form.html",
                      **_form_context(base, name=base.name, note=""))
    base_no = request.form.get("based_on", type=int)
    current = services.current_model()
    base = None
    if base_no is not None and 0 < base_no < 10**9:
        base = db.session.scalar(sa.select(ScoringModel).where(ScoringModel.version_no == base_no))
    base = base or current
    name = _clean(request.form.get("name"), NAME_MAX)
    note = _clean(request.form.get("note"), NOTE_MAX)
    params, entered, errors = rebuild(base.params, request.form)
    if not name:
        errors["name"] = N_("Give the version a name.")
    problems: list = [(N_("%(label)s: %(error)s"), {"label": label_for(k, base.params), "error": _(v)})
                      for k, v in errors.items() if k != "name"]
    if "name" in errors:
        problems.insert(0, (errors["name"], {}))
    if not errors:
        problems = rules.model_problems(params)
    if current.version_no != base.version_no:
        # Someone published while this form was open: show theirs, keep the input, let the admin decide again.
        return render("ratings/model_new.html", "ratings/_model_form.html", status=409,
                      **_form_context(current, entered=entered, errors=errors, problems=problems, name=name,
                                      note=note, stale=current))
    if problems:
        return render("ratings/model_new.html", "ratings/_model_form.html", status=422,
                      **_form_context(base, entered=entered, errors=errors, problems=problems, name=name, note=note))
    try:
        model = services.publish_model(params, name=name, note=note or None, user_id=current_user.id)
    except services.Refused as exc:
        return render("ratings/model_new.html", "ratings/_model_form.html", status=422,
                      **_form_context(base, entered=entered, problems=[exc.message], name=name, note=note))
    except IntegrityError:
        db.session.rollback()  # the same version number was published concurrently
        latest = services.current_model()
        return render("ratings/model_new.html", "ratings/_model_form.html", status=409,
                      **_form_context(latest, entered=entered, name=name, note=note, stale=latest))
    return redirect_to("ratings.scoring_model", _("Version %(n)d published. New ratings use it; existing ratings "
                                                  "keep their version.", n=model.version_no), model_id=model.id)
