"""Forms of the credit-file sections other than members (domain §2.3), and of the LPR table and the file review.

Input shape only: money is typed as yuan text ("5万", "1,234.5") and checked by core.money; the views turn
the cleaned values into rows and call rules for rates, caps and flags. Choice codes are short ASCII strings
stored in the database; the labels are English msgids.
"""
from __future__ import annotations

import unicodedata
from datetime import date
from decimal import Decimal, InvalidOperation

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, Field, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError
from wtforms.widgets import TextInput

from ..core import clock
from ..core.forms import IdemKeyField, VersionField
from ..core.money import MoneyError, parse_yuan, to_fen
from . import rules
from .forms import chinese_locale

# ---------------------------------------------------------------- choice codes (stored) and their labels

SOURCES = {"declared": _l("Self-declared"), "document": _l("Verified by a document"),
           "village": _l("Confirmed by the village")}
LAND_TYPES = {"arable": _l("Arable land (耕地)"), "grassland": _l("Grassland (草场)"), "forest": _l("Forest land (林地)"),
              "orchard": _l("Orchard (园地)"), "homestead": _l("Homestead (宅基地)"),
              "water": _l("Water surface or tidal flat (水域滩涂)")}
TENURES = {"contracted": _l("Contracted (承包)"), "leased_in": _l("Leased in (流转入)"),
           "leased_out": _l("Leased out (流转出)"), "offset_out": _l("Leased out to pay a debt (租出抵债)")}
SPECIES = {"cattle": _l("Cattle"), "sheep": _l("Sheep and goats"), "pig": _l("Pigs"), "poultry": _l("Poultry"),
           "other": _l("Other animals")}
ASSET_TYPES = {"house": _l("House"), "machinery": _l("Farm machinery"), "vehicle": _l("Vehicle"),
               "workshop": _l("Workshop or shed"), "greenhouse": _l("Greenhouse"), "deposit": _l("Bank deposit"),
               "other": _l("Other")}
INCOME_SOURCES = {"crops": _l("Crops (种植)"), "livestock": _l("Livestock (养殖)"), "wages": _l("Wages (务工)"),
                  "business": _l("Business (经营)"), "property": _l("Property income (财产性)"),
                  "transfer": _l("Transfers: subsidies, 低保 (转移性)")}
EXPENSE_CATEGORIES = {"production": _l("Production"), "living": _l("Living"), "medical": _l("Medical"),
                      "education": _l("Education"), "interest": _l("Interest on debts")}
INSURANCE_TYPES = {"agricultural": _l("Agricultural insurance"), "accident": _l("Personal accident insurance"),
                   "loan_guarantee": _l("Loan guarantee insurance"), "other": _l("Other insurance")}
DEBT_KINDS = {"bank": _l("Bank loan"), "institution": _l("Other financial institution"),
              "private": _l("Private loan (民间借款)"), "mutual": _l("Mutual-aid society (互助社)"),
              "credit_sale": _l("Goods on credit (赊欠)"), "guarantee": _l("Guarantee given for others (担保)")}
LENDER_TYPES = {"bank": _l("Bank or credit co-op"), "microcredit": _l("Microcredit company"),
                "pawnshop": _l("Pawnshop"), "guarantee_company": _l("Guarantee company"),
                "cooperative": _l("Cooperative"), "relative": _l("Relative or friend"),
                "individual": _l("Other private person"), "merchant": _l("Shop or supplier"), "other": _l("Other")}
DEBT_STATUSES = {"normal": _l("Normal"), "overdue": _l("Overdue"), "dispute": _l("In dispute"),
                 "settled": _l("Settled")}
RATE_UNITS = {code: _l(rules.RATE_UNIT_LABELS[code]) for code in rules.RATE_UNITS}
RATE_UNITS_SHORT = {"pct_year": _l("% a year"), "pct_month": _l("% a month"), "permille_month": _l("‰ a month"),
                    "fen_month": _l("分 a month"), "li_month": _l("厘 a month")}
NEGATIVE_CATEGORIES = {"vice": _l("Gambling, drugs or prostitution (赌博/吸毒/嫖娼)"),
                       "arrears": _l("Unpaid loans or on a blacklist (拖欠贷款本息/黑名单)"),
                       "idleness": _l("Idle, unwilling to work (游手好闲)"),
                       "dishonest_debtor": _l("Dishonest judgment debtor (失信被执行人)")}

