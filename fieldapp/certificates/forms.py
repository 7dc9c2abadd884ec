"""Certificate forms (staff side): input shape only; who may act and which step the status allows are services'."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..core.forms import IdemKeyField, VersionField
from ..households.section_forms import plain_text
from ..visits.forms import clean_text
from . import rules


class StepForm(FlaskForm):
    """A step that needs nothing but the version the page was rendered from (resume, approve, re-confirm)."""

    version = VersionField()


class SuspendForm(FlaskForm):
    version = VersionField()
    category = SelectField(_l("Reason category (the public page shows only this)"),
                           choices=[(code, rules.SUSPENSION_LABELS[code]) for code in rules.MANUAL_CATEGORIES],
                           validators=[DataRequired(_l("Choose the reason for the suspension from the list."))])
    reason = StringField(_l("Details (staff only)"), filters=[clean_text],
                         validators=[Optional(), Length(max=300), plain_text])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.category.choices = [(code, _l(rules.SUSPENSION_LABELS[code])) for code in rules.MANUAL_CATEGORIES]


class RevokeRequestForm(FlaskForm):
    version = VersionField()
    reason = StringField(_l("Why revoke it (fraud, veto found, household dissolved, borrower deceased)"),
                         filters=[clean_text], validators=[
                             DataRequired(_l("Give the reason for revoking the certificate.")), Length(max=300),
                             plain_text])


class ReissueForm(FlaskForm):
    idem_key = IdemKeyField()
    version = VersionField()
    reason = StringField(_l("Why a new card (lost, damaged, line changed)"), filters=[clean_text], validators=[
        DataRequired(_l("Give the reason for the new card (lost, damaged, line changed).")), Length(max=300),
        plain_text])
