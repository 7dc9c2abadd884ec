"""Notice forms (staff side): input shape only; the window bounds, the photo and the radius are checked by services."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import HiddenField, IntegerField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..core.forms import IdemKeyField, VersionField
from ..households.section_forms import plain_text
from ..visits.forms import PlainDateField, _finite, clean_text


class NoticeForm(FlaskForm):
    """A new notice batch of a village: when it starts, how long it runs, where it is posted, whom to call."""

    idem_key = IdemKeyField()
    starts_on = PlainDateField(_l("First day of the notice"), validators=[Optional()])  # empty: today
    duration_days = IntegerField(_l("Days on notice"), validators=[
        InputRequired(_l("Enter how many days the notice runs.")), NumberRange(min=1, max=60)])
    posting_place = StringField(_l("Where it is posted"), filters=[clean_text], validators=[
        DataRequired(_l("Say where the notice is posted (e.g. the village board).")), Length(max=100), plain_text])
    hotline = StringField(_l("Objection hotline"), filters=[clean_text], validators=[
        DataRequired(_l("Give the telephone number for objections.")), Length(max=20), plain_text])
    title = StringField(_l("Title (optional)"), filters=[clean_text], validators=[Optional(), Length(max=100),
                                                                                  plain_text])


class StepForm(FlaskForm):
    """A state change that needs nothing but the version the page was rendered from (schedule)."""

    version = VersionField()


class OpenForm(FlaskForm):
    """N-3: the photo of the posted sheet on the village board, with the phone's location."""

    version = VersionField()
    photo = FileField(_l("Photo of the notice on the board"))
    gps_lat = HiddenField(filters=[clean_text])
    gps_lng = HiddenField(filters=[clean_text])
    gps_accuracy_m = HiddenField(filters=[clean_text])

    def gps(self) -> tuple[float | None, float | None, float | None]:
        lat = _finite(self.gps_lat.data, -90, 90)
        lng = _finite(self.gps_lng.data, -180, 180)
        acc = _finite(self.gps_accuracy_m.data, 0, 1_000_000)
        if lat is None or lng is None or (lat == 0 and lng == 0):
            return None, None, None
        return lat, lng, acc


class CancelForm(FlaskForm):
    version = VersionField()
    reason = StringField(_l("Why is it cancelled?"), filters=[clean_text], validators=[
        DataRequired(_l("Say why the notice is cancelled.")), Length(max=200), plain_text])


class DeliveryForm(FlaskForm):
    """A private notice letter was handed to the household."""

    version = VersionField()
    note = TextAreaField(_l("Delivery note (to whom, where)"), filters=[clean_text],
                         validators=[Optional(), Length(max=200), plain_text])