MONEY_MESSAGES = {  # core.money codes -> English msgids (the Chinese ones come from the catalogue)
    "empty": _l("Enter an amount."),
    "format": _l("Enter an amount in yuan, for example 1234.50 or 5万."),
    "negative": _l("An amount cannot be negative."),
    "too_many_decimals": _l("At most two decimal places (fen)."),
    "too_large": _l("This amount is too large; check it."),
}
MAX_AREA_MU = Decimal("10000000")  # larger than any household's holding; Numeric(12, 2) holds 10^10
MAX_HEADS = 1_000_000
MAX_ANNUAL_RATE = Decimal("10")  # 1000 % a year: anything above is a wrong unit, not a loan
EARLIEST = date(1950, 1, 1)


def _choices(labels: dict, blank: bool = False) -> list[tuple[str, str]]:
    return ([("", _l("— choose —"))] if blank else []) + list(labels.items())


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def plain_text(form, field):
    """No control characters (a NUL byte would fail on PostgreSQL; a line break has no place in a one-line field)."""
    text = field.data or ""
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co") and ch not in "\n\t" for ch in text):
        raise ValidationError(_l("Remove the invisible control characters from this text."))


def _not_future(form, field):
    if field.data and field.data > clock.today():
        raise ValidationError(_l("This date is in the future."))


def _not_ancient(form, field):
    if field.data and field.data < EARLIEST:
        raise ValidationError(_l("This date is too early; check the year."))


# ---------------------------------------------------------------- fields

class YuanField(Field):
    """Money typed as yuan text; `.fen` is the integer amount in fen (None when left blank and optional)."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, required: bool = True, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)
        self.required = required
        self.fen: int | None = None
        self.raw = ""

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        if self.data is not None:
            return f"{self.data:.2f}"
        return ""

    def process_formdata(self, valuelist):
        self.raw = (valuelist[0] if valuelist else "") or ""
        self.data = None

    def process_data(self, value):
        # value given as fen (from a row) -> Decimal yuan for display
        if value is None or isinstance(value, Decimal):
            self.data = value
        else:
            self.data = Decimal(int(value)).scaleb(-2)

    def pre_validate(self, form):
        self.fen = None
        raw = self.raw
        if self.raw_data is None:  # not submitted: the value came from the row
            self.fen = None if self.data is None else to_fen(self.data)
            if self.fen is None and self.required:
                raise ValidationError(MONEY_MESSAGES["empty"])
            return
        if not raw.strip():
            if self.required:
                raise ValidationError(MONEY_MESSAGES["empty"])
            return
        try:
            yuan = parse_yuan(raw)
        except MoneyError as exc:
            raise ValidationError(exc.message_zh if chinese_locale() else MONEY_MESSAGES[exc.code]) from None
        self.data = yuan
        self.fen = to_fen(yuan)


class DecimalText(Field):
    """A plain decimal number typed as text (area, rate value): finite, within bounds, at most `places` decimals."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, places: int = 2, minimum: Decimal = Decimal(0),
                 maximum: Decimal = Decimal("1e8"), required: bool = True, positive: bool = False, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "decimal", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)
        self.places, self.minimum, self.maximum = places, minimum, maximum
        self.required, self.positive = required, positive

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else f"{self.data.normalize():f}"

    def process_formdata(self, valuelist):
        self.data = None
        text = unicodedata.normalize("NFKC", valuelist[0] if valuelist else "").strip().replace(",", "")
        if not text:
            return
        if len(text) > 30 or not all(ch.isascii() and (ch.isdigit() or ch == ".") for ch in text):
            raise ValueError(_l("Enter a number, for example 12.5."))
        try:
            value = Decimal(text)
        except InvalidOperation:
            raise ValueError(_l("Enter a number, for example 12.5.")) from None
        if not value.is_finite():
            raise ValueError(_l("Enter a number, for example 12.5."))
        self.data = value

    def pre_validate(self, form):
        if self.process_errors:
            return
        if self.data is None:
            if self.required:
                raise ValidationError(_l("Enter a number."))
            return
        value = self.data
        if value < self.minimum or (self.positive and value <= 0):
            raise ValidationError(_l("This number is too small."))
        if value > self.maximum:
            raise ValidationError(_l("This number is too large; check it."))
        step = Decimal(1).scaleb(-self.places)
        if value != value.quantize(step):
            raise ValidationError(_l("At most %(n)d decimal places.", n=self.places))
        self.data = value.quantize(step)


