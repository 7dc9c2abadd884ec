"""Member, move, split and new-household forms: input shape only (ID numbers checked by core.idnumber); services
decide the rest."""
from __future__ import annotations

import unicodedata

from flask_babel import get_locale
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, SelectField, SelectMultipleField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..core import clock
from ..core.forms import IdemKeyField, VersionField
from ..core.idnumber import MOBILE_MESSAGES_ZH, IdNumberError, MobileError, normalise_mobile, parse_id_number

RELATIONS = {
    "head": _l("Head of household"), "spouse": _l("Spouse"), "child": _l("Child"),
    "child_in_law": _l("Son- or daughter-in-law"), "grandchild": _l("Grandchild"), "parent": _l("Parent"),
    "parent_in_law": _l("Parent-in-law"), "grandparent": _l("Grandparent"), "sibling": _l("Sibling"),
    "other": _l("Other relative"),
}
EDUCATION = {
    "none": _l("No schooling"), "primary": _l("Primary school"), "junior": _l("Junior secondary"),
    "senior": _l("Senior secondary"), "vocational": _l("Vocational school"), "college": _l("College"),
    "bachelor": _l("Bachelor or higher"),
}
LABOUR = {"full": _l("Able to work"), "partial": _l("Partly able to work"), "none": _l("Unable to work")}
NAME_PUNCTUATION = set("·•・‧.-' ")


def chinese_locale() -> bool:
    return str(get_locale() or "zh_CN").startswith("zh")


def id_message(error: IdNumberError) -> str:
    """The ID checker's own message in the user's language (core.idnumber carries both)."""
    return error.message_zh if chinese_locale() else error.message_en


def mobile_message(error: MobileError) -> str:
    return MOBILE_MESSAGES_ZH[error.code] if chinese_locale() else error.message_en


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _person_name(form, field):
    """Letters of any script, with "·" (and - . ') between the parts of minority and foreign names."""
    text = field.data or ""
    if not any(unicodedata.category(ch).startswith("L") for ch in text) or any(
            not (unicodedata.category(ch)[0] in "LM" or ch in NAME_PUNCTUATION) for ch in text):
        raise ValidationError(_l("Use letters only; separate the parts of a name with ·."))


def _choices(labels: dict, blank: bool = True) -> list[tuple[str, str]]:
    return ([("", _l("— not recorded —"))] if blank else []) + list(labels.items())


class MemberForm(FlaskForm):
    """A member of the household (domain §2.2); sex and birth date are read from the ID number, not entered."""

    name = StringField(_l("Name"), filters=[_strip], validators=[
        DataRequired(_l("Enter the name.")), Length(max=50, message=_l("At most 50 characters.")), _person_name])
    id_number = StringField(_l("ID number"), filters=[_strip],
                            validators=[Length(max=30, message=_l("An ID number has 18 characters."))])
    relation = SelectField(_l("Relation to the head"), choices=_choices(RELATIONS, blank=False), default="spouse")
    ethnicity = StringField(_l("Ethnicity"), filters=[_strip], validators=[Optional(), Length(max=20)])
    education = SelectField(_l("Education"), choices=_choices(EDUCATION), default="")
    labour_capacity = SelectField(_l("Labour capacity"), choices=_choices(LABOUR), default="")
    health = StringField(_l("Health"), filters=[_strip], validators=[Optional(), Length(max=100)])
    occupation = StringField(_l("Occupation"), filters=[_strip], validators=[Optional(), Length(max=50)])
    party_member = BooleanField(_l("Party member"))
    migrant_location = StringField(_l("Working away in"), filters=[_strip], validators=[Optional(), Length(max=100)])
    mobile = StringField(_l("Mobile"), filters=[_strip], validators=[Optional(), Length(max=20)])

    id_info = None
    mobile_number = None

    def validate_id_number(self, field):
        self.id_info = None
        if not field.data:
            return
        try:
            self.id_info = parse_id_number(field.data, clock.today())
        except IdNumberError as exc:
            raise ValidationError(id_message(exc)) from None

    def validate_mobile(self, field):
        self.mobile_number = None
        if not field.data:
            return
        try:
            self.mobile_number = normalise_mobile(field.data)
        except MobileError as exc:
            raise ValidationError(mobile_message(exc)) from None


class NewMemberForm(MemberForm):
    idem_key = IdemKeyField()


class EditMemberForm(MemberForm):
    version = VersionField()  # the household's version: any change to the household makes this form stale


class MoveForm(FlaskForm):
    target = SelectField(_l("Move to"), choices=[])
    destination = StringField(_l("Where to (for a move out of the area)"), filters=[_strip],
                              validators=[Length(max=200)])
    version = VersionField()

    def validate_destination(self, field):
        if self.target.data == "out" and not field.data:
            raise ValidationError(_l("Say where the household has moved to."))


class SplitForm(FlaskForm):
    members = SelectMultipleField(_l("Members who form the new household"), choices=[], coerce=int)
    new_head = SelectField(_l("Head of the new household"), choices=[], default="")
    target = SelectField(_l("Village group of the new household"), choices=[], default="same")
    idem_key = IdemKeyField()

    def validate_members(self, field):
        if not field.data:
            raise ValidationError(_l("Choose at least one member."))


class NewHouseholdForm(FlaskForm):
    """A household met on a door-to-door visit that is not on the roster: its head, and where it lives.

    The ID number and mobile are optional here (a head met in the field may not have the card at hand) but checked
    exactly as the member form checks them when given; the village's groups are set as choices by the view.
    """

    head_name = StringField(_l("Name of the head of household"), filters=[_strip], validators=[
        DataRequired(_l("Enter the name.")), Length(max=50, message=_l("At most 50 characters.")), _person_name])
    id_number = StringField(_l("ID number"), filters=[_strip],
                            validators=[Length(max=30, message=_l("An ID number has 18 characters."))])
    phone = StringField(_l("Mobile"), filters=[_strip], validators=[Optional(), Length(max=20)])
    group_id = SelectField(_l("Village group"), choices=[], default="", validate_choice=False)
    address = StringField(_l("Address"), filters=[_strip], validators=[
        Optional(), Length(max=200, message=_l("At most 200 characters."))])
    idem_key = IdemKeyField()

    id_info = None
    mobile_number = None
    group_required = False  # set by the view: the village has groups (or the user sees only some of them)

    validate_id_number = MemberForm.validate_id_number
    validate_phone = MemberForm.validate_mobile

    def validate_group_id(self, field):
        offered = {value for value, _label in field.choices if value}
        if field.data and field.data not in offered:
            raise ValidationError(_l("Choose one of this village's groups."))
        if not field.data and self.group_required:
            raise ValidationError(_l("Choose the village group."))

    @property
    def group(self) -> int | None:
        return int(self.group_id.data) if self.group_id.data else None
