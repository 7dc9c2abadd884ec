"""Visit, consent and photo forms: input shape only (required, length, range); services and rules decide the rest."""
from __future__ import annotations

import math
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, RadioField, SelectField, SelectMultipleField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, ValidationError
from wtforms.widgets import CheckboxInput, DateInput, DateTimeLocalInput, ListWidget

from ..core import clock
from ..core.forms import IdemKeyField
from .models import CONSENT_KINDS, OUTCOMES, PURPOSES
from .services import (CONSENT_LABELS, METHOD_LABELS, OUTCOME_LABELS, PHOTO_KIND_LABELS, PURPOSE_LABELS,
                       UPLOAD_KINDS)

DATETIME_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")
_CONTROL = {c: None for c in range(32) if c not in (9, 10, 13)} | {0x7F: None}


def clean_text(value):
    """Trimmed text without control characters (PostgreSQL refuses NUL; nobody types the others)."""
    if value is None:
        return None
    return str(value).translate(_CONTROL).strip()


class LocalDateTimeField(StringField):
    """A datetime-local input (the phone's clock, local time); data is a naive datetime or None."""

    widget = DateTimeLocalInput()

    def process_formdata(self, valuelist):
        self.data = None
        raw = clean_text(valuelist[0] if valuelist else "") or ""
        self.raw_data = [raw]
        if not raw:
            return
        for fmt in DATETIME_FORMATS:
            try:
                self.data = datetime.strptime(raw[:19], fmt)
                break
            except ValueError:
                continue
        else:
            raise ValueError(_l("Enter a date and time."))
        if not 2000 <= self.data.year <= 2100:
            self.data = None
            raise ValueError(_l("Enter a date and time between the years 2000 and 2100."))

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data.strftime("%Y-%m-%dT%H:%M") if self.data else ""


class PlainDateField(StringField):
    """A date input (YYYY-MM-DD); data is a date or None."""

    widget = DateInput()

    def process_formdata(self, valuelist):
        self.data = None
        raw = clean_text(valuelist[0] if valuelist else "") or ""
        self.raw_data = [raw]
        if not raw:
            return
        try:
            self.data = datetime.strptime(raw[:10], "%Y-%m-%d").date() if len(raw) == 10 else None
        except ValueError:
            self.data = None
        if self.data is None:
            raise ValueError(_l("Enter a date."))

    def _value(self):
        if self.raw_data:
            return self.raw_data[0]
        return self.data.isoformat() if self.data else ""


def _finite(raw, low: float, high: float) -> float | None:
    """A float within [low, high] from a hidden field, or None (GPS never blocks a visit)."""
    text = clean_text(raw) or ""
    if not text or len(text) > 30:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or not low <= value <= high:
        return None
    return value


def _choices(codes, labels):
    return [(c, labels[c]) for c in codes]


class VisitForm(FlaskForm):
    idem_key = IdemKeyField()
    opened_at = HiddenField()  # signed server time when the form was opened
    purpose = SelectField(_l("Purpose"), choices=_choices(PURPOSES, PURPOSE_LABELS),
                          validators=[InputRequired(_l("Choose the purpose of the visit."))])
    outcome = SelectField(_l("Outcome"), choices=_choices(OUTCOMES, OUTCOME_LABELS),
                          validators=[InputRequired(_l("Choose the outcome."))])
    companions = StringField(_l("Companions (village cadres, others)"), filters=[clean_text],
                             validators=[Length(max=200)])
    device_started_at = LocalDateTimeField(_l("Started (phone time)"))
    device_ended_at = LocalDateTimeField(_l("Ended (phone time)"))
    gps_lat = HiddenField(filters=[clean_text])
    gps_lng = HiddenField(filters=[clean_text])
    gps_accuracy_m = HiddenField(filters=[clean_text])
    offline_created = HiddenField(filters=[clean_text])
    notes = TextAreaField(_l("Notes"), filters=[clean_text], validators=[Length(max=2000)])
    next_visit_on = PlainDateField(_l("Next visit on"))

    def validate_device_ended_at(self, field):
        start = self.device_started_at.data
        if start is not None and field.data is not None and field.data < start:
            raise ValidationError(_l("The end cannot be before the start."))
        if start is not None and field.data is not None and field.data - start > timedelta(hours=24):
            raise ValidationError(_l("A visit cannot last more than a day."))

    def validate_next_visit_on(self, field):
        if field.data is None:
            return
        today = clock.today()
        if field.data < today:
            raise ValidationError(_l("The next visit cannot be in the past."))
        if field.data > today + timedelta(days=730):
            raise ValidationError(_l("The next visit must be within two years."))

    def gps(self) -> tuple[float | None, float | None, float | None]:
        """(lat, lng, accuracy in m) from the hidden inputs; a missing or malformed fix is no fix."""
        lat = _finite(self.gps_lat.data, -90, 90)
        lng = _finite(self.gps_lng.data, -180, 180)
        acc = _finite(self.gps_accuracy_m.data, 0, 1_000_000)
        if lat is None or lng is None or (lat == 0 and lng == 0):
            return None, None, None
        return lat, lng, acc


class ConsentForm(FlaskForm):
    idem_key = IdemKeyField()
    kinds = SelectMultipleField(_l("Consents covered"), choices=_choices(CONSENT_KINDS, CONSENT_LABELS),
                                option_widget=CheckboxInput(), widget=ListWidget(prefix_label=False),
                                validators=[DataRequired(_l("Tick at least one consent."))])
    method = RadioField(_l("How"), choices=_choices(("signature", "paper", "refused"), METHOD_LABELS),
                        default="signature", validators=[InputRequired(_l("Choose how the consent was given."))])
    signature = FileField(_l("Signature, or a photo of the signed paper"))
    refusal_note = TextAreaField(_l("Refusal note"), filters=[clean_text], validators=[Length(max=300)])
    member_id = SelectField(_l("Signed by"), choices=[])
    visit_id = SelectField(_l("At the visit"), choices=[])

    def validate_refusal_note(self, field):
        if self.method.data == "refused" and not field.data:
            raise ValidationError(_l("Write down what the household said when refusing."))


class PhotoForm(FlaskForm):
    idem_key = IdemKeyField()
    kind = SelectField(_l("What the photo shows"), choices=_choices(UPLOAD_KINDS, PHOTO_KIND_LABELS), default="house",
                       validators=[InputRequired(_l("Choose what the photo shows."))])
    photo = FileField(_l("Photo"))
    visit_id = HiddenField(filters=[clean_text])
    next = HiddenField(filters=[clean_text])