class WholeNumber(Field):
    """A whole number typed as text, within bounds (head counts, years)."""

    widget = TextInput()

    def __init__(self, label=None, validators=None, minimum: int = 0, maximum: int = MAX_HEADS,
                 required: bool = True, **kwargs):
        kwargs.setdefault("render_kw", {"inputmode": "numeric", "autocomplete": "off"})
        super().__init__(label, validators, **kwargs)
        self.minimum, self.maximum, self.required = minimum, maximum, required

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return "" if self.data is None else str(self.data)

    def process_formdata(self, valuelist):
        self.data = None
        text = unicodedata.normalize("NFKC", valuelist[0] if valuelist else "").strip()
        if not text:
            return
        if len(text) > 9 or not (text.isascii() and text.isdigit()):
            raise ValueError(_l("Enter a whole number."))
        self.data = int(text)

    def pre_validate(self, form):
        if self.process_errors:
            return
        if self.data is None:
            if self.required:
                raise ValidationError(_l("Enter a whole number."))
            return
        if not self.minimum <= self.data <= self.maximum:
            raise ValidationError(_l("Enter a number from %(lo)d to %(hi)d.", lo=self.minimum, hi=self.maximum))


class SafeDateField(DateField):
    """A date (YYYY-MM-DD) whose parse errors read as a sentence, not a format string."""

    def __init__(self, label=None, validators=None, **kwargs):
        kwargs.setdefault("format", "%Y-%m-%d")
        super().__init__(label, validators, **kwargs)

    def process_formdata(self, valuelist):
        text = (valuelist[0] if valuelist else "") or ""
        if not text.strip():
            self.data = None
            return
        if len(text) > 20:
            self.data = None
            raise ValueError(_l("Enter a date as YYYY-MM-DD."))
        try:
            super().process_formdata([text.strip()])
        except ValueError:
            self.data = None
            raise ValueError(_l("Enter a date as YYYY-MM-DD.")) from None


def _text(label, max_len: int, required: bool = False, **kwargs):
    validators = [DataRequired() if required else Optional(), Length(max=max_len), plain_text]
    return StringField(label, validators, filters=[_strip], **kwargs)


# ---------------------------------------------------------------- section forms

class SectionForm(FlaskForm):
    """What every row has: where the figure comes from, and a note."""

    source = SelectField(_l("Source"), choices=_choices(SOURCES), default="declared")
    note = _text(_l("Note"), 200)

    def values(self) -> dict:
        """The cleaned values to store, by model column."""
        return {"source": self.source.data, "note": self.note.data or None}


class LandForm(SectionForm):
    land_type = SelectField(_l("Type of land"), choices=_choices(LAND_TYPES, blank=True),
                            validate_choice=False)
    area_mu = DecimalText(_l("Area (mu, 亩)"), places=2, maximum=MAX_AREA_MU, positive=True)
    tenure = SelectField(_l("Tenure"), choices=_choices(TENURES, blank=True),
                            validate_choice=False)
    certificate_no = _text(_l("Right certificate number (确权证/林权证)"), 40)
    counterparty = _text(_l("Counterparty (for land leased in or out)"), 50)
    rent = YuanField(_l("Rent per mu per year (yuan)"), required=False)
    encumbered = BooleanField(_l("Mortgaged or pledged against a debt"))

    def validate_land_type(self, field):
        if field.data not in LAND_TYPES:
            raise ValidationError(_l("Choose the type of land."))

    def validate_tenure(self, field):
        if field.data not in TENURES:
            raise ValidationError(_l("Choose the tenure."))

    def values(self) -> dict:
        return {**super().values(), "land_type": self.land_type.data, "area_mu": self.area_mu.data,
                "tenure": self.tenure.data, "certificate_no": self.certificate_no.data or None,
                "counterparty": self.counterparty.data or None, "rent_per_mu_year_fen": self.rent.fen,
                "encumbered": bool(self.encumbered.data)}


