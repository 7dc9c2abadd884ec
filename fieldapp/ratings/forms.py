"""Forms of the rating page (override, approval) and of bonus recommendations: input shape only; services decide."""
from __future__ import annotations

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import HiddenField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..core.forms import IdemKeyField, VersionField
from ..households.section_forms import YuanField, plain_text
from . import rules

# Official award titles (seed 000) and recommending bodies: stored as their Chinese names (they are data, printed on
# the household file); the UI shows the English msgid translated.
AWARDS = {"bookkeeper": "算账理财能手", "hard_work": "勤劳致富标兵", "family": "最美家庭"}
AWARD_LABELS = {"bookkeeper": _l("Good household bookkeeper (算账理财能手)"),
                "hard_work": _l("Model of getting rich by hard work (勤劳致富标兵)"),
                "family": _l("Most beautiful family (最美家庭)"), "other": _l("Another award")}
BODIES = {"party_branch": "村党支部", "township_party": "乡镇党委", "village_committee": "村委会"}
BODY_LABELS = {"party_branch": _l("Village party branch (村党支部)"),
               "township_party": _l("Township party committee (乡镇党委)"),
               "village_committee": _l("Village committee (村委会)"), "other": _l("Another body")}
BONUS_KIND_LABELS = {"red_credit_demo": _l("Red-credit model household (红色信贷示范户)"),
                     "party_helper": _l("Party member who helps poor households (党员帮扶)"),
                     "award": _l("Award")}


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class OverrideForm(FlaskForm):
    """Another grade and/or line than the model's, with the reason (services refuse a missing one)."""

    version = VersionField()
    grade = SelectField(_l("New grade"), choices=[], validators=[Optional()])
    line = YuanField(_l("New credit line (yuan)"), required=False)
    reason = TextAreaField(_l("Reason for the change"), validators=[Optional(), Length(max=500), plain_text],
                           filters=[_strip])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.grade.choices = [("", _l("— keep the model's grade —"))] + [
            (code, _l(rules.GRADE_LABELS[code])) for code in rules.GRADES]


class ApproveForm(FlaskForm):
    version = VersionField()
    comment = TextAreaField(_l("Comment (optional)"), validators=[Optional(), Length(max=500), plain_text],
                            filters=[_strip])
    origin = HiddenField()  # "queue" when sent from the approvals list


def _other_needed(choice_field: str, other_field: str):
    def check(form, field):
        if getattr(form, choice_field).data == "other" and not (field.data or "").strip():
            raise ValidationError(_l("Write the name."))
    return check


class BonusForm(FlaskForm):
    """A recommendation for an RT-3 bonus: what, and who recommended it (person and body)."""

    idem_key = IdemKeyField()
    kind = SelectField(_l("Recommended for"), choices=[], validators=[DataRequired()])
    award = SelectField(_l("Award"), choices=[], default="")
    award_other = StringField(_l("Name of the other award"),
                              validators=[_other_needed("award", "award_other"), Length(max=60), plain_text],
                              filters=[_strip])
    recommender_name = StringField(_l("Recommended by (person)"),
                                   validators=[DataRequired(_l("Who recommended it?")), Length(max=40), plain_text],
                                   filters=[_strip])
    body = SelectField(_l("On behalf of"), choices=[], validators=[DataRequired()])
    body_other = StringField(_l("Name of the other body"),
                             validators=[_other_needed("body", "body_other"), Length(max=40), plain_text],
                             filters=[_strip])

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.kind.choices = list(BONUS_KIND_LABELS.items())
        self.award.choices = [("", _l("— not an award —"))] + list(AWARD_LABELS.items())
        self.body.choices = list(BODY_LABELS.items())

    def validate_award(self, field):
        if self.kind.data == "award" and not field.data:
            raise ValidationError(_l("Choose the award."))

    def detail(self) -> str | None:
        if self.kind.data != "award":
            return None
        return self.award_other.data if self.award.data == "other" else AWARDS.get(self.award.data)

    def recommender(self) -> str:
        body = self.body_other.data if self.body.data == "other" else BODIES.get(self.body.data, "")
        return f"{self.recommender_name.data}（{body}）"


class WithdrawBonusForm(FlaskForm):
    reason = StringField(_l("Why is it withdrawn?"),
                         validators=[DataRequired(_l("Say why it is withdrawn.")), Length(max=200), plain_text],
                         filters=[_strip])
