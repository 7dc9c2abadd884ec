"""Forms of the public objection page, the status lookup and the staff objection workflow: input shape only."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, RadioField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, Optional, ValidationError

from ..core import clock
from ..core.forms import IdemKeyField, VersionField
from ..core.idnumber import MobileError, normalise_mobile
from ..households.section_forms import plain_text
from .objections import (CHANNEL_LABELS, DECISION_LABELS, GROUNDS, GROUNDS_LABELS, RELATION_LABELS, RELATIONS,
                         STAFF_VIA, VIA_LABELS)

TEXT_MAX = 1000


def _strip(value):
    return value.strip() if isinstance(value, str) else value


def _mobile(form, field):
    """Optional; when given, a mainland mobile number (11 digits starting with 1)."""
    raw = (field.data or "").strip()
    if not raw:
        field.data = ""
        return
    try:
        field.data = normalise_mobile(raw)
    except MobileError:
        raise ValidationError(_l("Enter an 11-digit mobile number starting with 1, or leave it empty.")) from None


def _name_when_named(form, field):
    if form.identity.data == "named" and not (field.data or "").strip():
        raise ValidationError(_l("Write your name, or choose to object anonymously."))


def _not_future(form, field):
    if field.data and field.data > clock.today():
        raise ValidationError(_l("This date is in the future."))


class _ObjectionFields(FlaskForm):
    """What every objection says: whose listing, who objects (or nobody), why."""

    item = SelectField(_l("Which household"), coerce=str, validators=[InputRequired(_l("Choose the household."))])
    identity = RadioField(_l("Your name"), default="named",
                          choices=[("named", _l("Give my name (I get a written reply)")),
                                   ("anonymous", _l("Anonymous (no reply)"))])
    name = StringField(_l("Name"), validators=[_name_when_named, Length(max=50), plain_text], filters=[_strip])
    phone = StringField(_l("Mobile number (optional)"), validators=[_mobile])
    relation = SelectField(_l("You are the household's"), default="neighbour",
                           choices=[(code, RELATION_LABELS[code]) for code in RELATIONS])
    grounds = SelectField(_l("What the objection is about"),
                          choices=[("", _l("— choose —"))] + [(code, GROUNDS_LABELS[code]) for code in GROUNDS],
                          validators=[DataRequired(_l("Choose what the objection is about."))])
    text = TextAreaField(_l("What you know"), filters=[_strip],
                         validators=[DataRequired(_l("Say what you know: the objection needs a text.")),
                                     Length(max=TEXT_MAX, message=_l("At most 1000 characters.")), plain_text])

    def set_items(self, items) -> None:
        """Choices: the listed masked names with their group (by item id)."""
        self.item.choices = [("", _l("— choose —"))] + [
            (str(item.id), f"{item.display_name} · {item.group_name}" if item.group_name else item.display_name)
            for item in items]

    @property
    def item_id(self) -> int | None:
        raw = (self.item.data or "").strip()
        return int(raw) if raw.isascii() and raw.isdigit() and len(raw) < 10 else None

    @property
    def objector_name(self) -> str | None:
        return (self.name.data or "").strip() or None if self.identity.data == "named" else None


class PublicObjectionForm(_ObjectionFields):
    idem_key = IdemKeyField()


class PaperObjectionForm(_ObjectionFields):
    """A paper or oral objection taken down by the village secretary (or staff)."""

    idem_key = IdemKeyField()
    received_via = SelectField(_l("Received as"), default="paper",
                               choices=[(code, VIA_LABELS[code]) for code in STAFF_VIA])
    received_on = DateField(_l("Received on"), validators=[Optional(), _not_future])


class StatusLookupForm(FlaskForm):
    receipt = StringField(_l("Receipt number"), filters=[_strip],
                          validators=[DataRequired(_l("Enter the receipt number.")), Length(max=20)])
    phone = StringField(_l("Mobile number given with the objection"), validators=[_mobile])


class AssignForm(FlaskForm):
    version = VersionField()
    officer = SelectField(_l("Investigating officer"), coerce=str, validate_choice=False,
                          validators=[Optional()])  # empty: the owner of the household's grid


class InvestigateForm(FlaskForm):
    version = VersionField()
    visit = SelectField(_l("Investigation visit"), coerce=str, validators=[Optional()])
    notes = TextAreaField(_l("Investigation notes"), filters=[_strip],
                          validators=[Optional(), Length(max=2000), plain_text])


class DecideForm(FlaskForm):
    version = VersionField()
    decision = RadioField(_l("Decision"), choices=[(code, DECISION_LABELS[code]) for code in DECISION_LABELS],
                          validators=[InputRequired(_l("Choose the decision."))])
    reason = TextAreaField(_l("Written reason"), filters=[_strip],
                           validators=[Length(max=1000), plain_text])
    change = BooleanField(_l("The grade or the line changes: propose a re-rating"))
    favouritism = BooleanField(_l("Favouritism or clan pressure found (the committee's result is set aside)"))


class ApproveReratingForm(FlaskForm):
    version = VersionField()
    comment = TextAreaField(_l("Comment (optional)"), filters=[_strip],
                            validators=[Optional(), Length(max=500), plain_text])


class WithdrawForm(FlaskForm):
    version = VersionField()
    note = TextAreaField(_l("How the objector asked to withdraw"), filters=[_strip],
                         validators=[DataRequired(_l("Say how the objector asked to withdraw.")), Length(max=500),
                                     plain_text])


class RepliedForm(FlaskForm):
    version = VersionField()
    channel = SelectField(_l("Handed over by"), choices=[(code, CHANNEL_LABELS[code]) for code in CHANNEL_LABELS])
    replied_on = DateField(_l("On"), validators=[DataRequired(_l("Give the date.")), _not_future])