class LivestockForm(SectionForm):
    species = SelectField(_l("Species"), choices=_choices(SPECIES, blank=True),
                            validate_choice=False)
    head_count = WholeNumber(_l("Head count (头/只)"), minimum=0, maximum=MAX_HEADS)
    breeding_count = WholeNumber(_l("Of which breeding stock"), minimum=0, maximum=MAX_HEADS, required=False)
    insured = BooleanField(_l("Insured"))

    def validate_species(self, field):
        if field.data not in SPECIES:
            raise ValidationError(_l("Choose the species."))

    def validate_breeding_count(self, field):
        if field.data is not None and self.head_count.data is not None and field.data > self.head_count.data:
            raise ValidationError(_l("Breeding stock cannot exceed the head count."))

    def values(self) -> dict:
        return {**super().values(), "species": self.species.data, "head_count": self.head_count.data,
                "breeding_count": self.breeding_count.data or 0, "insured": bool(self.insured.data)}


class AssetForm(SectionForm):
    asset_type = SelectField(_l("Type of asset"), choices=_choices(ASSET_TYPES, blank=True),
                            validate_choice=False)
    description = _text(_l("Description"), 100)
    value = YuanField(_l("Estimated value (yuan)"))
    pledgeable = BooleanField(_l("Can be pledged as collateral"))

    def validate_asset_type(self, field):
        if field.data not in ASSET_TYPES:
            raise ValidationError(_l("Choose the type of asset."))

    def values(self) -> dict:
        return {**super().values(), "asset_type": self.asset_type.data, "description": self.description.data or None,
                "value_fen": self.value.fen, "pledgeable": bool(self.pledgeable.data)}


def _year_field(label):
    return WholeNumber(label, minimum=1990, maximum=2100)


class _YearMixin:
    def validate_year(self, field):
        if field.data is not None and field.data > clock.today().year + 1:
            raise ValidationError(_l("This year is in the future."))


class IncomeForm(_YearMixin, SectionForm):
    year = _year_field(_l("Year"))
    income_source = SelectField(_l("Source of income"), choices=_choices(INCOME_SOURCES, blank=True),
                            validate_choice=False)
    gross = YuanField(_l("Gross income (yuan)"))
    cost = YuanField(_l("Costs (yuan)"), required=False)

    def validate_income_source(self, field):
        if field.data not in INCOME_SOURCES:
            raise ValidationError(_l("Choose the source of income."))

    def values(self) -> dict:
        return {**super().values(), "year": self.year.data, "income_source": self.income_source.data,
                "gross_fen": self.gross.fen, "cost_fen": self.cost.fen or 0}


class ExpenseForm(_YearMixin, SectionForm):
    year = _year_field(_l("Year"))
    category = SelectField(_l("Category"), choices=_choices(EXPENSE_CATEGORIES, blank=True),
                            validate_choice=False)
    amount = YuanField(_l("Amount (yuan)"))

    def validate_category(self, field):
        if field.data not in EXPENSE_CATEGORIES:
            raise ValidationError(_l("Choose the category."))

    def values(self) -> dict:
        return {**super().values(), "year": self.year.data, "category": self.category.data,
                "amount_fen": self.amount.fen}


class InsuranceForm(SectionForm):
    insurance_type = SelectField(_l("Type of insurance"), choices=_choices(INSURANCE_TYPES, blank=True),
                            validate_choice=False)
    insurer = _text(_l("Insurer"), 50)
    sum_insured = YuanField(_l("Sum insured (yuan)"), required=False)
    period_from = SafeDateField(_l("Cover from"), validators=[Optional(), _not_ancient])
    period_to = SafeDateField(_l("Cover until"), validators=[Optional(), _not_ancient])

    def validate_insurance_type(self, field):
        if field.data not in INSURANCE_TYPES:
            raise ValidationError(_l("Choose the type of insurance."))

    def validate_period_to(self, field):
        if field.data and self.period_from.data and field.data < self.period_from.data:
            raise ValidationError(_l("The cover ends before it starts."))

    def values(self) -> dict:
        return {**super().values(), "insurance_type": self.insurance_type.data, "insurer": self.insurer.data or None,
                "sum_insured_fen": self.sum_insured.fen, "period_from": self.period_from.data,
                "period_to": self.period_to.data}


