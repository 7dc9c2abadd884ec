"""Organisation admin forms: shape checks only; org/rules.py decides codes, nesting, owners and coverage."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, FloatField, IntegerField, SelectField, StringField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, ValidationError

from ..core.forms import IdemKeyField, VersionField


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _printable(form, field):
    """Refuse control characters (they break printed sheets, and PostgreSQL refuses NUL)."""
    if isinstance(field.data, str) and any(ord(c) < 32 or 0x7F <= ord(c) < 0xA0 for c in field.data):
        raise ValidationError(_l("Remove the control characters from this field."))


def _text(label, required_message=None, max_len=60):
    validators = [DataRequired(required_message)] if required_message else [Optional()]
    return StringField(label, filters=[_strip], validators=[*validators, Length(max=max_len), _printable])


def _select(label, coerce=str):
    return SelectField(label, choices=[], coerce=coerce,
                       invalid_value_message=_l("Choose one of the options."),
                       invalid_choice_message=_l("Choose one of the options."))


def _date(label, required_message=None):
    validators = [InputRequired(required_message)] if required_message else [Optional()]
    return DateField(label, validators=validators, invalid_value_message=_l("Enter a date as YYYY-MM-DD."))


# ---------------------------------------------------------------- geography

class CountyForm(FlaskForm):
    admin_code = _text(_l("Division code (6 digits)"), _l("Enter the 6-digit division code."), 20)
    name = _text(_l("Name"), _l("Enter the name."))
    label_set = _select(_l("Words used for the levels"))
    second_language = _text(_l("Second language for notices (optional, e.g. mn)"), max_len=10)


class NewCountyForm(CountyForm):
    idem_key = IdemKeyField()


class TownshipForm(FlaskForm):
    stat_code = _text(_l("Statistical code (9 digits)"), _l("Enter the 9-digit statistical code."), 20)
    name = _text(_l("Name"), _l("Enter the name."))
    service_station_name = _text(_l("Financial service station (optional)"), max_len=100)


class NewTownshipForm(TownshipForm):
    idem_key = IdemKeyField()


class VillageForm(FlaskForm):
    stat_code = _text(_l("Statistical code (12 digits)"), _l("Enter the 12-digit statistical code."), 20)
    name = _text(_l("Name"), _l("Enter the name."))
    is_poor_village = BooleanField(_l("Registered poor village"))
    service_unit_name = _text(_l("Village financial service unit (optional)"), max_len=100)
    centroid_lat = FloatField(_l("Centre latitude (optional)"), validators=[Optional()],
                              invalid_value_message=_l("Enter a number such as 26.53."))
    centroid_lng = FloatField(_l("Centre longitude (optional)"), validators=[Optional()],
                              invalid_value_message=_l("Enter a number such as 99.90."))


class NewVillageForm(VillageForm):
    idem_key = IdemKeyField()


class GroupForm(FlaskForm):
    group_name = _text(_l("Group name"), _l("Enter the group name."), 40)


class NewGroupForm(GroupForm):
    idem_key = IdemKeyField()


# ---------------------------------------------------------------- bank side

class BranchForm(FlaskForm):
    code = _text(_l("Code"), _l("Enter the branch code."), 20)
    name = _text(_l("Name"), _l("Enter the name."), 80)
    kind = _select(_l("Kind"))
    parent_id = _select(_l("Parent branch"), coerce=int)


class NewBranchForm(BranchForm):
    county_id = _select(_l("County"), coerce=int)
    idem_key = IdemKeyField()


class GridFields(FlaskForm):
    code = _text(_l("Code"), _l("Enter the grid code."), 20)
    name = _text(_l("Name"), _l("Enter the name."), 80)
    level = _select(_l("Level"), coerce=int)
    parent_id = _select(_l("Parent grid (level 2 only)"), coerce=int)
    status = _select(_l("Status"))
    target_households = IntegerField(
        _l("Target households (optional)"),
        validators=[Optional(), NumberRange(min=0, max=100000, message=_l("Enter a number from 0 to 100000."))],
        invalid_value_message=_l("Enter a whole number."))
    active_from = _date(_l("Active from (optional)"))
    active_to = _date(_l("Active until (optional)"))


class GridForm(GridFields):
    version = VersionField()


class NewGridForm(GridFields):
    branch_id = _select(_l("Branch"), coerce=int)
    idem_key = IdemKeyField()


class AreaForm(FlaskForm):
    target = _select(_l("Village or group to cover"))
    idem_key = IdemKeyField()


class AssignmentForm(FlaskForm):
    user_id = _select(_l("Grid officer"), coerce=int)
    kind = _select(_l("Duty"))
    starts_on = _date(_l("First day"), _l("Enter the first day."))
    ends_on = _date(_l("Last day (required for a temporary cover)"))
    note = _text(_l("Note (optional)"), max_len=200)
    idem_key = IdemKeyField()


class EndAssignmentForm(FlaskForm):
    ends_on = _date(_l("Last day on duty"), _l("Enter the last day on duty."))