class DebtForm(SectionForm):
    kind = SelectField(_l("Kind of debt"), choices=_choices(DEBT_KINDS, blank=True),
                            validate_choice=False)
    lender_type = SelectField(_l("Lender type"), choices=_choices(LENDER_TYPES, blank=True),
                              validate_choice=False)
    creditor_name = _text(_l("Creditor's name"), 60)
    principal_written = YuanField(_l("Principal written on the IOU or contract (yuan)"))
    principal_received = YuanField(_l("Principal actually received (yuan)"), required=False)
    balance = YuanField(_l("Balance still owed (yuan)"), required=False)
    contract_date = SafeDateField(_l("Contract date"), validators=[Optional(), _not_future, _not_ancient])
    maturity = SafeDateField(_l("Due date"), validators=[Optional(), _not_ancient])
    rate_value = DecimalText(_l("Stated interest rate"), places=4, maximum=Decimal("100000"), required=False)
    rate_unit = SelectField(_l("Rate unit"), choices=_choices(RATE_UNITS, blank=True), validate_choice=False)
    written_contract = BooleanField(_l("There is a written contract or IOU"))
    collateral = _text(_l("Collateral"), 100)
    offset_land_id = SelectField(_l("Land leased out to pay this debt"), validate_choice=False)
    reference_rent = YuanField(_l("Local reference rent per mu per year (yuan)"), required=False)
    status = SelectField(_l("Status"), choices=_choices(DEBT_STATUSES), default="normal")

    def __init__(self, *args, land_choices: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.offset_land_id.choices = [("", _l("— none —"))] + list(land_choices or [])

    def validate_kind(self, field):
        if field.data not in DEBT_KINDS:
            raise ValidationError(_l("Choose the kind of debt."))

    def validate_lender_type(self, field):
        if field.data and field.data not in LENDER_TYPES:
            raise ValidationError(_l("Choose the lender type."))

    def validate_status(self, field):
        if field.data not in DEBT_STATUSES:
            raise ValidationError(_l("Choose the status."))

    def validate_principal_received(self, field):
        if field.fen is not None and self.principal_written.fen is not None and field.fen > self.principal_written.fen:
            raise ValidationError(_l("The amount received cannot be more than the amount written on the IOU."))

    def validate_maturity(self, field):
        if field.data and self.contract_date.data and field.data < self.contract_date.data:
            raise ValidationError(_l("The due date is before the contract date."))

    def validate_rate_unit(self, field):
        if field.data and field.data not in RATE_UNITS:
            raise ValidationError(_l("Choose the unit of the rate."))
        if self.rate_value.data is not None and not field.data:
            raise ValidationError(_l("Choose the unit of the rate: per year, per month, or 分 per month."))

    def validate_rate_value(self, field):
        unit = self.rate_unit.data
        if field.data is not None and unit in RATE_UNITS and rules.annualise(field.data, unit) > MAX_ANNUAL_RATE:
            raise ValidationError(_l("This rate is above 1000% a year; check the number and the unit."))

    def validate_offset_land_id(self, field):
        if field.data and field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Choose one of this household's land rows."))

    def values(self) -> dict:
        has_rate = self.rate_value.data is not None
        return {**super().values(), "kind": self.kind.data, "lender_type": self.lender_type.data or None,
                "creditor_name": self.creditor_name.data or None,
                "principal_written_fen": self.principal_written.fen,
                "principal_received_fen": self.principal_received.fen, "balance_fen": self.balance.fen,
                "contract_date": self.contract_date.data, "maturity": self.maturity.data,
                "rate_value": self.rate_value.data if has_rate else None,
                "rate_unit": self.rate_unit.data if has_rate else None,
                "written_contract": bool(self.written_contract.data), "collateral": self.collateral.data or None,
                "offset_land_id": int(self.offset_land_id.data) if self.offset_land_id.data else None,
                "status": self.status.data}


class NegativeForm(SectionForm):
    category = SelectField(_l("Category (RT-5)"), choices=_choices(NEGATIVE_CATEGORIES, blank=True),
                            validate_choice=False)
    member_id = SelectField(_l("Member concerned"), validate_choice=False)
    evidence = TextAreaField(_l("Evidence (who said or showed what, when)"),
                             validators=[DataRequired(), Length(max=300), plain_text], filters=[_strip])

    def __init__(self, *args, member_choices: list[tuple[str, str]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.member_id.choices = [("", _l("— the household —"))] + list(member_choices or [])

    def validate_category(self, field):
        if field.data not in NEGATIVE_CATEGORIES:
            raise ValidationError(_l("Choose the category."))

    def validate_member_id(self, field):
        if field.data and field.data not in {value for value, _label in field.choices}:
            raise ValidationError(_l("Choose a member of this household."))

    def values(self) -> dict:
        return {**super().values(), "category": self.category.data,
                "member_id": int(self.member_id.data) if self.member_id.data else None,
                "evidence": self.evidence.data}


FORMS: dict[str, type[SectionForm]] = {
    "land": LandForm, "livestock": LivestockForm, "assets": AssetForm, "income": IncomeForm,
    "expenses": ExpenseForm, "debts": DebtForm, "insurance": InsuranceForm, "negative": NegativeForm,
}
# Row columns shown back in an edit form: form field -> model column (money fields hold fen).
FIELD_COLUMNS: dict[str, dict[str, str]] = {
    "land": {"rent": "rent_per_mu_year_fen"},
    "assets": {"value": "value_fen"},
    "income": {"gross": "gross_fen", "cost": "cost_fen"},
    "expenses": {"amount": "amount_fen"},
    "insurance": {"sum_insured": "sum_insured_fen"},
    "debts": {"principal_written": "principal_written_fen", "principal_received": "principal_received_fen",
              "balance": "balance_fen"},
}


def _with(base: type[SectionForm], name: str, field) -> type[SectionForm]:
    return type(f"{base.__name__}{name.title().replace('_', '')}", (base,), {name: field})


ADD_FORMS = {name: _with(form, "idem_key", IdemKeyField()) for name, form in FORMS.items()}
EDIT_FORMS = {name: _with(form, "version", VersionField()) for name, form in FORMS.items()}


class RemoveForm(FlaskForm):
    version = VersionField()


class NoneForm(FlaskForm):
    """Mark a section "无" (or undo it); the debts section also needs the private-loan question asked (V-2)."""

    version = VersionField()
    undo = BooleanField()
    asked_private = BooleanField(_l("I asked explicitly whether the household has private loans (有无民间借款), "
                                    "and the answer is no"))


# ---------------------------------------------------------------- LPR table and file review

class LprForm(FlaskForm):
    idem_key = IdemKeyField()
    effective_on = SafeDateField(_l("Effective from"), validators=[InputRequired(message=_l("Enter a date."))])
    one_year = DecimalText(_l("One-year LPR (% per year)"), places=4, maximum=Decimal(20))
    five_year = DecimalText(_l("Five-year LPR (% per year)"), places=4, maximum=Decimal(20), required=False)

    def validate_effective_on(self, field):
        if field.data and field.data < date(2019, 8, 20):
            raise ValidationError(_l("The reformed LPR starts on 2019-08-20."))
        if field.data and field.data.year > 2100:
            raise ValidationError(_l("This date is too far ahead."))


class SubmitForm(FlaskForm):
    """Only the CSRF token: submitting twice is harmless (the second finds the file already submitted)."""


class ReviewForm(FlaskForm):
    """Accept or return, with a comment per section (comments come as comment-<section> fields)."""

    version = VersionField()
    decision = SelectField(choices=[("accept", _l("Accept")), ("return", _l("Return for changes"))],
                           validators=[InputRequired()])
    comment_general = TextAreaField(_l("General comment"), validators=[Optional(), Length(max=500), plain_text],
                                    filters=[_strip])

    def comments(self) -> dict[str, str]:
        """Non-empty comments by section ("general" for the whole file)."""
        out = {}
        for name in ("general", *rules.SECTION_ORDER):
            text = getattr(self, f"comment_{name}").data
            if text:
                out[name] = text
        return out


for _section in rules.SECTION_ORDER:
    setattr(ReviewForm, f"comment_{_section}",
            TextAreaField(_l(rules.SECTION_LABELS[_section]), validators=[Optional(), Length(max=500), plain_text],
                          filters=[_strip]))
